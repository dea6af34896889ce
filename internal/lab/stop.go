package lab

import (
	"fmt"
	"io"
	"time"
)

// StopController stops the ironlb controller gracefully (SIGTERM, SIGKILL
// after 10 s, as Kubernetes stops a Pod) and holds it down, so the
// supervisor does not start it again: the cluster runs without it (or
// with a replica started elsewhere) until `lab restart controller`. It
// returns once the controller has exited.
func StopController(dir string, out io.Writer) error {
	return updateState(dir, func(s *State) error {
		if s.IronlbPods {
			return errIronlbPods("stop controller")
		}
		pr := s.Procs["controller"]
		if pr == nil || len(pr.Args) == 0 {
			return fmt.Errorf("no controller runs in this lab (`ironlb lab status` lists what runs)")
		}
		pr.Held = true
		if !pr.Alive() {
			_, _ = fmt.Fprintln(out, "controller is not running; held down")
			return nil
		}
		start := time.Now()
		if err := terminate(pr.PID, pr.Start, 10*time.Second); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "stopped controller (pid %d, SIGTERM) in %s; held down until `lab restart controller`\n",
			pr.PID, time.Since(start).Round(time.Millisecond))
		return nil
	})
}
