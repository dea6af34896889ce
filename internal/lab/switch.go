package lab

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// SwitchOptions configure `ironlb lab switch-lb`.
type SwitchOptions struct {
	Dir string
	To  LB
	// Flags are ironlb's controller and speaker flags (see UpOptions).
	Flags CommandFlags
	// MetalLBDir is as in UpOptions, for a switch to MetalLB.
	MetalLBDir string
	Out        io.Writer
}

// SwitchLB replaces the load balancer a running lab runs, as an operator
// replaces one installation with another: every controller and speaker of
// the old one is stopped gracefully (SIGTERM, SIGKILL after 10 s, as
// Kubernetes stops a Pod) before the first of the new one starts, so the
// two never answer for the same addresses at once. The cluster's objects
// stay: whatever the old one wrote (Service addresses, its CRs) is what the
// new one finds.
func SwitchLB(ctx context.Context, o SwitchOptions) error {
	if err := CheckRoot(); err != nil {
		return err
	}
	s, err := LoadState(o.Dir)
	if err != nil {
		return err
	}
	if s.IronlbPods {
		return errIronlbPods("switch-lb")
	}
	from := s.LB.orDefault()
	if from == o.To {
		return fmt.Errorf("the lab already runs %s", o.To.Name())
	}
	p, err := s.Plan()
	if err != nil {
		return err
	}
	metallbDir := s.MetalLBDir
	if o.To.MetalLB() {
		if metallbDir, err = FindMetalLBDir(o.MetalLBDir); err != nil {
			return err
		}
		// Its namespace, CRDs and Pod objects, unless the lab came up
		// with MetalLB (they are still there).
		if s.MetalLBDir == "" {
			cs, err := Clientset(o.Dir)
			if err != nil {
				return err
			}
			s.MetalLBDir = metallbDir
			if _, err := populateMetalLB(ctx, s, p, cs); err != nil {
				return err
			}
		}
	} else if err := o.Flags.Check(); err != nil {
		return err
	}
	start := time.Now()
	err = updateState(o.Dir, func(st *State) error {
		st.LB, st.MetalLBDir = o.To, metallbDir
		var procs []*Proc
		if o.To.MetalLB() {
			procs = append([]*Proc{metallbControllerProc(st)}, metallbSpeakerProcs(st, p)...)
		} else {
			ctrl, err := controllerProc(st, o.Flags["controller"])
			if err != nil {
				return err
			}
			speakers, err := speakerProcs(st, p, o.Flags["speaker"])
			if err != nil {
				return err
			}
			procs = append([]*Proc{ctrl}, speakers...)
		}
		var old []string
		for name, pr := range st.Procs {
			if isIronlbProc(name) {
				old = append(old, name)
				if err := terminate(pr.PID, pr.Start, 10*time.Second); err != nil {
					return fmt.Errorf("stopping %s %s: %w", from.Name(), name, err)
				}
				delete(st.Procs, name)
			}
		}
		slices.Sort(old)
		_, _ = fmt.Fprintf(o.Out, "stopped %s: %s (%s)\n", from.Name(), strings.Join(old, ", "), time.Since(start).Round(time.Millisecond))
		for _, pr := range procs {
			cmd, err := startProc(st, p, pr)
			if err != nil {
				return fmt.Errorf("starting %s %s: %w", o.To.Name(), pr.Name, err)
			}
			_ = cmd.Process.Release()
			st.Procs[pr.Name] = pr
		}
		st.Controller, st.Speakers = true, true
		*s = *st
		return nil
	})
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(o.Out, "started %s: controller and %d speakers\n", o.To.Name(), len(p.Nodes))
	for _, n := range ironlbHealth(ctx, s, 30*time.Second) {
		_, _ = fmt.Fprintln(o.Out, n)
	}
	return nil
}
