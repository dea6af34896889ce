package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// Timing of the agent's heartbeats.
const (
	leaseRenewInterval  = 3 * time.Second
	leaseDuration       = 40
	nodeStatusInterval  = 10 * time.Second
	agentRegisterWindow = time.Minute
)

// agent is the kubelet stand-in of one node. It runs inside the node's
// namespace: it keeps the Node Ready and its Lease renewed, and for every
// Pod bound to the node it assigns pod IPs, serves HTTP on them (see
// podServer), reports the Pod Running and Ready, and undoes all of it when
// the Pod is deleted. Only the worker goroutine touches pool and running.
type agent struct {
	plan    Plan
	host    Host
	cs      kubernetes.Interface
	log     *slog.Logger
	store   cache.Store
	queue   workqueue.TypedRateLimitingInterface[string]
	pool    *podIPPool
	running map[string]*runningPod
}

// runningPod is what the agent made for one Pod.
type runningPod struct {
	uid   types.UID
	ips   []netip.Addr
	owned bool // the agent added ips to the node (not hostNetwork)
	srv   *podServer
}

// RunAgent is `ironlb lab agent`: the kubelet stand-in for node, run in
// the node's namespace until ctx ends.
func RunAgent(ctx context.Context, dir, node string, log *slog.Logger) error {
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	p, err := s.Plan()
	if err != nil {
		return err
	}
	h, ok := p.Host(node)
	if !ok || h.Role != RoleNode {
		return fmt.Errorf("agent: --node %q: not a node of this lab (node1..node%d)", node, len(p.Nodes))
	}
	cs, err := Clientset(dir)
	if err != nil {
		return err
	}
	a := &agent{
		plan: p, host: h, cs: cs, log: log.With("node", node),
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		pool:    newPodIPPool(p.PodCIDRs(h)),
		running: map[string]*runningPod{},
	}
	defer a.queue.ShutDown()
	if err := a.register(ctx); err != nil {
		return err
	}
	// Addresses left by an earlier agent are dropped; the first sync adds
	// back those of the Pods still bound here.
	if err := a.removePodAddrs(ctx); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + node }))
	inf := factory.Core().V1().Pods().Informer()
	a.store = inf.GetStore()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			a.queue.Add(key)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	go a.heartbeat(ctx)
	a.log.Info("agent running", "podCIDRs", p.PodCIDRs(h))
	go func() {
		<-ctx.Done()
		a.queue.ShutDown()
	}()
	for a.next(ctx) {
	}
	for _, rp := range a.running {
		if rp.srv != nil {
			rp.srv.stop()
		}
	}
	return nil
}

// register creates or re-readies the Node, retrying while the API server
// comes up.
func (a *agent) register(ctx context.Context) error {
	deadline := time.Now().Add(agentRegisterWindow)
	for {
		_, err := ensureNode(ctx, a.cs, a.plan, a.host)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent: %w", err)
		}
		a.log.Warn("registering node; retrying", "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// heartbeat renews the node Lease and re-readies the Node when the node
// lifecycle controller marked it otherwise (then re-checks every Pod, which
// it will have marked not Ready too).
func (a *agent) heartbeat(ctx context.Context) {
	lease := time.NewTicker(leaseRenewInterval)
	defer lease.Stop()
	status := time.NewTicker(nodeStatusInterval)
	defer status.Stop()
	a.renewLease(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
			a.renewLease(ctx)
		case <-status.C:
			wrote, err := ensureNode(ctx, a.cs, a.plan, a.host)
			if err != nil {
				a.log.Warn("node status", "error", err)
				continue
			}
			if wrote {
				a.log.Info("node marked Ready again")
				for _, key := range a.store.ListKeys() {
					a.queue.Add(key)
				}
			}
		}
	}
}

func (a *agent) renewLease(ctx context.Context) {
	leases := a.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, a.host.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.host.Name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(a.host.Name),
				LeaseDurationSeconds: ptr.To[int32](leaseDuration),
				RenewTime:            &now,
			},
		}
		if n, err := a.cs.CoreV1().Nodes().Get(ctx, a.host.Name, metav1.GetOptions{}); err == nil {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
	} else if err == nil {
		l.Spec.RenewTime = &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil && ctx.Err() == nil {
		a.log.Warn("renewing node lease", "error", err)
	}
}

// next handles one queued Pod key; false once the queue shuts down.
func (a *agent) next(ctx context.Context) bool {
	key, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(key)
	if err := a.sync(ctx, key); err != nil {
		a.log.Warn("pod sync; retrying", "pod", key, "error", err)
		a.queue.AddRateLimited(key)
		return true
	}
	a.queue.Forget(key)
	return true
}

