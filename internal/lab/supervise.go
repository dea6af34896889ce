package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"time"
)

// startProc spawns p (in its host's namespace, if any) and records its PID
// and start time in p. The returned Cmd is the caller's to reap.
func startProc(s *State, p Plan, pr *Proc) (*exec.Cmd, error) {
	spec := spawnSpec{Args: pr.Args, Env: pr.Env, Log: pr.Log, NetOnly: pr.NetOnly}
	if pr.Log == "" {
		pr.Log = logPath(s.Dir, pr.Name)
		spec.Log = pr.Log
	}
	if pr.Host != "" {
		spec.Netns = p.Namespace(pr.Host)
	}
	cmd, st, err := spawn(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pr.Name, err)
	}
	pr.PID, pr.Start = cmd.Process.Pid, st.Start
	return cmd, nil
}

// backoff spaces out restarts of a process that keeps dying: 1 s, doubling
// to 30 s, back to 1 s once it has run for a minute.
type backoff struct {
	delay   time.Duration
	next    time.Time
	started time.Time
}

func (b *backoff) ready(now time.Time) bool { return !now.Before(b.next) }

func (b *backoff) restarted(now time.Time) {
	switch {
	case b.delay == 0 || now.Sub(b.started) > time.Minute:
		b.delay = time.Second
	case b.delay < 30*time.Second:
		b.delay = min(2*b.delay, 30*time.Second)
	}
	b.started, b.next = now, now.Add(b.delay)
}

// Supervise is `ironlb lab supervise`: it runs until ctx ends, serving the
// API server forwarders into every host namespace and restarting every
// supervised process that died and is not held.
func Supervise(ctx context.Context, dir string, log *slog.Logger) error {
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	p, err := s.Plan()
	if err != nil {
		return err
	}
	target := "127.0.0.1:" + strconv.Itoa(s.Ports.APIServer)
	for _, h := range p.Hosts() {
		ln, err := listenIn(p.Namespace(h.Name), target)
		if err != nil {
			return fmt.Errorf("supervise: API forwarder in %s: %w", h.Name, err)
		}
		f := &forwarder{ln: ln, target: target, log: log.With("host", h.Name)}
		go f.serve(ctx)
	}
	log.Info("API forwarders listening", "address", target, "hosts", len(p.Hosts()))
	if err := serveAPIEndpoint(ctx, s, p, log); err != nil {
		return fmt.Errorf("supervise: %w", err)
	}
	if err := serveEgress(ctx, s, p, log); err != nil {
		return fmt.Errorf("supervise: %w", err)
	}
	log.Info("API endpoint and egress proxy listening", "endpoint", apiEndpoint(s, p).String(), "egress", egressSocket(s.Dir))
	// Monitoring is optional: without its forwarders the lab still runs.
	if err := serveMonitoring(ctx, s, p, log); err != nil {
		log.Error("monitoring forwarders", "error", err)
	}
	backoffs := map[string]*backoff{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := superviseOnce(dir, backoffs, log); err != nil {
			log.Error("supervise pass", "error", err)
		}
		select {
		case <-ctx.Done():
			log.Info("supervisor stopping")
			return nil
		case <-tick.C:
		}
	}
}

// superviseOnce restarts, under the state lock, each supervised process
// that is neither alive nor held, as its backoff allows.
func superviseOnce(dir string, backoffs map[string]*backoff, log *slog.Logger) error {
	return updateState(dir, func(s *State) error {
		p, err := s.Plan()
		if err != nil {
			return err
		}
		now := time.Now()
		for _, pr := range s.SortedProcs() {
			if !pr.Supervised || pr.Held || pr.Alive() {
				continue
			}
			b := backoffs[pr.Name]
			if b == nil {
				b = &backoff{}
				backoffs[pr.Name] = b
			}
			if !b.ready(now) {
				continue
			}
			first := pr.PID == 0
			cmd, err := startProc(s, p, pr)
			if err != nil {
				log.Error("starting process", "process", pr.Name, "error", err)
				continue
			}
			go func() { _ = cmd.Wait() }() // reap our child when it exits
			b.restarted(now)
			if first {
				log.Info("started", "process", pr.Name, "pid", pr.PID)
			} else {
				pr.Restarts++
				log.Warn("restarted", "process", pr.Name, "pid", pr.PID, "restarts", pr.Restarts)
			}
		}
		return nil
	})
}
