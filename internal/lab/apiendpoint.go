package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// The API server runs on the root namespace's loopback, outside the lab's
// network. Two ways connect it with the network, both through the
// supervisor and both on the router host, which stands for the machine
// the control plane runs on (it is on the LAN and never failed by `lab
// node fail`):
//
//   - in: a forwarder listens on the router's LAN addresses at the API
//     server's port, and the `kubernetes` Service's endpoint is that
//     address, so Pods reach the API server through the Service as in a
//     cluster (kube-proxy DNATs 10.96.0.1:443 to it);
//   - out: the API server's "cluster" egress (kubelets for logs, exec and
//     port-forward; Pods and Services it proxies to) goes through an HTTP
//     CONNECT proxy on a Unix socket in the lab directory, which dials
//     from the router's namespace.

// Kubernetes' own names for the API server's Service and its endpoints.
const (
	kubernetesService = "kubernetes"
	// apiEndpointsManager marks the lab's EndpointSlice, so the
	// EndpointSlice controllers leave it alone.
	apiEndpointsManager = "ironlb-lab"
)

// apiEndpoint is the kubernetes Service's endpoint: the router's LAN
// address in the cluster's primary family, at the API server's port.
func apiEndpoint(s *State, p Plan) netip.AddrPort {
	a := p.Router.IPv4
	if !p.IPFamily.HasV4() {
		a = p.Router.IPv6
	}
	return netip.AddrPortFrom(a, uint16(s.Ports.APIServer))
}

// publishAPIEndpoint writes the kubernetes Service's EndpointSlice, which
// the API server's endpoint reconciler would (the lab runs it with
// --endpoint-reconciler-type=none: its own address is loopback, which it
// may not publish). kube-proxy reads only EndpointSlices; the deprecated
// Endpoints object is not written.
func publishAPIEndpoint(ctx context.Context, cs kubernetes.Interface, s *State, p Plan) error {
	ep := apiEndpoint(s, p)
	addr, port := ep.Addr().String(), int32(ep.Port())
	family := discoveryv1.AddressTypeIPv4
	if ep.Addr().Is6() {
		family = discoveryv1.AddressTypeIPv6
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: kubernetesService, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: kubernetesService,
				discoveryv1.LabelManagedBy: apiEndpointsManager}},
		AddressType: family,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: &port, Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, slice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the kubernetes EndpointSlice: %w", err)
	}
	return nil
}

// serveAPIEndpoint opens the forwarders from the router's LAN addresses
// (both families: the LAN is always dual-stack) to the API server.
func serveAPIEndpoint(ctx context.Context, s *State, p Plan, log *slog.Logger) error {
	target := "127.0.0.1:" + strconv.Itoa(s.Ports.APIServer)
	ns := p.Namespace(p.Router.Name)
	for _, a := range []netip.Addr{p.Router.IPv4, p.Router.IPv6} {
		addr := netip.AddrPortFrom(a, uint16(s.Ports.APIServer)).String()
		ln, err := listenIn(ns, addr)
		if err != nil {
			return fmt.Errorf("API endpoint %s: %w", addr, err)
		}
		go (&forwarder{ln: ln, target: target, log: log.With("forward", "api-endpoint", "listen", addr)}).serve(ctx)
	}
	return nil
}

// egressSocket is the Unix socket of the API server's egress proxy; the
// path must fit a sockaddr_un (108 bytes), as the lab directory's other
// sockets do.
func egressSocket(dir string) string { return filepath.Join(dir, egressSocketFile) }

// egressConfigPath is the API server's EgressSelectorConfiguration.
func egressConfigPath(dir string) string { return filepath.Join(dir, egressConfigFile) }

// The lab directory's entries for the egress proxy.
const (
	egressConfigFile = "egress-selector.yaml"
	egressSocketFile = "egress.sock"
)

// egressConfig sends the API server's "cluster" traffic (kubelets, Pods,
// Services) through the lab's HTTP CONNECT proxy; control-plane and etcd
// traffic stays direct, on loopback.
func egressConfig(dir string) []byte {
	return fmt.Appendf(nil, `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, egressSocket(dir))
}

// egressArgs are the API server's flags for reaching the kubelets: the
// egress proxy, the nodes' InternalIPs (the lab has no DNS for their
// names) and the admin certificate as its client identity, which the
// kubelets' x509 authentication (the lab's CA) accepts and their webhook
// authorization allows (system:masters).
func egressArgs(s *State, k pki) []string {
	return []string{
		"--egress-selector-config-file=" + egressConfigPath(s.Dir),
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-client-certificate=" + k.adminCert(), "--kubelet-client-key=" + k.adminKey(),
	}
}

// egressProxy serves HTTP CONNECT on a Unix socket, dialing each target
// with dial (from inside the lab's network).
type egressProxy struct {
	ln   net.Listener
	dial func(ctx context.Context, addr string) (net.Conn, error)
	log  *slog.Logger
}

// listenEgress opens the egress proxy's socket, replacing one a former
// supervisor left.
func listenEgress(dir string) (net.Listener, error) {
	path := egressSocket(dir)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return net.Listen("unix", path)
}

func (e *egressProxy) serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		_ = e.ln.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("egress proxy stopped", "error", err)
			}
			return
		}
		wg.Go(func() { e.handle(ctx, c) })
	}
}

// handle answers one CONNECT: 200 and then the bytes both ways, or 502
// when the target does not answer, 405 for anything but CONNECT.
func (e *egressProxy) handle(ctx context.Context, c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		e.log.Debug("egress proxy: reading the request", "error", err)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect {
		_, _ = fmt.Fprintf(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	up, err := e.dial(dctx, req.Host)
	cancel()
	if err != nil {
		e.log.Debug("egress proxy: dialing", "target", req.Host, "error", err)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	if _, err := fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = up.Close()
		return
	}
	// Bytes the client sent after its request are in br, not in c.
	splice(ctx, &bufferedConn{Conn: c, r: br}, up, e.log)
}

// bufferedConn reads through r, which holds what was read ahead of the
// connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// CloseWrite half-closes the connection underneath, so splice can pass
// the target's end of stream on.
func (b *bufferedConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// serveEgress opens the egress proxy, dialing from the router's namespace.
func serveEgress(ctx context.Context, s *State, p Plan, log *slog.Logger) error {
	ln, err := listenEgress(s.Dir)
	if err != nil {
		return fmt.Errorf("egress proxy: %w", err)
	}
	ns := p.Namespace(p.Router.Name)
	dial := func(ctx context.Context, addr string) (net.Conn, error) { return DialIn(ctx, ns, addr) }
	go (&egressProxy{ln: ln, dial: dial, log: log.With("proxy", "egress")}).serve(ctx)
	return nil
}
