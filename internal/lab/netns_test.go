package lab

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// TestInNetnsRestoresThreads enters a scratch namespace from many
// goroutines and checks that sockets land in it while every thread of the
// process ends up back in its own namespace. Needs root.
func TestInNetnsRestoresThreads(t *testing.T) {
	netnstest.Require(t, netnstest.Root, "ip")
	ns := "ilbunit" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}

	ln, err := listenIn(ns, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "inside\n")
			_ = c.Close()
		}
	}()
	addr := ln.Addr().String()

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := DialIn(ctx, ns, addr)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(c)
			_ = c.Close()
			if string(b) != "inside\n" {
				errs <- io.ErrUnexpectedEOF
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("dial inside the namespace: %v", err)
	}

	// The listener lives in the scratch namespace only.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Errorf("%s answers in the root namespace too", addr)
	}
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if got, err := os.Readlink(task); err == nil && got != own {
			t.Errorf("thread %s left in %s, want %s", task, got, own)
		}
	}
}
