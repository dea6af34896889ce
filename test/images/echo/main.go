// Command echo is the lab's test server image (ironlb-lab-echo): it
// answers every HTTP request on -listen with one line naming the Pod and
// node (from the Downward API variables POD_NAMESPACE, POD_NAME and
// NODE_NAME), the address and port it was reached on, and the client —
// the same line the kubelet stand-in's built-in servers answer with, so a
// test reads both alike:
//
//	pod=<ns>/<name> node=<node> ip=<local ip> port=<local port> client=<remote ip:port>
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve HTTP on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(answer), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "address", *listen)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		slog.Error("serving", "error", err)
		os.Exit(1)
	}
}

func answer(w http.ResponseWriter, r *http.Request) {
	ip, port := "", ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		ip, port, _ = net.SplitHostPort(a.String())
	}
	_, _ = fmt.Fprintf(w, "pod=%s/%s node=%s ip=%s port=%s client=%s\n",
		os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME"), os.Getenv("NODE_NAME"), ip, port, r.RemoteAddr)
}
