package doctor

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ironlb/ironlb/internal/config"
)

// checkPoolOverlaps reports pools holding a node's address (InternalIP,
// ExternalIP) or overlapping a node's Pod CIDRs: the controller would hand
// out an address the network already uses. (Overlaps between pools are
// config.Build's, reported by checkConfig.)
func checkPoolOverlaps(c *checker) {
	snap := c.res.Snapshot
	for i := range c.in.Nodes {
		n := &c.in.Nodes[i]
		for _, a := range n.Status.Addresses {
			if a.Type != "InternalIP" && a.Type != "ExternalIP" {
				continue
			}
			ip, err := netip.ParseAddr(a.Address)
			if err != nil {
				continue
			}
			if p, ok := snap.PoolFor(ip.Unmap()); ok {
				c.add(Error, "pool-overlaps-node-address", c.poolObject(p),
					fmt.Sprintf("pool %q holds %s, the %s of node %s: the controller may give it to a Service and take over the node's traffic", p.Name, ip, a.Type, n.Name),
					"remove "+ip.String()+" from the pool's addresses (split the range around it)")
			}
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, s := range cidrs {
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				continue
			}
			for _, p := range poolsOverlapping(snap, pfx) {
				c.add(Error, "pool-overlaps-pod-cidr", c.poolObject(p),
					fmt.Sprintf("pool %q overlaps %s, the Pod CIDR of node %s: Services would get addresses of Pods", p.Name, pfx, n.Name),
					"move the pool out of the cluster's Pod network")
			}
		}
	}
}

// checkServiceCIDR reports pools overlapping a Service CIDR of the
// cluster, as the ServiceCIDR objects (networking.k8s.io/v1) give it.
// Without them the range (kube-apiserver --service-cluster-ip-range) is
// unknown: an info when there are pools.
func checkServiceCIDR(c *checker) {
	snap := c.res.Snapshot
	if len(c.in.ServiceCIDRs) == 0 {
		if len(snap.Pools) > 0 {
			c.add(Info, "service-cidr-unknown", Object{Kind: "ServiceCIDR"},
				"no ServiceCIDR objects (networking.k8s.io/v1, Kubernetes 1.33 and later) were found, so the cluster's Service CIDR (kube-apiserver --service-cluster-ip-range) is unknown and the pools were not checked against it",
				"make sure no pool overlaps the range of kube-apiserver's --service-cluster-ip-range")
		}
		return
	}
	for _, sc := range c.in.ServiceCIDRs {
		for _, s := range sc.Spec.CIDRs {
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				continue
			}
			for _, p := range poolsOverlapping(snap, pfx) {
				c.add(Error, "pool-overlaps-service-cidr", c.poolObject(p),
					fmt.Sprintf("pool %q overlaps %s, a Service CIDR of the cluster (ServiceCIDR %s): a load-balancer address could be a ClusterIP too", p.Name, pfx, sc.Name),
					"move the pool out of the Service CIDR")
			}
		}
	}
}

// poolsOverlapping returns the pools with an address in pfx.
func poolsOverlapping(snap *config.Snapshot, pfx netip.Prefix) []*config.Pool {
	r := config.PrefixRange(pfx.Masked())
	var out []*config.Pool
	for i := range snap.Pools {
		for _, pr := range snap.Pools[i].Ranges {
			if pr.Overlaps(r) {
				out = append(out, &snap.Pools[i])
				break
			}
		}
	}
	return out
}

// poolObject names a pool: the IPAddressPool, or the legacy ConfigMap
// entry it came from.
func (c *checker) poolObject(p *config.Pool) Object {
	if p.Origin.Legacy {
		if l := c.in.Config.Legacy; l != nil {
			return Object{Kind: config.KindConfigMap, Namespace: l.Namespace, Name: l.Name}
		}
		return Object{Kind: config.KindConfigMap, Name: strings.TrimPrefix(p.Origin.Source, "ConfigMap ")}
	}
	return Object{Kind: config.KindIPAddressPool, Namespace: c.namespace(), Name: p.Name}
}
