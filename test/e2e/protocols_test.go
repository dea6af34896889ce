//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// l2PoolProtocols is the pool of the mixed TCP and UDP check, in the LAN's
// subnet, clear of the other pools.
var l2PoolProtocols = []string{"10.200.0.192-10.200.0.195", "fd00:200::192-fd00:200::195"}

// dnsPort is the Services' UDP port; the stand-in pods answer UDP on the
// port numbers they serve HTTP on (workloadPort).
const dnsPort = 53

// testMixedProtocols: one dual-stack Service with a TCP and a UDP port,
// and two Services sharing one address per family (ironlb.io/allow-shared-ip),
// one TCP and one UDP — DNS on one IP. Each address is answered over ARP
// and NDP by one MAC, the node every ServiceL2Status of it names, and from
// the client HTTP and a UDP datagram through it both reach a pod, through
// kube-proxy.
func (l *l2Env) testMixedProtocols(t *testing.T) {
	l.createPool(t, "protocols", l2PoolProtocols)
	udp := corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: dnsPort, TargetPort: intstr.FromInt32(workloadPort)}

	// Seen failing with the stand-in answering no UDP (the lab's
	// startPodServer not starting serveUDP): "UDP to 10.200.0.192:53
	// (e2e-l2-<id>/mixed) answered by a pod of e2e-l2-<id>/web: not
	// within 40s: UDP to 10.200.0.192:53 from client: read udp
	// 10.200.0.2:35544->10.200.0.192:53: i/o timeout".
	t.Run("one Service with a TCP and a UDP port", func(t *testing.T) {
		svc := l.createService(t, l.lbService("mixed", "web", "protocols", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, udp)
		}))
		ips := l.waitIngress(t, svc, 2)
		owners := l.waitAnnounced(t, svc, ips, nil)
		l.waitAnswers(t, svc, ips, "web", "")
		l.waitUDPAnswers(t, svc, ips, "web")
		t.Logf("%v announced by %v, answered over TCP port 80 and UDP port %d", ips, owners, dnsPort)
	})

	// Seen failing with the UDP Service's allow-shared-ip annotation left
	// out: "2 EXTERNAL-IPs on e2e-l2-<id>/shared-udp: not within 24s:
	// ingress []".
	t.Run("two Services sharing an address, one TCP and one UDP", func(t *testing.T) {
		want := []netip.Addr{netip.MustParseAddr("10.200.0.194"), netip.MustParseAddr("fd00:200::194")}
		shared := func(s *corev1.Service) {
			s.Annotations[annotationLBIPs] = want[0].String() + "," + want[1].String()
			s.Annotations[annotationAllowSharedIP] = "dns-" + l.id
		}
		tcpSvc := l.createService(t, l.lbService("shared-tcp", "web", "protocols", shared))
		udpSvc := l.createService(t, l.lbService("shared-udp", "web", "protocols", shared, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{udp}
		}))
		for _, svc := range []string{tcpSvc, udpSvc} {
			if got := l.waitIngress(t, svc, 2); !slices.Equal(got, want) {
				t.Fatalf("%s: EXTERNAL-IPs %v, want the shared %v", svc, got, want)
			}
		}
		tcpOwners := l.waitAnnounced(t, tcpSvc, want, nil)
		udpOwners := l.waitAnnounced(t, udpSvc, want, nil)
		if !maps.Equal(tcpOwners, udpOwners) {
			t.Errorf("the shared addresses are answered by %v for %s, %v for %s: want one node per address", tcpOwners, tcpSvc, udpOwners, udpSvc)
		}
		l.waitAnswers(t, tcpSvc, want, "web", "")
		l.waitUDPAnswers(t, udpSvc, want, "web")
		t.Logf("%s (TCP 80) and %s (UDP %d) share %v, announced by %v, both answered", tcpSvc, udpSvc, dnsPort, want, tcpOwners)
	})
}

// waitUDPAnswers waits until a UDP datagram from the client to every
// address, port dnsPort, is answered by a pod of app.
func (l *l2Env) waitUDPAnswers(t *testing.T, svc string, ips []netip.Addr, app string) {
	t.Helper()
	for _, ip := range ips {
		to := netip.AddrPortFrom(ip, dnsPort)
		// Expected: kube-proxy programs the UDP port within a few seconds
		// of the allocation; the announcement is already there.
		eventually(t, testkit.Budget(5*time.Second), fmt.Sprintf("UDP to %s (%s/%s) answered by a pod of %s/%s", to, l.ns, svc, l.ns, app), func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			reply, err := udpAskFrom(ctx, "client", to)
			if err != nil {
				return err
			}
			if pod := field(reply, "pod"); !strings.HasPrefix(pod, l.ns+"/"+app+"-") {
				return fmt.Errorf("reply %q is not from a pod of %s/%s", strings.TrimSpace(reply), l.ns, app)
			}
			if port := field(reply, "port"); port != fmt.Sprint(workloadPort) {
				return fmt.Errorf("reply %q: served on port %s, want %d", strings.TrimSpace(reply), port, workloadPort)
			}
			return nil
		})
	}
}

// udpAskFrom sends one datagram to addr from a socket opened inside the
// namespace of host, as a process on that host would, and returns the
// first datagram answered, waiting until ctx ends.
func udpAskFrom(ctx context.Context, host string, addr netip.AddrPort) (string, error) {
	var c net.Conn
	err := netnstest.Enter(filepath.Join("/run/netns", e2e.prefix+host), func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "udp", addr.String())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("opening a UDP socket to %s in %s: %w", addr, host, err)
	}
	defer func() { _ = c.Close() }()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	if _, err := c.Write([]byte("ironlb e2e\n")); err != nil {
		return "", fmt.Errorf("UDP to %s from %s: %w", addr, host, err)
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("UDP to %s from %s: %w", addr, host, err)
	}
	return string(buf[:n]), nil
}
