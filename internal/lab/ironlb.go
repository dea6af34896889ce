package lab

import (
	"context"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

const (
	// ironlbNamespace is where ironlb runs and reads its configuration.
	ironlbNamespace = "ironlb-system"
	// memberlistPort is the speakers' gossip port on each node address.
	memberlistPort = 7946
	// memberlistSecret (key memberlistSecretKey) holds the speakers'
	// gossip key, created by an installation and by `lab up`.
	memberlistSecret    = "ironlb-memberlist"
	memberlistSecretKey = "secretkey"
)

// subcommandFlags runs `ironlb SUB --help` and returns the long flags it
// lists. An unknown or stub subcommand lists few or none, which is how the
// lab tells whether the controller and the speaker exist yet.
func subcommandFlags(ctx context.Context, ironlb, sub string) map[string]bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ironlb, sub, "--help").CombinedOutput()
	if err != nil {
		return nil
	}
	return parseFlags(string(out))
}

var flagRE = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`)

// parseFlags extracts the long flag names from cobra help text.
func parseFlags(help string) map[string]bool {
	flags := map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(help, -1) {
		flags[m[1]] = true
	}
	return flags
}

// flagArgs keeps the --name=value pairs whose name the subcommand accepts,
// in order, so the lab passes what a manifest would and never a flag the
// binary rejects.
func flagArgs(accepted map[string]bool, pairs ...[2]string) []string {
	var out []string
	for _, p := range pairs {
		if accepted[p[0]] {
			out = append(out, "--"+p[0]+"="+p[1])
		}
	}
	return out
}

// controllerProc runs the ironlb controller in the root namespace next to
// the API server, with the container arguments, environment and
// ServiceAccount token of the install manifests (see install.go), plus the
// lab's own: --kubeconfig, health and metrics on loopback ports of their
// own, text logs. Without manifests it runs with the admin kubeconfig and
// the manifests' usual flags. It is nil when this ironlb has no working
// controller subcommand.
func controllerProc(ctx context.Context, s *State) *Proc {
	flags := subcommandFlags(ctx, s.Ironlb, "controller")
	if !flags["kubeconfig"] {
		return nil
	}
	base := append([]string{"controller"}, flagArgs(flags,
		[2]string{"namespace", ironlbNamespace},
		[2]string{"leader-elect", "true"},
	)...)
	kubeconfig, env := s.Kubeconfig(), []string(nil)
	if c := loadInstallation(s.Dir).component("controller"); c != nil {
		base, kubeconfig, env = c.Args, c.Kubeconfig, c.environ("")
	}
	args := setArgs(base, flags,
		[2]string{"kubeconfig", kubeconfig},
		[2]string{"health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(s.Ports.ControllerHealth)},
		[2]string{"metrics-bind-address", "127.0.0.1:" + strconv.Itoa(s.Ports.ControllerMetrics)},
		[2]string{"log-format", "text"},
	)
	return &Proc{Name: "controller", Order: 90, Supervised: true, Args: append([]string{s.Ironlb}, args...), Env: env}
}

// speakerProcs run one ironlb speaker per node namespace, like the
// speaker DaemonSet of the install manifests (its container arguments,
// environment and ServiceAccount token; health and metrics on the
// manifests' ports inside the node's namespace) plus the lab's own:
// --node-name, --kubeconfig, memberlist bound to the node's address, text
// logs. Without manifests they run with the admin kubeconfig. None run
// when this ironlb's speaker subcommand does not take --node-name yet.
func speakerProcs(ctx context.Context, s *State, p Plan) []*Proc {
	flags := subcommandFlags(ctx, s.Ironlb, "speaker")
	if !flags["node-name"] {
		return nil
	}
	base := append([]string{"speaker"}, flagArgs(flags, [2]string{"namespace", ironlbNamespace})...)
	kubeconfig, c := s.Kubeconfig(), loadInstallation(s.Dir).component("speaker")
	if c != nil {
		base, kubeconfig = c.Args, c.Kubeconfig
	}
	port := memberlistPort
	if v, ok := argValue(base, "memberlist-bind-address"); ok {
		port = bindPort(v, memberlistPort)
	}
	var out []*Proc
	for _, h := range p.Nodes {
		args := setArgs(base, flags,
			[2]string{"node-name", h.Name},
			[2]string{"kubeconfig", kubeconfig},
			// The node's own address, not whatever a pod IP on lo might be.
			[2]string{"memberlist-bind-address", netip.AddrPortFrom(p.NodeIPs(h)[0], uint16(port)).String()},
			[2]string{"log-format", "text"},
		)
		pr := &Proc{Name: "speaker/" + h.Name, Host: h.Name, Order: 90, Supervised: true, Args: append([]string{s.Ironlb}, args...)}
		if c != nil {
			pr.Env = c.environ(h.Name)
		}
		out = append(out, pr)
	}
	return out
}

// agentProc is the lab agent of a node: the kubelet stand-in (`ironlb lab
// agent`), inside the node's namespace.
func agentProc(s *State, h Host) *Proc {
	return &Proc{
		Name: "agent/" + h.Name, Host: h.Name, Order: 80, Supervised: true,
		Args: []string{s.Ironlb, "lab", "agent", "--dir=" + s.Dir, "--node=" + h.Name, "--log-format=text"},
	}
}

// supervisorProc is `ironlb lab supervise`: API forwarders into every host
// namespace and restarts of supervised processes.
func supervisorProc(s *State) *Proc {
	return &Proc{
		Name: "supervisor", Order: 100,
		Args: []string{s.Ironlb, "lab", "supervise", "--dir=" + s.Dir, "--log-format=text"},
	}
}
