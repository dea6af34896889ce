package lab

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// startEgress serves an egressProxy on a socket in a temporary directory,
// dialing on the test's own loopback.
func startEgress(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ln, err := listenEgress(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	go func() {
		defer close(done)
		(&egressProxy{ln: ln, dial: dial, log: slog.New(slog.DiscardHandler)}).serve(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return egressSocket(dir)
}

// connect sends one request line on a new connection to the proxy and
// returns the connection, its reader and the response's status code.
func connect(t *testing.T, sock, method, target string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	// A 2xx answer to CONNECT has no body: the tunnel follows.
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		_ = resp.Body.Close() // the proxy closes the connection after an error
	}
	return c, br, resp.StatusCode
}

func TestEgressProxy(t *testing.T) {
	sock := startEgress(t)
	// A target that answers each line with the line upper-cased.
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = target.Close() }()
	go func() {
		c, err := target.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		line, _ := bufio.NewReader(c).ReadString('\n')
		_, _ = io.WriteString(c, strings.ToUpper(line))
	}()

	c, br, code := connect(t, sock, http.MethodConnect, target.Addr().String())
	if code != http.StatusOK {
		t.Fatalf("CONNECT %s: %d", target.Addr(), code)
	}
	if _, err := io.WriteString(c, "through the proxy\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := br.ReadString('\n'); got != "THROUGH THE PROXY\n" {
		t.Errorf("through the tunnel: %q, %v", got, err)
	}

	// Nothing listens on a closed listener's port: 502.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	_ = closed.Close()
	if _, _, code := connect(t, sock, http.MethodConnect, addr); code != http.StatusBadGateway {
		t.Errorf("CONNECT to a closed port: %d, want 502", code)
	}
	if _, _, code := connect(t, sock, http.MethodGet, "/"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", code)
	}
}

func TestEgressConfig(t *testing.T) {
	dir := "/var/lib/ironlb-lab"
	got := string(egressConfig(dir))
	for _, want := range []string{"kind: EgressSelectorConfiguration", "- name: cluster", "proxyProtocol: HTTPConnect",
		"udsName: " + filepath.Join(dir, "egress.sock")} {
		if !strings.Contains(got, want) {
			t.Errorf("egress configuration lacks %q:\n%s", want, got)
		}
	}
}

func TestPublishAPIEndpoint(t *testing.T) {
	for _, tc := range []struct {
		family IPFamily
		want   string
		typ    discoveryv1.AddressType
	}{
		{DualStack, "10.200.0.1", discoveryv1.AddressTypeIPv4},
		{IPv6Only, "fd00:200::1", discoveryv1.AddressTypeIPv6},
	} {
		p, err := NewPlan("ironlb-", 2, tc.family)
		if err != nil {
			t.Fatal(err)
		}
		s := &State{Ports: Ports{APIServer: 41234}}
		cs := fake.NewClientset()
		ctx := context.Background()
		for range 2 { // again: idempotent
			if err := publishAPIEndpoint(ctx, cs, s, p); err != nil {
				t.Fatal(err)
			}
		}
		slice, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if slice.AddressType != tc.typ || len(slice.Endpoints) != 1 || slice.Endpoints[0].Addresses[0] != tc.want ||
			*slice.Ports[0].Port != 41234 || slice.Labels[discoveryv1.LabelServiceName] != "kubernetes" {
			t.Errorf("%s: EndpointSlice %+v, want %s:41234", tc.family, slice, tc.want)
		}
	}
}
