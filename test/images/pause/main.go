// Command pause is the lab's sandbox ("pause") image: the first process of
// every Pod, holding the Pod's namespaces until containerd stops it. The
// lab cannot pull registry.k8s.io/pause, so hack/lab-images.sh builds this
// one under that name.
//
// As PID 1 of a Pod that shares its process namespace it reaps orphans;
// SIGTERM and SIGINT end it at once.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
