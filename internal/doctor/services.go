package doctor

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/speaker"
)

// checkServices reports the LoadBalancer Services ironlb handles that have
// no address (ironlb.io/IPAllocated False: an error with its message; no
// address and no condition at all: the controller has not seen them) or
// whose address nobody announces (ironlb.io/Announced False), and, as an
// info, those of another loadBalancerClass, which ironlb leaves alone.
func checkServices(c *checker) {
	for i := range c.in.Services {
		s := &c.in.Services[i]
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		obj := Object{Kind: "Service", Namespace: s.Namespace, Name: s.Name}
		if !handled(s, c.in.LoadBalancerClass) {
			class := "no loadBalancerClass"
			if s.Spec.LoadBalancerClass != nil {
				class = "loadBalancerClass " + *s.Spec.LoadBalancerClass
			}
			mine := "Services without a class"
			if c.in.LoadBalancerClass != "" {
				mine = "class " + c.in.LoadBalancerClass
			}
			c.add(Info, "service-other-class", obj,
				fmt.Sprintf("the Service has %s; ironlb handles %s and leaves it to another load balancer", class, mine), "")
			continue
		}
		alloc := apimeta.FindStatusCondition(s.Status.Conditions, controller.ConditionIPAllocated)
		switch {
		case alloc != nil && alloc.Status == metav1.ConditionFalse:
			c.add(Error, "service-no-address", obj,
				fmt.Sprintf("the Service has no address: %s (%s %s)", alloc.Message, controller.ConditionIPAllocated, alloc.Reason),
				"make a pool fit the Service (free addresses of its family, its requested address, its pool annotation, the pool's serviceAllocation); `kubectl describe service` shows the Events")
		case alloc == nil && len(s.Status.LoadBalancer.Ingress) == 0:
			c.add(Warning, "service-no-address", obj,
				"the Service has no address and no "+controller.ConditionIPAllocated+" condition: the ironlb controller has not handled it",
				"check that the ironlb controller runs (kubectl -n ironlb-system get pods) and read its log")
		}
		if ann := apimeta.FindStatusCondition(s.Status.Conditions, speaker.ConditionAnnounced); ann != nil && ann.Status == metav1.ConditionFalse {
			c.add(Error, "service-not-announced", obj,
				fmt.Sprintf("the Service's address is not announced: %s", ann.Message),
				"make some node eligible to announce it (see the reasons: subnets, nodeSelectors, speakers running, endpoints for externalTrafficPolicy: Local)")
		}
	}
}

// handled reports whether ironlb handles a LoadBalancer Service: its class
// is class (empty: the Service has none), as the controller and the
// speaker decide.
func handled(s *corev1.Service, class string) bool {
	if class == "" {
		return s.Spec.LoadBalancerClass == nil
	}
	return s.Spec.LoadBalancerClass != nil && *s.Spec.LoadBalancerClass == class
}
