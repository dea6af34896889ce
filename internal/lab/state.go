package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// stateVersion changes when State changes incompatibly; an older file is
// still good enough for `down` (names, PIDs and namespaces keep their
// meaning).
const stateVersion = 1

// State is everything a lab records about itself in <dir>/state.json: what
// to re-create (prefix, node count, family, ports), where its files are,
// and every process it started with the start time that identifies it.
type State struct {
	Version   int       `json:"version"`
	Dir       string    `json:"dir"`
	Prefix    string    `json:"prefix"`
	Nodes     int       `json:"nodes"`
	IPFamily  IPFamily  `json:"ipFamily"`
	K8sDir    string    `json:"k8sDir"`
	Ironlb    string    `json:"ironlb"`
	Ports     Ports     `json:"ports"`
	CreatedAt time.Time `json:"createdAt"`
	// Namespaces are the namespaces this lab created.
	Namespaces []string `json:"namespaces"`
	// Speakers is whether the lab runs one speaker per node (ironlb's, or
	// MetalLB's with LB metallb).
	Speakers bool `json:"speakers"`
	// Controller is whether the lab runs the load balancer's controller.
	Controller bool `json:"controller"`
	// LB is the load balancer the lab runs; empty (older states) is
	// ironlb. With MetalLB, Controller and Speakers are MetalLB's, run from
	// MetalLBDir.
	LB         LB     `json:"lb,omitempty"`
	MetalLBDir string `json:"metallbDir,omitempty"`
	// Audit is whether the API server writes its audit log (AuditLog).
	Audit bool `json:"audit,omitempty"`
	// KubeProxyNodes: kube-proxy runs on the first KubeProxyNodes nodes
	// only (RunsKubeProxy); 0 is every node.
	KubeProxyNodes int `json:"kubeProxyNodes,omitempty"`
	// Kubelet is what plays the kubelet; empty (older states) is the
	// stand-in.
	Kubelet KubeletMode `json:"kubelet,omitempty"`
	// IronlbPods: ironlb runs as the install manifests' Deployment and
	// DaemonSet, Pods on the real kubelets, instead of as lab processes
	// (Controller and Speakers are then false: the lab runs neither).
	IronlbPods bool `json:"ironlbPods,omitempty"`
	// HostSysctls are the machine-wide sysctls real kubelets change, as
	// they were before the first one started (key: path under
	// /proc/sys); `down` writes them back.
	HostSysctls map[string]string `json:"hostSysctls,omitempty"`
	// Monitoring is the lab's Prometheus (`up --monitoring`); nil
	// without.
	Monitoring *Monitoring `json:"monitoring,omitempty"`
	// Procs are keyed by name: "etcd", "kube-proxy/node1", ...
	Procs map[string]*Proc `json:"procs"`
}

// Ports are the root-namespace loopback ports the lab chose when it came up.
type Ports struct {
	APIServer         int `json:"apiServer"`
	EtcdClient        int `json:"etcdClient"`
	EtcdPeer          int `json:"etcdPeer"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	ControllerHealth  int `json:"controllerHealth"`
	ControllerMetrics int `json:"controllerMetrics"`
}

// Proc is one process of the lab.
type Proc struct {
	Name string `json:"name"`
	// Host is the short name of the host namespace it runs in; empty for
	// the root namespace.
	Host string `json:"host,omitempty"`
	// NetOnly processes enter only Host's network namespace (nsenter
	// --net) instead of `ip netns exec`, which also remounts /sys and so
	// hides the cgroup hierarchies: containerd and the kubelet need them.
	NetOnly bool     `json:"netOnly,omitempty"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"`
	Log     string   `json:"log"`
	PID     int      `json:"pid"`
	// Start is the process start time in clock ticks since boot
	// (/proc/PID/stat field 22): with PID, the process identity.
	Start uint64 `json:"start"`
	// Supervised processes are restarted by the supervisor when they die,
	// unless Held.
	Supervised bool `json:"supervised,omitempty"`
	// Held is set while a process is meant to be down (a failed node's
	// speaker).
	Held     bool `json:"held,omitempty"`
	Restarts int  `json:"restarts,omitempty"`
	// Files are paths outside the lab directory the process may leave
	// behind; `down` removes them after stopping it.
	Files []string `json:"files,omitempty"`
	// Order ranks processes for shutdown: higher stops first.
	Order int `json:"order"`
}

// Alive reports whether the recorded process still runs.
func (p *Proc) Alive() bool { return alive(p.PID, p.Start) }

// Plan is the address plan of the lab.
func (s *State) Plan() (Plan, error) { return NewPlan(s.Prefix, s.Nodes, s.IPFamily) }

// SortedProcs lists the processes in shutdown order (highest Order first,
// then by name).
func (s *State) SortedProcs() []*Proc {
	out := make([]*Proc, 0, len(s.Procs))
	for _, p := range s.Procs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Proc) int {
		if a.Order != b.Order {
			return b.Order - a.Order
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// File names inside the lab directory.
const (
	stateFile = "state.json"
	lockFile  = "state.lock"
)

// ErrNoLab means the directory holds no lab state.
var ErrNoLab = errors.New("no lab state")

// LoadState reads <dir>/state.json without locking: writes are atomic
// renames, so a reader sees a whole file.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (bring one up with `ironlb lab up --dir %s`)", dir, ErrNoLab, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading lab state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", filepath.Join(dir, stateFile), err)
	}
	if s.Procs == nil {
		s.Procs = map[string]*Proc{}
	}
	return &s, nil
}

// save writes the state atomically.
func (s *State) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding lab state: %w", err)
	}
	tmp := filepath.Join(s.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing lab state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir, stateFile)); err != nil {
		return fmt.Errorf("writing lab state: %w", err)
	}
	return nil
}

// lockDir takes the lab directory's exclusive lock, which serialises every
// read-modify-write of the state (the CLI and the supervisor). Call the
// returned function to release it.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lab lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		_ = f.Close()
	}, nil
}

// updateState runs fn on the current state under the lock and saves it
// when fn succeeds.
func updateState(dir string, fn func(*State) error) error {
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	return s.save()
}
