package speaker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// sync gathers the inputs from the cache, decides, and applies the result:
// the layer 2 responders, then the BGP sessions and routes, at once; the
// ServiceL2Statuses, ServiceBGPStatuses and the ConditionAnnounced of the
// Services this node reports on their own goroutines.
func (s *Speaker) sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil
	}
	if s.configDirty.Swap(false) || s.snapshot == nil {
		cm, _ := s.opts.configMapName()
		built, err := buildConfig(ctx, s.cache, s.opts.Namespace, cm)
		if err != nil {
			s.configDirty.Store(true)
			return err
		}
		if built.recordErr != nil && built.recordErr.Error() != s.recordErr {
			// The controller reports it with an Event and replaces it.
			s.log.Warn("the accepted configuration record cannot be read; building without it", "error", built.recordErr)
		}
		s.recordErr = ""
		if built.recordErr != nil {
			s.recordErr = built.recordErr.Error()
		}
		s.snapshot = built.snapshot
		s.configMetrics.Observe(built.generation, built.snapshot)
	}

	noCopy := client.UnsafeDisableDeepCopy // read-only below
	var nodes corev1.NodeList
	if err := s.cache.List(ctx, &nodes, noCopy); err != nil {
		return fmt.Errorf("listing Nodes: %w", err)
	}
	var svcs corev1.ServiceList
	if err := s.cache.List(ctx, &svcs, noCopy); err != nil {
		return fmt.Errorf("listing Services: %w", err)
	}
	var eps discoveryv1.EndpointSliceList
	if err := s.cache.List(ctx, &eps, noCopy); err != nil {
		return fmt.Errorf("listing EndpointSlices: %w", err)
	}

	in := decide.Input{Config: s.snapshot, Self: s.opts.NodeName}
	var ready []string
	for i := range nodes.Items {
		n := &nodes.Items[i]
		d, err := toNode(n)
		if err != nil {
			s.log.Debug("ignoring a Node's subnets annotation", "node", n.Name, "error", err)
		}
		in.Nodes = append(in.Nodes, d)
		if nodeCondition(n, corev1.NodeReady) == corev1.ConditionTrue {
			ready = append(ready, n.Name)
		}
	}
	if s.fallback != nil {
		s.fallback.Set(ready)
	}
	in.Members = s.members.Members()
	s.memberN.Store(int64(len(in.Members)))
	via := ViaMemberlist
	if s.fallback != nil {
		via = ViaNodeReady
	}
	s.membersView.setTarget(MembersView{Via: via, Members: in.Members})
	kick(s.membersTrigger)
	var byKey map[string]*corev1.Service
	in.Services, byKey = toServices(svcs.Items, s.opts.LoadBalancerClass, readyEndpointNodes(eps.Items))

	res := decide.Decide(&in)
	pending := s.fenceAddresses(&res, byKey)
	s.conflicts.setServices(res, byKey) // before a new address can conflict
	err := s.responders.apply(ctx, res.ByInterface())
	s.announcedMetrics.setLayer2(res)
	s.logChanges(res)
	s.status.setTarget(statusTargetOf(res, byKey, in.Members))
	kick(s.statusTrigger)
	at := announcedTargetOf(s.opts.NodeName, svcs.Items, &in, res, byKey, pending)
	s.notAnnounced.Store(int64(at.notAnnounced))
	s.announced.setTarget(at)
	kick(s.announcedTrigger)
	bgpErr := s.syncBGP(ctx, nodes.Items, in.Services, byKey)
	s.synced.Store(true)
	return errors.Join(err, bgpErr)
}

// statusTargetOf turns the decision into the ServiceL2Statuses to keep.
func statusTargetOf(res decide.Result, byKey map[string]*corev1.Service, members []string) *statusTarget {
	t := &statusTarget{services: map[string]wantStatus{}, members: map[string]bool{}}
	for _, m := range members {
		t.members[m] = true
	}
	for key, a := range res.Services() {
		svc := byKey[key]
		if svc == nil {
			continue
		}
		t.services[key] = wantStatus{
			namespace: svc.Namespace, name: svc.Name, uid: svc.UID,
			ips: a.IPs, details: a.Interfaces,
		}
	}
	return t
}

// logChanges logs the addresses this node starts and stops answering
// for, and why an address has no node, each once per change.
func (s *Speaker) logChanges(res decide.Result) {
	answering := map[string][]string{}
	reasons := map[string]string{}
	winners := map[string]string{}
	for _, ip := range res.IPs {
		a := ip.Addr.String()
		winners[a] = ip.Node
		switch ip.Node {
		case s.opts.NodeName:
			answering[a] = ip.Interfaces
			if prev, ok := s.answering[a]; !ok || !slices.Equal(prev, ip.Interfaces) {
				s.log.Info("answering ARP/NDP for an address", "ip", a, "interfaces", ip.Interfaces, "services", ip.Services)
			}
		case "":
			reasons[a] = ip.Reason
			if s.reasons[a] != ip.Reason {
				s.log.Info("no node announces an address", "ip", a, "services", ip.Services, "pool", ip.Pool, "reason", ip.Reason)
			}
		}
	}
	for a := range s.answering {
		if _, ok := answering[a]; !ok {
			s.log.Info("stopped answering for an address", "ip", a, "nowAnsweredBy", winners[a])
		}
	}
	s.answering, s.reasons = answering, reasons
}
