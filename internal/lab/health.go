package lab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// waitHealthy waits until the lab's own processes run and every
// kube-proxy answers /healthz. The ironlb controller and speakers are not
// part of it: see ironlbHealth.
func waitHealthy(ctx context.Context, s *State, p Plan, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := map[string]bool{}
	for _, h := range p.Nodes {
		if s.RunsKubeProxy(p, h) {
			pending[h.Name] = true
		}
	}
	var last error
	for {
		st, err := LoadState(s.Dir)
		if err != nil {
			return err
		}
		last = nil
		for _, pr := range st.SortedProcs() {
			if !isIronlbProc(pr.Name) && !pr.Held && (pr.Supervised || pr.Name == "supervisor") && !pr.Alive() {
				last = fmt.Errorf("%s is not running (log %s)", pr.Name, logPath(s.Dir, pr.Name))
			}
		}
		if last == nil {
			for _, h := range p.Nodes {
				if !pending[h.Name] {
					continue
				}
				if err := kubeProxyHealthy(ctx, p, h); err != nil {
					last = err
					continue
				}
				delete(pending, h.Name)
			}
		}
		if last == nil && len(pending) == 0 {
			*s = *st
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab not healthy after %s: %w", timeout, errors.Join(last, ctx.Err()))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// isIronlbProc tells the ironlb controller and speakers from the lab's
// own processes.
func isIronlbProc(name string) bool {
	return name == "controller" || strings.HasPrefix(name, "speaker/")
}

// ironlbHealth waits a little for the load balancer's controller
// (/readyz; ironlb's or MetalLB's) and the speakers (running for a few
// seconds) and describes what it saw; a broken one is reported, not
// fatal: the lab is there to debug it.
func ironlbHealth(ctx context.Context, s *State, timeout time.Duration) []string {
	var notes []string
	start := time.Now()
	deadline := start.Add(timeout)
	if s.Controller {
		url := fmt.Sprintf("http://127.0.0.1:%d/readyz", s.Ports.ControllerHealth)
		var err error
		for {
			if err = GetOK(ctx, url); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("WARNING: the %s controller is not ready (%v); see %s", s.LB.Name(), err, logPath(s.Dir, "controller")))
		} else {
			notes = append(notes, s.LB.Name()+" controller ready")
		}
	}
	if s.Speakers {
		time.Sleep(time.Until(start.Add(3 * time.Second))) // a broken speaker exits at once
		st, err := LoadState(s.Dir)
		if err != nil {
			return append(notes, err.Error())
		}
		down := 0
		for _, pr := range st.Procs {
			if strings.HasPrefix(pr.Name, "speaker/") && !pr.Alive() {
				down++
				notes = append(notes, fmt.Sprintf("WARNING: %s is not running; see %s", pr.Name, logPath(s.Dir, pr.Name)))
			}
		}
		if down == 0 {
			notes = append(notes, s.LB.Name()+" speakers running")
		}
	}
	return notes
}

// GetOK GETs url (from the root namespace) and wants 200 OK, within 2 s
// or ctx's deadline, whichever comes first.
func GetOK(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
