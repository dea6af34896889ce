package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// podServer is a stand-in Pod's workload: one HTTP server answering on
// every pod IP and port, whatever the Pod's image, with a line that names
// the pod, the node and the addresses involved:
//
//	pod=default/nginx-7c5b-x2x9z node=node1 ip=10.244.1.2 port=80 client=10.200.0.2:41234
//
// and, on the same IPs and port numbers over UDP, the same line as one
// datagram in reply to every datagram received (its content is ignored),
// so a Service with UDP ports (DNS on 53/UDP beside 53/TCP, say) reaches
// the pod too. The UDP ports served are the TCP ones: startPodServer is
// given the Pod's TCP containerPorts only (podPorts), so a port declared
// for UDP alone gets no UDP answer.
type podServer struct {
	srv *http.Server
	lns []net.Listener
	pcs []net.PacketConn // the UDP sockets, one per IP and port
}

// startPodServer listens on every ip:port pair, TCP and UDP (in the
// caller's network namespace), and serves until stop.
func startPodServer(pod, node string, ips []netip.Addr, ports []int32) (*podServer, error) {
	ps := &podServer{}
	for _, ip := range ips {
		for _, port := range ports {
			addr := netip.AddrPortFrom(ip, uint16(port)).String()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				ps.stop()
				return nil, fmt.Errorf("pod %s: listening on %s port %d: %w", pod, ip, port, err)
			}
			ps.lns = append(ps.lns, ln)
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				ps.stop()
				return nil, fmt.Errorf("pod %s: listening on %s port %d/UDP: %w", pod, ip, port, err)
			}
			ps.pcs = append(ps.pcs, pc)
		}
	}
	ps.srv = &http.Server{
		Handler:           podHandler(pod, node),
		ReadHeaderTimeout: 5 * time.Second,
	}
	for _, ln := range ps.lns {
		// Serve returns when stop closes the server; nothing to report.
		go func() { _ = ps.srv.Serve(ln) }()
	}
	for _, pc := range ps.pcs {
		go serveUDP(pc, pod, node)
	}
	return ps, nil
}

// podHandler answers every request with the pod's identity line.
func podHandler(pod, node string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, port := "", ""
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			ip, port = splitAddr(la)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintf(w, "pod=%s node=%s ip=%s port=%s client=%s\n", pod, node, ip, port, r.RemoteAddr)
	})
}

// serveUDP answers every datagram on pc with the pod's identity line (as
// podHandler writes it, the sender as client) until pc is closed. A reply
// that cannot be sent is dropped, as UDP would.
func serveUDP(pc net.PacketConn, pod, node string) {
	ip, port := splitAddr(pc.LocalAddr())
	buf := make([]byte, 2048) // the content is ignored; a longer datagram is truncated
	for {
		_, from, err := pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // a transient error of one datagram; the socket still serves
		}
		reply := fmt.Sprintf("pod=%s node=%s ip=%s port=%s client=%s\n", pod, node, ip, port, from)
		_, _ = pc.WriteTo([]byte(reply), from)
	}
}

// splitAddr is a socket address's IP (IPv4-mapped ones unmapped) and port,
// empty when it is no IP address.
func splitAddr(a net.Addr) (ip, port string) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return "", ""
	}
	return ap.Addr().Unmap().String(), strconv.Itoa(int(ap.Port()))
}

// stop closes the listeners, the UDP sockets and open connections at once.
func (ps *podServer) stop() {
	if ps.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = ps.srv.Shutdown(ctx)
		_ = ps.srv.Close()
	}
	for _, ln := range ps.lns {
		_ = ln.Close()
	}
	for _, pc := range ps.pcs {
		_ = pc.Close()
	}
}
