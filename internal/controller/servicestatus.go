package controller

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/ipam"
)

// What the controller writes on a Service it manages.
const (
	// AnnotationAllocatedFromPool names the pool the Service's addresses
	// come from.
	AnnotationAllocatedFromPool = "ironlb.io/ip-allocated-from-pool"
	// ConditionIPAllocated is the Service status condition: True (reason
	// ReasonIPAllocated) when the Service holds its addresses, False
	// (reason ReasonAllocationFailed, the message says why) when not.
	ConditionIPAllocated = "ironlb.io/IPAllocated"
)

// Event and condition reasons on Services.
const (
	// ReasonIPAllocated: the Service got addresses (Event, condition).
	ReasonIPAllocated = "IPAllocated"
	// ReasonAllocationFailed: the Service could not get addresses; the
	// message says why (Event, condition).
	ReasonAllocationFailed = "AllocationFailed"
	// ReasonIPChanged: the Service's addresses changed, because its own
	// request changed or, as a Warning, because a pool edit took its
	// address away (Event).
	ReasonIPChanged = "IPChanged"
	// ReasonIPReleased: the Service stopped being managed by this
	// controller and its addresses were freed (Event).
	ReasonIPReleased = "IPReleased"
)

// Event actions (events.k8s.io/v1 action field).
const (
	actionAllocate = "Allocate"
	actionRelease  = "Release"
	actionValidate = "Validate"
)

// serviceInput turns a Service into the allocator's input. nsLabels are
// the labels of its namespace. The error is an *ipam.InvalidRequestError
// when the Service's annotations or spec.loadBalancerIP are malformed.
func serviceInput(svc *corev1.Service, nsLabels map[string]string) (ipam.Service, error) {
	req, err := ipam.ParseServiceRequest(svc.Annotations, svc.Spec.LoadBalancerIP)
	if err != nil {
		return ipam.Service{}, err
	}
	in := ipam.Service{
		Key:             svc.Namespace + "/" + svc.Name,
		Namespace:       svc.Namespace,
		Labels:          svc.Labels,
		NamespaceLabels: nsLabels,
		Request:         req,
		TrafficPolicy:   ipam.TrafficPolicy(svc.Spec.ExternalTrafficPolicy),
		Selector:        svc.Spec.Selector,
	}
	if p := svc.Spec.IPFamilyPolicy; p != nil {
		in.FamilyPolicy = ipam.FamilyPolicy(*p)
	}
	for _, f := range svc.Spec.IPFamilies {
		in.Families = append(in.Families, ipam.Family(f))
	}
	for _, p := range svc.Spec.Ports {
		in.Ports = append(in.Ports, ipam.Port{Protocol: string(p.Protocol), Port: p.Port})
	}
	return in, nil
}

// ingressIPs returns the addresses in the Service's status, skipping
// entries that are no address (hostnames).
func ingressIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// withResult returns a copy of svc carrying the outcome of its allocation:
// status.loadBalancer.ingress (one entry per address, ipMode VIP), the
// ConditionIPAllocated condition and AnnotationAllocatedFromPool. On
// failure the Service holds nothing, so ingress and annotation go — except
// after an ipam.IncompleteError, where it keeps the addresses it holds and
// the condition is False all the same.
func withResult(svc *corev1.Service, res allocResult) *corev1.Service {
	out := svc.DeepCopy()
	cond := metav1.Condition{Type: ConditionIPAllocated, ObservedGeneration: svc.Generation}
	if res.Err != nil {
		out.Status.LoadBalancer.Ingress = nil
		delete(out.Annotations, AnnotationAllocatedFromPool)
		if ie := (*ipam.IncompleteError)(nil); errors.As(res.Err, &ie) {
			setIngress(out, res.Allocation)
		}
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonAllocationFailed, res.Err.Error()
	} else {
		setIngress(out, res.Allocation)
		cond.Status, cond.Reason = metav1.ConditionTrue, ReasonIPAllocated
		cond.Message = assignedMessage(res.Allocation)
	}
	meta.SetStatusCondition(&out.Status.Conditions, cond)
	return out
}

// setIngress writes a's addresses (one ingress entry each, ipMode VIP) and
// pool (AnnotationAllocatedFromPool) on svc.
func setIngress(svc *corev1.Service, a ipam.Allocation) {
	vip := corev1.LoadBalancerIPModeVIP
	ingress := make([]corev1.LoadBalancerIngress, len(a.IPs))
	for i, ip := range a.IPs {
		ingress[i] = corev1.LoadBalancerIngress{IP: ip.String(), IPMode: &vip}
	}
	svc.Status.LoadBalancer.Ingress = ingress
	if svc.Annotations == nil {
		svc.Annotations = map[string]string{}
	}
	svc.Annotations[AnnotationAllocatedFromPool] = a.Pool
}

// withoutResult returns a copy of svc without what the controller wrote:
// the annotation and condition, and the ingress when the Service is no
// longer a LoadBalancer (the API server clears it too).
func withoutResult(svc *corev1.Service) *corev1.Service {
	out := svc.DeepCopy()
	delete(out.Annotations, AnnotationAllocatedFromPool)
	meta.RemoveStatusCondition(&out.Status.Conditions, ConditionIPAllocated)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		out.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
	return out
}

// k8sEvent is one Event to record about an object.
type k8sEvent struct {
	Type, Reason, Action, Note string
}

// allocationEvents returns the Events worth recording when a Service goes
// from old to updated because of res: only changes are reported, so a
// resync that finds everything as it was records nothing.
func allocationEvents(old, updated *corev1.Service, res allocResult) []k8sEvent {
	if res.Err != nil {
		c := meta.FindStatusCondition(old.Status.Conditions, ConditionIPAllocated)
		if c != nil && c.Status == metav1.ConditionFalse && c.Reason == ReasonAllocationFailed && c.Message == res.Err.Error() {
			return nil
		}
		return []k8sEvent{{corev1.EventTypeWarning, ReasonAllocationFailed, actionAllocate, res.Err.Error()}}
	}
	before, after := ingressIPs(old), ingressIPs(updated)
	switch {
	case slices.Equal(before, after):
		return nil
	case len(before) == 0:
		return []k8sEvent{{corev1.EventTypeNormal, ReasonIPAllocated, actionAllocate, assignedMessage(res.Allocation)}}
	case res.Lost != "":
		return []k8sEvent{{corev1.EventTypeWarning, ReasonIPChanged, actionAllocate,
			fmt.Sprintf("Changed IP from %s to %s (pool %s): %s", addrList(before), addrList(after), res.Allocation.Pool, res.Lost)}}
	default:
		return []k8sEvent{{corev1.EventTypeNormal, ReasonIPChanged, actionAllocate,
			fmt.Sprintf("Changed IP from %s to %s (pool %s) as the Service's request changed", addrList(before), addrList(after), res.Allocation.Pool)}}
	}
}

// assignedMessage is the condition message and IPAllocated Event note.
func assignedMessage(a ipam.Allocation) string {
	word := "IP"
	if len(a.IPs) > 1 {
		word = "IPs"
	}
	return fmt.Sprintf("Assigned %s %s from pool %s", word, addrList(a.IPs), a.Pool)
}

// addrList renders addresses as "10.0.0.1, fd00::1".
func addrList(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}
