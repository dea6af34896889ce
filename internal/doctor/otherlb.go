package doctor

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// otherLB is a load balancer other than ironlb, recognised by its images,
// its workloads' names and its CRDs.
type otherLB struct {
	name string
	// images are substrings of the container images it runs.
	images []string
	// daemonSetPrefix names the DaemonSets it creates (k3s servicelb:
	// svclb-<service>).
	daemonSetPrefix string
	// crdGroups are its API groups; crds single CRDs of it (Cilium's
	// group has much more than LB-IPAM).
	crdGroups []string
	crds      []string
}

var otherLBs = []otherLB{
	{name: "MetalLB", images: []string{"metallb"}, crdGroups: []string{"metallb.io"}},
	{name: "kube-vip", images: []string{"kube-vip"}},
	{name: "Cilium LB-IPAM", crds: []string{"ciliumloadbalancerippools.cilium.io"}},
	{name: "klipper-lb (k3s servicelb)", images: []string{"klipper-lb"}, daemonSetPrefix: "svclb-"},
	{name: "OpenELB", images: []string{"openelb"}, crdGroups: []string{"network.kubesphere.io"}},
}

const otherLBFix = "run one load balancer for the Services ironlb handles: uninstall %s, or give it and ironlb distinct loadBalancerClasses " +
	"and pools that do not overlap; two load balancers answering ARP or routing the same addresses take traffic from each other"

// imageOf returns the first image of the containers that matches one of
// lb's substrings, "" when none does.
func (lb *otherLB) imageOf(spec *corev1.PodSpec) string {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, ct := range cs {
			for _, s := range lb.images {
				if strings.Contains(strings.ToLower(ct.Image), s) {
					return ct.Image
				}
			}
		}
	}
	return ""
}

// checkOtherLBWorkloads reports Deployments and DaemonSets of another load
// balancer, by their images (and k3s's svclb- DaemonSets by name), running
// or not: scaled to zero it is still installed.
func checkOtherLBWorkloads(c *checker) {
	for _, lb := range otherLBs {
		for i := range c.in.Deployments {
			d := &c.in.Deployments[i]
			if img := lb.imageOf(&d.Spec.Template.Spec); img != "" {
				c.add(Warning, "other-load-balancer", Object{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name},
					fmt.Sprintf("%s is installed: the Deployment runs image %s", lb.name, img), fmt.Sprintf(otherLBFix, lb.name))
			}
		}
		for i := range c.in.DaemonSets {
			d := &c.in.DaemonSets[i]
			img := lb.imageOf(&d.Spec.Template.Spec)
			switch {
			case img != "":
				c.add(Warning, "other-load-balancer", Object{Kind: "DaemonSet", Namespace: d.Namespace, Name: d.Name},
					fmt.Sprintf("%s is installed: the DaemonSet runs image %s", lb.name, img), fmt.Sprintf(otherLBFix, lb.name))
			case lb.daemonSetPrefix != "" && strings.HasPrefix(d.Name, lb.daemonSetPrefix):
				c.add(Warning, "other-load-balancer", Object{Kind: "DaemonSet", Namespace: d.Namespace, Name: d.Name},
					fmt.Sprintf("%s is installed: its DaemonSets are named %s<service>", lb.name, lb.daemonSetPrefix), fmt.Sprintf(otherLBFix, lb.name))
			}
		}
	}
}

// checkOtherLBPods reports Pods of another load balancer that no
// controller owns (static Pods, such as kube-vip's on control-plane
// nodes); owned Pods are reported through their workloads.
func checkOtherLBPods(c *checker) {
	for _, lb := range otherLBs {
		for i := range c.in.Pods {
			p := &c.in.Pods[i]
			if owned(p) {
				continue
			}
			if img := lb.imageOf(&p.Spec); img != "" {
				c.add(Warning, "other-load-balancer", Object{Kind: "Pod", Namespace: p.Namespace, Name: p.Name},
					fmt.Sprintf("%s runs: the Pod runs image %s", lb.name, img), fmt.Sprintf(otherLBFix, lb.name))
			}
		}
	}
}

// owned reports whether a Pod belongs to a controller other than the
// kubelet (a static Pod's mirror is owned by its Node).
func owned(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind != "Node" {
			return true
		}
	}
	return false
}

// checkOtherLBCRDs reports the CRDs of another load balancer that have
// objects (or whose objects were not counted): MetalLB's metallb.io
// configuration, Cilium's CiliumLoadBalancerIPPools, OpenELB's Eips. CRDs
// without objects configure nothing: an info.
func checkOtherLBCRDs(c *checker) {
	for _, lb := range otherLBs {
		for _, crd := range c.in.CRDs {
			mine := false
			for _, g := range lb.crdGroups {
				mine = mine || crd.Group == g
			}
			for _, n := range lb.crds {
				mine = mine || crd.Name == n
			}
			if !mine {
				continue
			}
			obj := Object{Kind: "CustomResourceDefinition", Name: crd.Name}
			switch {
			case crd.Objects > 0:
				c.add(Warning, "other-load-balancer", obj,
					fmt.Sprintf("%s is configured: %d object(s) of %s exist", lb.name, crd.Objects, crd.Name), fmt.Sprintf(otherLBFix, lb.name))
			case crd.Objects < 0:
				c.add(Warning, "other-load-balancer", obj,
					fmt.Sprintf("%s's CRD %s is installed (its objects were not counted)", lb.name, crd.Name), fmt.Sprintf(otherLBFix, lb.name))
			default:
				c.add(Info, "other-load-balancer-crd", obj,
					fmt.Sprintf("%s's CRD %s is installed, without objects", lb.name, crd.Name),
					"delete the CRD if "+lb.name+" is no longer used")
			}
		}
	}
}
