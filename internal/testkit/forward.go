package testkit

import (
	"io"
	"net"
	"sync"
)

// Forwarder splices every connection accepted on a listener to a target
// address until Close: a stand-in for a network path a test can cut (an
// API server that disappears, one that comes back late).
type Forwarder struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// Forward starts forwarding from ln to target; the caller closes it.
func Forward(ln net.Listener, target string) *Forwarder {
	f := &Forwarder{ln: ln, target: target}
	go f.accept()
	return f
}

func (f *Forwarder) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !f.track(c, up) {
			return
		}
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// track remembers a pair, or closes it when the Forwarder is closed.
func (f *Forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	f.conns = append(f.conns, cs...)
	return true
}

// Close stops accepting and closes every forwarded connection, as a cut
// path would: later connections are refused. Idempotent.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	_ = f.ln.Close()
	for _, c := range f.conns {
		_ = c.Close()
	}
}
