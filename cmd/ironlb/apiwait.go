package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// The back-off of waitForAPIServer, and the bound of each attempt. The
// controller (one or two replicas) asks at most every 5 s, so that it
// starts soon after the API server returns; the speakers, one per node,
// back off to 30 s so that a thousand of them spare an API server that is
// coming back.
const (
	apiWaitMin           = time.Second
	apiWaitMaxController = 5 * time.Second
	apiWaitMaxSpeaker    = 30 * time.Second
	apiWaitAttempt       = 5 * time.Second
)

// waitForAPIServer returns true once the API server of cfg answers (its
// version), retrying with back-off up to maxWait and logging each failure,
// or false when ctx ends first (the process is asked to stop: not an
// error). A process started while the API server is unreachable — a
// control-plane outage, a node booting — then waits and starts as soon as
// it answers, instead of exiting into the kubelet's crash-loop back-off,
// which could hold it back for minutes after the API server returns. Its
// manager cannot be created without the API server (the cache's scoping
// asks it which kinds are namespaced).
func waitForAPIServer(ctx context.Context, cfg *rest.Config, maxWait time.Duration) (bool, error) {
	c := rest.CopyConfig(cfg)
	c.Timeout = apiWaitAttempt
	dc, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		return false, fmt.Errorf("a client for the API server: %w", err)
	}
	wait := apiWaitMin
	for attempt := 1; ; attempt++ {
		_, err := dc.ServerVersion()
		if err == nil {
			if attempt > 1 {
				slog.Info("the API server answers; starting", "attempts", attempt)
			}
			return true, nil
		}
		slog.Warn("the API server does not answer; waiting for it", "host", cfg.Host, "error", err, "retryIn", wait)
		select {
		case <-ctx.Done():
			slog.Info("stopping before the API server answered", "host", cfg.Host, "error", err)
			return false, nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}
