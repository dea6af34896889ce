package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on an OS thread switched into the network namespace
// named by path. Sockets fn creates belong to that namespace for their
// whole life, whichever thread later uses them. The thread is switched
// back before it returns to the Go scheduler; if switching back fails, the
// goroutine exits still locked, so the runtime retires the thread rather
// than let another goroutine run in the wrong namespace.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening own network namespace: %w", err)
			return
		}
		defer func() { _ = orig.Close() }()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening network namespace: %w", err)
			return
		}
		defer func() { _ = target.Close() }()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leaving network namespace %s: %w", path, err))
			return // still locked: the thread is retired
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// listenIn opens a TCP listener inside the namespace ns.
func listenIn(ns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNetns(netnsPath(ns), func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// DialIn connects to addr (an IP literal and port) from inside the
// namespace ns, as a process there would.
func DialIn(ctx context.Context, ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(netnsPath(ns), func() error {
		var err error
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// forwarder accepts connections on ln (a listener inside some host's
// namespace) and splices each to target in the forwarder's own namespace:
// how processes in the host namespaces reach the API server on the root
// namespace's loopback without any interface or address in the root
// namespace.
type forwarder struct {
	ln     net.Listener
	target string
	// dial, when set, connects to the target instead of dialing target
	// in the forwarder's namespace: the way out of the root namespace
	// into a host's (DialIn). target then only names it in logs.
	dial func(context.Context) (net.Conn, error)
	log  *slog.Logger
}

// serve runs until ctx ends or the listener fails.
func (f *forwarder) serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		_ = f.ln.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				f.log.Error("forwarder stopped", "listen", f.ln.Addr().String(), "error", err)
			}
			return
		}
		wg.Go(func() { f.splice(ctx, c) })
	}
}

func (f *forwarder) splice(ctx context.Context, c net.Conn) {
	defer func() { _ = c.Close() }()
	var up net.Conn
	var err error
	if f.dial != nil {
		up, err = f.dial(ctx)
	} else {
		d := net.Dialer{Timeout: 5 * time.Second}
		up, err = d.DialContext(ctx, "tcp", f.target)
	}
	if err != nil {
		f.log.Debug("forwarder: dialing target", "target", f.target, "error", err)
		return
	}
	splice(ctx, c, up, f.log)
}

// splice copies between a and b both ways until both directions end (or
// ctx does), then closes b; a is the caller's to close.
func splice(ctx context.Context, a, b net.Conn, log *slog.Logger) {
	defer func() { _ = b.Close() }()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			log.Debug("forwarder: copy", "error", err)
		}
		if tc, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(b, a)
	go pipe(a, b)
	select {
	case <-done:
		<-done
	case <-ctx.Done():
	}
}
