package lab

import (
	"context"
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
type podServer struct {
	srv *http.Server
	lns []net.Listener
}

// startPodServer listens on every ip:port pair (in the caller's network
// namespace) and serves until stop.
func startPodServer(pod, node string, ips []netip.Addr, ports []int32) (*podServer, error) {
	ps := &podServer{}
	for _, ip := range ips {
		for _, port := range ports {
			ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(port)).String())
			if err != nil {
				ps.stop()
				return nil, fmt.Errorf("pod %s: listening on %s port %d: %w", pod, ip, port, err)
			}
			ps.lns = append(ps.lns, ln)
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
	return ps, nil
}

// podHandler answers every request with the pod's identity line.
func podHandler(pod, node string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, port := "", ""
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if ap, err := netip.ParseAddrPort(la.String()); err == nil {
				ip, port = ap.Addr().Unmap().String(), strconv.Itoa(int(ap.Port()))
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintf(w, "pod=%s node=%s ip=%s port=%s client=%s\n", pod, node, ip, port, r.RemoteAddr)
	})
}

// stop closes the listeners and open connections at once.
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
}
