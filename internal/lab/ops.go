package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// NodeFail crashes a node: its bridge-side veths (both cards) go down, so the node
// drops off the network at once, then its speaker is killed (SIGKILL) and
// held down. The link goes first, as when a machine dies: nothing the
// killed speaker's kernel sends (the FIN closing its BGP sessions) reaches
// anyone, so peers detect the failure themselves (BFD, hold time,
// memberlist) and graceful restart does not keep its routes. Its agent and
// kube-proxy keep running: they reach the API server over the loopback
// forwarder, so the Node stays Ready as far as Kubernetes knows. A node
// with a real kubelet dies whole instead (failRealNode): kubelet,
// containerd and every container, ironlb's speaker Pod among them.
func NodeFail(ctx context.Context, dir, node string, out io.Writer) error {
	return updateState(dir, func(s *State) error {
		p, h, err := nodeOf(s, node)
		if err != nil {
			return err
		}
		if err := setLink(ctx, p, h, false); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "%s cut off: links %s down in %s\n", h.Name, strings.Join(bridgePorts(h), ", "), p.Namespace(lanNamespace))
		if sp := s.Procs["speaker/"+h.Name]; sp != nil {
			sp.Held = true
			if sp.Alive() {
				if err := terminate(sp.PID, sp.Start, 0); err != nil {
					return err
				}
				_, _ = fmt.Fprintf(out, "killed speaker/%s (pid %d)\n", h.Name, sp.PID)
			}
		}
		if s.Kubelet.Real() {
			return failRealNode(s, p, h, out)
		}
		return nil
	})
}

// NodeRecover undoes NodeFail (and StopSpeaker): link up, speaker started
// again.
func NodeRecover(ctx context.Context, dir, node string, out io.Writer) error {
	return updateState(dir, func(s *State) error {
		p, h, err := nodeOf(s, node)
		if err != nil {
			return err
		}
		if err := setLink(ctx, p, h, true); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "%s back: links %s up\n", h.Name, strings.Join(bridgePorts(h), ", "))
		if s.Kubelet.Real() {
			if err := recoverRealNode(s, p, h, out); err != nil {
				return err
			}
		}
		if sp := s.Procs["speaker/"+h.Name]; sp != nil {
			sp.Held = false
			if !sp.Alive() {
				cmd, err := startProc(s, p, sp)
				if err != nil {
					return err
				}
				_ = cmd.Process.Release()
				_, _ = fmt.Fprintf(out, "started speaker/%s (pid %d)\n", h.Name, sp.PID)
			}
		}
		return nil
	})
}

// StopSpeaker stops a node's speaker gracefully, as Kubernetes stops a
// Pod: SIGTERM (SIGKILL after 10 s), and holds it down so the supervisor
// does not start it again. The node stays on the network. NodeRecover
// starts the speaker again. It returns once the speaker has exited.
func StopSpeaker(dir, node string, out io.Writer) error {
	return updateState(dir, func(s *State) error {
		_, h, err := nodeOf(s, node)
		if err != nil {
			return err
		}
		if s.IronlbPods {
			return errIronlbPods("node stop-speaker")
		}
		sp := s.Procs["speaker/"+h.Name]
		if sp == nil {
			return fmt.Errorf("no speaker runs on %s in this lab (this ironlb's speaker takes no --node-name)", h.Name)
		}
		sp.Held = true
		if !sp.Alive() {
			_, _ = fmt.Fprintf(out, "speaker/%s is not running; held down\n", h.Name)
			return nil
		}
		start := time.Now()
		if err := terminate(sp.PID, sp.Start, 10*time.Second); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "stopped speaker/%s (pid %d, SIGTERM) in %s; held down until `lab node recover %s`\n",
			h.Name, sp.PID, time.Since(start).Round(time.Millisecond), h.Name)
		return nil
	})
}

// errIronlbPods refuses an operation on ironlb's processes in a lab that
// runs ironlb as Pods.
func errIronlbPods(op string) error {
	return fmt.Errorf("lab %s: this lab runs ironlb as Pods (--kubelet real), and %s stops the lab's own ironlb processes; "+
		"not supported with Pods yet: `lab restart controller` and `lab restart speaker NODE` delete Pods", op, op)
}

func nodeOf(s *State, node string) (Plan, Host, error) {
	p, err := s.Plan()
	if err != nil {
		return Plan{}, Host{}, err
	}
	h, ok := p.Host(node)
	if !ok || h.Role != RoleNode {
		return Plan{}, Host{}, fmt.Errorf("node %q: not a node of this lab (node1..node%d)", node, len(p.Nodes))
	}
	return p, h, nil
}

// Restart stops a process by name ("controller", "speaker/node1", ...) and
// starts it again with the same arguments.
func Restart(dir, name string, out io.Writer) error {
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	if s.IronlbPods {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		switch node, isSpeaker := strings.CutPrefix(name, "speaker/"); {
		case name == "controller":
			return restartPods(ctx, dir, controllerPods, "", out)
		case isSpeaker:
			return restartPods(ctx, dir, speakerPods, node, out)
		}
	}
	return updateState(dir, func(s *State) error {
		pr := s.Procs[name]
		if pr == nil || len(pr.Args) == 0 {
			return fmt.Errorf("no process %q in this lab (the lab runs the ironlb controller and speakers only when "+
				"this ironlb has them; `ironlb lab status` lists what runs)", name)
		}
		p, err := s.Plan()
		if err != nil {
			return err
		}
		if err := terminate(pr.PID, pr.Start, 10*time.Second); err != nil {
			return err
		}
		old := pr.PID
		cmd, err := startProc(s, p, pr)
		if err != nil {
			return err
		}
		_ = cmd.Process.Release()
		pr.Held = false
		pr.Restarts++
		_, _ = fmt.Fprintf(out, "restarted %s: pid %d -> %d\n", name, old, pr.PID)
		return nil
	})
}

// ExecCommand is `ironlb lab exec HOST -- CMD...`: CMD inside the host's
// namespace, with KUBECONFIG set and the Kubernetes binaries on PATH.
func ExecCommand(ctx context.Context, dir, host string, args []string) (*exec.Cmd, error) {
	s, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	p, err := s.Plan()
	if err != nil {
		return nil, err
	}
	if _, ok := p.Host(host); !ok && host != lanNamespace {
		return nil, fmt.Errorf("host %q: want router, client, lan or node1..node%d", host, len(p.Nodes))
	}
	if len(args) == 0 {
		args = []string{"/bin/sh"}
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", p.Namespace(host)}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig(), "PATH="+s.K8sDir+":"+os.Getenv("PATH"))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	return cmd, nil
}

// KubectlCommand is `ironlb lab kubectl -- ARGS...` with the pinned kubectl
// and the lab's kubeconfig.
func KubectlCommand(ctx context.Context, dir string, args []string) (*exec.Cmd, error) {
	s, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, s.bin("kubectl"), append([]string{"--kubeconfig", s.Kubeconfig()}, args...)...), nil
}

// RouterCommand is `ironlb lab router -- VTYSH-ARGS...`.
func RouterCommand(ctx context.Context, dir string, args []string) (*exec.Cmd, error) {
	s, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	return vtyshCommand(ctx, s.Dir, args...), nil
}

// NodeLink sets the node's links to the LAN bridge down or up (the bridge
// side, as NodeFail does) and nothing else: the node's processes keep
// running, as on a cable pulled and plugged back.
func NodeLink(ctx context.Context, dir, node string, up bool) error {
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	p, h, err := nodeOf(s, node)
	if err != nil {
		return err
	}
	return setLink(ctx, p, h, up)
}