// sync brings one Pod to what it should be on this node.
func (a *agent) sync(ctx context.Context, key string) error {
	obj, exists, err := a.store.GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		a.stop(ctx, key)
		return nil
	}
	pod := obj.(*corev1.Pod)
	if rp := a.running[key]; rp != nil && rp.uid != pod.UID {
		a.stop(ctx, key) // same name, new Pod
	}
	if pod.DeletionTimestamp != nil {
		a.stop(ctx, key)
		// As the kubelet does once the containers are gone: the final delete.
		err := a.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("finishing deletion: %w", err)
		}
		return nil
	}
	rp, err := a.start(ctx, key, pod)
	if err != nil {
		return err
	}
	if podStatusCurrent(pod, rp.ips) {
		return nil
	}
	updated := pod.DeepCopy()
	updated.Status = podStatusFor(pod, rp.ips, a.plan.NodeIPs(a.host), time.Now())
	if _, err := a.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // a newer version is on its way through the informer
		}
		return fmt.Errorf("reporting status: %w", err)
	}
	a.log.Info("pod running", "pod", key, "ips", rp.ips)
	return nil
}

// start makes the Pod's addresses and server exist (idempotent).
func (a *agent) start(ctx context.Context, key string, pod *corev1.Pod) (*runningPod, error) {
	if rp := a.running[key]; rp != nil {
		return rp, nil
	}
	rp := &runningPod{uid: pod.UID}
	if pod.Spec.HostNetwork {
		rp.ips = a.plan.NodeIPs(a.host)
		a.running[key] = rp
		return rp, nil
	}
	var recorded []string
	for _, ip := range pod.Status.PodIPs {
		recorded = append(recorded, ip.IP)
	}
	ips, err := a.pool.assign(pod.UID, recorded)
	if err != nil {
		return nil, err
	}
	rp.ips, rp.owned = ips, true
	for _, ip := range ips {
		if err := addPodAddr(ctx, ip); err != nil {
			a.release(ctx, rp)
			return nil, err
		}
	}
	srv, err := startPodServer(key, a.host.Name, ips, podPorts(pod))
	if err != nil {
		a.release(ctx, rp)
		return nil, err
	}
	rp.srv = srv
	a.running[key] = rp
	return rp, nil
}

// stop undoes start for key, if anything runs.
func (a *agent) stop(ctx context.Context, key string) {
	rp := a.running[key]
	if rp == nil {
		return
	}
	delete(a.running, key)
	if rp.srv != nil {
		rp.srv.stop()
	}
	a.release(ctx, rp)
	a.log.Info("pod stopped", "pod", key)
}

func (a *agent) release(ctx context.Context, rp *runningPod) {
	if !rp.owned {
		return
	}
	for _, ip := range rp.ips {
		if err := delPodAddr(ctx, ip); err != nil {
			a.log.Warn("removing pod address", "ip", ip, "error", err)
		}
	}
	a.pool.release(rp.uid)
}

// Pod addresses: IPv4 as /32 on lo; IPv6 as /128 on eth0 (NDP answers only
// for addresses on the receiving interface), preferred_lft 0 so the node
// never picks it as a source address.
func podAddrArgs(ip netip.Addr) []string {
	if ip.Is4() {
		return []string{ip.String() + "/32", "dev", "lo"}
	}
	return []string{ip.String() + "/128", "dev", hostInterface, "nodad", "preferred_lft", "0"}
}

func addPodAddr(ctx context.Context, ip netip.Addr) error {
	_, err := run(ctx, "ip", append([]string{"addr", "replace"}, podAddrArgs(ip)...)...)
	return err
}

func delPodAddr(ctx context.Context, ip netip.Addr) error {
	dev := "lo"
	if ip.Is6() {
		dev = hostInterface
	}
	_, err := run(ctx, "ip", "addr", "del", fmt.Sprintf("%s/%d", ip, ip.BitLen()), "dev", dev)
	return err
}

// removePodAddrs deletes every address inside this node's pod CIDRs.
func (a *agent) removePodAddrs(ctx context.Context) error {
	out, err := run(ctx, "ip", "-j", "addr", "show")
	if err != nil {
		return err
	}
	var links []ipLink
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return fmt.Errorf("agent: parsing `ip -j addr`: %w", err)
	}
	cidrs := []netip.Prefix{a.host.PodCIDRV4, a.host.PodCIDRV6}
	for _, l := range links {
		for _, ai := range l.AddrInfo {
			ip, err := netip.ParseAddr(ai.Local)
			if err != nil {
				continue
			}
			for _, c := range cidrs {
				if c.Contains(ip) {
					if err := delPodAddr(ctx, ip); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// ipLink is the part of `ip -j addr show` the lab reads.
type ipLink struct {
	IfName    string   `json:"ifname"`
	Address   string   `json:"address"`
	OperState string   `json:"operstate"`
	Flags     []string `json:"flags"`
	AddrInfo  []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
	} `json:"addr_info"`
}
