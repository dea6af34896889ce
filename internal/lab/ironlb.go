package lab

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
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

// CommandFlags are the long flags of the ironlb subcommands the lab runs
// ("controller", "speaker"), taken from the commands' own definitions
// (cmd/ironlb builds it from its cobra tree), never from help text.
type CommandFlags map[string]map[string]bool

// labFlags are the flags the lab itself sets on each subcommand.
var labFlags = map[string][]string{
	"controller": {"namespace", "leader-elect", "kubeconfig", "health-probe-bind-address", "metrics-bind-address", "metrics-secure", "log-format"},
	"speaker":    {"namespace", "node-name", "kubeconfig", "memberlist-bind-address", "metrics-secure", "log-format"},
}

// Check fails, naming every missing one, unless each subcommand has every
// flag the lab sets: a lab that cannot run ironlb as intended refuses to
// come up rather than start without a controller or speakers.
func (f CommandFlags) Check() error {
	var missing []string
	for _, sub := range []string{"controller", "speaker"} {
		for _, name := range labFlags[sub] {
			if !f[sub][name] {
				missing = append(missing, "ironlb "+sub+" --"+name)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the lab cannot run ironlb: flags missing from its commands: %s", strings.Join(missing, ", "))
	}
	return nil
}

// flagArgs returns the --name=value pairs in order; every name must be a
// flag of the subcommand (CommandFlags.Check made sure of the lab's own).
func flagArgs(accepted map[string]bool, pairs ...[2]string) ([]string, error) {
	var out []string
	for _, p := range pairs {
		if !accepted[p[0]] {
			return nil, fmt.Errorf("ironlb has no --%s flag", p[0])
		}
		out = append(out, "--"+p[0]+"="+p[1])
	}
	return out, nil
}

// controllerProc runs the ironlb controller in the root namespace next to
// the API server, with the container arguments, environment and
// ServiceAccount token of the install manifests (see install.go), plus the
// lab's own: --kubeconfig, health and metrics on loopback ports of their
// own, text logs. Without manifests it runs with the admin kubeconfig and
// the manifests' usual flags. flags are the controller command's.
func controllerProc(s *State, flags map[string]bool) (*Proc, error) {
	base, err := flagArgs(flags,
		[2]string{"namespace", ironlbNamespace},
		[2]string{"leader-elect", "true"},
	)
	if err != nil {
		return nil, fmt.Errorf("ironlb controller: %w", err)
	}
	base = append([]string{"controller"}, base...)
	kubeconfig, env := s.Kubeconfig(), []string(nil)
	if c := loadInstallation(s.Dir).component("controller"); c != nil {
		base, kubeconfig, env = c.Args, c.Kubeconfig, c.environ("")
	}
	args, err := setArgs(base, flags,
		[2]string{"kubeconfig", kubeconfig},
		[2]string{"health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(s.Ports.ControllerHealth)},
		[2]string{"metrics-bind-address", "127.0.0.1:" + strconv.Itoa(s.Ports.ControllerMetrics)},
		// Plain HTTP for the lab's Prometheus and the e2e tests, which
		// present no token (docs/lab.md); the secure default is proven by
		// cmd/ironlb's TestControllerCommand.
		[2]string{"metrics-secure", "false"},
		[2]string{"log-format", "text"},
	)
	if err != nil {
		return nil, fmt.Errorf("ironlb controller: %w", err)
	}
	return &Proc{Name: "controller", Order: 90, Supervised: true, Args: append([]string{s.Ironlb}, args...), Env: env}, nil
}

// speakerProcs run one ironlb speaker per node namespace, like the
// speaker DaemonSet of the install manifests (its container arguments,
// environment and ServiceAccount token; health and metrics on the
// manifests' ports inside the node's namespace) plus the lab's own:
// --node-name, --kubeconfig, memberlist bound to the node's address, text
// logs. Without manifests they run with the admin kubeconfig. flags are
// the speaker command's.
// speakerPprofAddress is where every lab speaker serves Go's profiles,
// inside its node's namespace.
const speakerPprofAddress = "127.0.0.1:6060"

func speakerProcs(s *State, p Plan, flags map[string]bool) ([]*Proc, error) {
	base, err := flagArgs(flags, [2]string{"namespace", ironlbNamespace})
	if err != nil {
		return nil, fmt.Errorf("ironlb speaker: %w", err)
	}
	base = append([]string{"speaker"}, base...)
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
		args, err := setArgs(base, flags,
			[2]string{"node-name", h.Name},
			[2]string{"kubeconfig", kubeconfig},
			// The node's own address, not whatever a pod IP on lo might be.
			[2]string{"memberlist-bind-address", netip.AddrPortFrom(p.NodeIPs(h)[0], uint16(port)).String()},
			// Plain HTTP, as for the controller (TestSpeakerCommand proves
			// the secure default).
			[2]string{"metrics-secure", "false"},
			[2]string{"log-format", "text"},
			// Go's profiles on the node namespace's own loopback, for
			// diagnosis (docs/lab.md).
			[2]string{"pprof-bind-address", speakerPprofAddress},
		)
		if err != nil {
			return nil, fmt.Errorf("ironlb speaker: %w", err)
		}
		pr := &Proc{Name: "speaker/" + h.Name, Host: h.Name, Order: 90, Supervised: true, Args: append([]string{s.Ironlb}, args...)}
		if c != nil {
			pr.Env = c.environ(h.Name)
		}
		out = append(out, pr)
	}
	return out, nil
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
