package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// kubeProxyHealthzPort is kube-proxy's health port on each node's address.
const kubeProxyHealthzPort = 10256

// kubeProxyProc is the pinned kube-proxy in nftables mode inside a node's
// namespace (IPVS is not available on the lab's kernels). Forwarding is
// enabled by createNetwork; --conntrack-max-per-core=0 keeps kube-proxy from
// writing nf_conntrack_max, which a namespace may not set. kube-proxy exits
// when its Node's addresses change, so it is supervised.
func kubeProxyProc(s *State, p Plan, h Host) *Proc {
	return &Proc{
		Name: "kube-proxy/" + h.Name, Host: h.Name, Order: 70, Supervised: true,
		Args: []string{
			s.bin("kube-proxy"), "--kubeconfig=" + s.Kubeconfig(),
			"--hostname-override=" + h.Name, "--proxy-mode=nftables",
			"--healthz-bind-address=" + kubeProxyHealthz(p, h),
			"--metrics-bind-address=127.0.0.1:10249",
			"--conntrack-max-per-core=0",
			"--cluster-cidr=" + joinPrefixes(p.ClusterCIDRs()),
		},
	}
}

// RunsKubeProxy reports whether node h runs kube-proxy: every node, or
// the first KubeProxyNodes of the plan.
func (s *State) RunsKubeProxy(p Plan, h Host) bool {
	if s.KubeProxyNodes == 0 {
		return true
	}
	for i, n := range p.Nodes {
		if n.Name == h.Name {
			return i < s.KubeProxyNodes
		}
	}
	return false
}

// kubeProxyHealthz is host:port of a node's kube-proxy health endpoint, on
// the node's primary cluster address.
func kubeProxyHealthz(p Plan, h Host) string {
	return netip.AddrPortFrom(p.NodeIPs(h)[0], kubeProxyHealthzPort).String()
}

// kubeProxyHealthy asks a node's kube-proxy for /healthz from inside the
// node's namespace; 200 means its rules are programmed and fresh.
func kubeProxyHealthy(ctx context.Context, p Plan, h Host) error {
	addr := kubeProxyHealthz(p, h)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return DialIn(ctx, p.Namespace(h.Name), addr)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("kube-proxy on %s: /healthz %s: %s", h.Name, strconv.Itoa(resp.StatusCode), body)
	}
	return nil
}
