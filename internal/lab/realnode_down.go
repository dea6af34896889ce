package lab

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// What real kubelets and containerd leave on the machine outside the
// lab's namespaces, and how `down` removes it: processes and cgroups under
// each node's cgroup root, mounts under <dir>/nodes (the kubelet's bind
// mount of its root, volume tmpfs, containers' rootfs overlays, sandbox
// shm and network-namespace mounts), the shims' sockets in
// /run/containerd/s, libcni's result cache, and the kubelet's log links in
// /var/log/containers. Everything is found by the lab's directory or its
// namespace prefix, so a lab whose state file is lost is cleaned too.

// cgroupFSRoot is where the machine mounts its cgroup hierarchies.
const cgroupFSRoot = "/sys/fs/cgroup"

// cgroupHierarchies are the mount points of every cgroup (v1) and cgroup2
// hierarchy, from /proc/self/mountinfo.
func cgroupHierarchies() ([]string, error) {
	mounts, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mounts {
		if (m.fstype == "cgroup" || m.fstype == "cgroup2") && strings.HasPrefix(m.point, cgroupFSRoot+"/") {
			out = append(out, m.point)
		}
	}
	return out, nil
}

// createCgroup makes the cgroup name (an absolute cgroup path) in every
// hierarchy. In cpuset, a new cgroup starts with no CPUs and memory
// nodes, and no task may join it until they are set: copy the parent's.
func createCgroup(name string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		d := filepath.Join(h, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", d, err)
		}
		if filepath.Base(h) != "cpuset" {
			continue
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			b, err := os.ReadFile(filepath.Join(filepath.Dir(d), f))
			if err != nil {
				return fmt.Errorf("cgroup %s: %w", d, err)
			}
			if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
				return fmt.Errorf("cgroup %s: %w", d, err)
			}
		}
	}
	return nil
}

// labCgroups are the top-level cgroups of a lab with prefix in every
// hierarchy (named like its namespaces: see cgroupRoot).
func labCgroups(prefix string) ([]string, error) {
	hs, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	re := NamespacePattern(prefix)
	var out []string
	for _, h := range hs {
		entries, err := os.ReadDir(h)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && re.MatchString(e.Name()) {
				out = append(out, filepath.Join(h, e.Name()))
			}
		}
	}
	return out, nil
}

// cgroupTree lists root and every cgroup below it, deepest first.
func cgroupTree(root string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	slices.Reverse(out)
	return out
}

// killCgroupProcs SIGKILLs every process in the trees: the Pods'
// containers, which outlive the kubelet and containerd. It repeats until
// the trees are empty, since a process may fork while the first pass runs.
func killCgroupProcs(roots []string, out io.Writer) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := map[int]bool{}
		for _, r := range roots {
			for _, cg := range cgroupTree(r) {
				for _, pid := range cgroupPIDs(cg) {
					pids[pid] = true
				}
			}
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes still in the lab's cgroups after 10 s: %v", slices.Sorted(maps.Keys(pids)))
		}
		for pid := range pids {
			st, err := readProcStat(pid)
			if err != nil || st.State == 'Z' {
				continue
			}
			comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
			if err := signal(pid, st.Start, unix.SIGKILL); err == nil {
				_, _ = fmt.Fprintf(out, "killed container process %s (pid %d)\n", strings.TrimSpace(string(comm)), pid)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cgroupPIDs reads a cgroup's member processes (cgroup.procs).
func cgroupPIDs(cg string) []int {
	b, err := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// removeCgroups removes the trees, deepest first. A cgroup whose last
// process just died can be busy for a moment: retry briefly.
func removeCgroups(roots []string) error {
	var errs []error
	for _, r := range roots {
		for _, cg := range cgroupTree(r) {
			var err error
			for range 50 {
				if err = unix.Rmdir(cg); err == nil || errors.Is(err, unix.ENOENT) {
					err = nil
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", cg, err))
			}
		}
	}
	return errors.Join(errs...)
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct{ point, fstype string }

func readMountInfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if m, ok := parseMountInfoLine(sc.Text()); ok {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMountInfoLine reads the mount point (field 5, octal escapes
// undone) and the filesystem type (the first field after " - ").
func parseMountInfoLine(line string) (mountEntry, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	f := strings.Fields(pre)
	g := strings.Fields(post)
	if !ok || len(f) < 5 || len(g) < 1 {
		return mountEntry{}, false
	}
	return mountEntry{point: unescapeMount(f[4]), fstype: g[0]}, true
}

var octalEscape = regexp.MustCompile(`\\[0-7]{3}`)

func unescapeMount(s string) string {
	return octalEscape.ReplaceAllStringFunc(s, func(e string) string {
		n, _ := strconv.ParseUint(e[1:], 8, 8)
		return string(rune(n))
	})
}

// MountsUnder lists the mount points at or below dir, the last mounted
// first (the order to unmount them in).
func MountsUnder(dir string) ([]string, error) {
	mounts, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mounts {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			out = append(out, m.point)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// unmountUnder detaches every mount at or below dir. It must succeed
// before dir is removed: removing files through a mount (a volume, an
// overlay's lower directory) would delete what it shows.
func unmountUnder(dir string) error {
	for range 5 {
		points, err := MountsUnder(dir)
		if err != nil {
			return err
		}
		if len(points) == 0 {
			return nil
		}
		for _, p := range points {
			_ = unix.Unmount(p, unix.MNT_DETACH)
		}
	}
	points, err := MountsUnder(dir)
	if err != nil {
		return err
	}
	if len(points) > 0 {
		return fmt.Errorf("mounts left under %s: %s", dir, strings.Join(points, " "))
	}
	return nil
}

// shimSocketDir is where containerd's runc v2 shims listen, for every
// containerd on the machine (containerd 1.6 has no setting for it).
const shimSocketDir = "/run/containerd/s"

// shimSocket is the socket of the shim of task id in containerd's
// namespace ns, for the containerd listening on address: containerd names
// it by the SHA-256 of "<address>/<namespace>/<id>"
// (runtime/v2/shim.SocketAddress). A shim removes it when it exits
// cleanly; a killed one leaves it.
func shimSocket(address, ns, id string) string {
	sum := sha256.Sum256([]byte(filepath.Join(address, ns, id)))
	return filepath.Join(shimSocketDir, hex.EncodeToString(sum[:]))
}

// removeTaskLeftovers removes what the killed tasks of a node may have
// left outside the lab directory, for each task directory in the node's
// containerd state: its shim's socket, and the loopback plugin's cached
// result (libcni names it cni-loopback-<sandbox id>-lo, whatever the
// network).
func removeTaskLeftovers(n nodePaths) {
	entries, err := os.ReadDir(n.taskDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		_ = os.Remove(shimSocket(n.containerdSocket(), criNamespace, e.Name()))
		_ = os.Remove(filepath.Join(cniResultsDir, "cni-loopback-"+e.Name()+"-lo"))
	}
}

// cniResultsDir is libcni's machine-wide cache of ADD results.
const cniResultsDir = "/var/lib/cni/results"

// removeCNIResults removes the cached results of the lab's networks
// (<network>-<container id>-<interface>), which a CNI DEL would have
// removed had the sandboxes been stopped rather than killed.
func removeCNIResults(prefix string) {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `node[0-9]+-[0-9a-f]{64}-`)
	entries, _ := os.ReadDir(cniResultsDir)
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			_ = os.Remove(filepath.Join(cniResultsDir, e.Name()))
		}
	}
}

// devicePluginDir is the kubelet's hard-coded device plugin directory;
// every kubelet on the machine binds kubelet.sock in it.
const devicePluginDir = "/var/lib/kubelet/device-plugins"

// removeDevicePluginDir removes the device plugin directory, and
// /var/lib/kubelet when nothing else is in it, once no kubelet runs on the
// machine: while another lab's kubelet runs, the socket is its.
func removeDevicePluginDir() {
	if kubeletRunning() {
		return
	}
	_ = os.Remove(filepath.Join(devicePluginDir, "kubelet.sock"))
	_ = os.Remove(devicePluginDir)
	_ = os.Remove(filepath.Dir(devicePluginDir))
}

// kubeletRunning reports whether any process on the machine runs a
// binary named kubelet.
func kubeletRunning() bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && filepath.Base(exe) == "kubelet" {
			return true
		}
	}
	return false
}

// containerLogLinks is the kubelet's hard-coded directory of symlinks to
// every container's log.
const containerLogLinks = "/var/log/containers"

// removeContainerLogLinks removes the links into dir, then the directory
// itself if nothing else is left in it.
func removeContainerLogLinks(dir string) {
	entries, _ := os.ReadDir(containerLogLinks)
	for _, e := range entries {
		p := filepath.Join(containerLogLinks, e.Name())
		if t, err := os.Readlink(p); err == nil && strings.HasPrefix(t, dir+"/") {
			_ = os.Remove(p)
		}
	}
	_ = os.Remove(containerLogLinks) // fails, harmlessly, when not empty
}

// cleanupRealNodes removes what real kubelets left outside the lab's
// namespaces (see the top of this file); restores the sysctls when the
// state recorded them. It runs after the lab's processes are stopped and
// before its namespaces and files go, for every lab: a stand-in lab has
// none of it, so it finds nothing.
func cleanupRealNodes(dir, prefix string, sysctls map[string]string, out io.Writer) []error {
	var errs []error
	cgs, err := labCgroups(prefix)
	if err != nil {
		errs = append(errs, err)
	}
	if err := killCgroupProcs(cgs, out); err != nil {
		errs = append(errs, err)
	}
	nodes := filepath.Join(dir, nodesDir)
	if err := unmountUnder(nodes); err != nil {
		errs = append(errs, err)
	}
	if entries, err := os.ReadDir(nodes); err == nil {
		for _, e := range entries {
			removeTaskLeftovers(realNodePaths(dir, e.Name()))
		}
	}
	removeCNIResults(prefix)
	removeContainerLogLinks(dir)
	if len(cgs) > 0 {
		removeDevicePluginDir()
		// Directories containerd and libcni create on first use; gone
		// only when empty, so another runtime's files stay.
		for _, d := range []string{shimSocketDir, filepath.Dir(shimSocketDir), cniResultsDir, filepath.Dir(cniResultsDir)} {
			_ = os.Remove(d)
		}
	}
	if err := removeCgroups(cgs); err != nil {
		errs = append(errs, err)
	}
	if len(cgs) > 0 {
		_, _ = fmt.Fprintf(out, "removed %d cgroups of %s*\n", len(cgs), prefix)
	}
	if len(sysctls) > 0 {
		if err := restoreSysctls(sysctls); err != nil {
			errs = append(errs, err)
		} else {
			_, _ = fmt.Fprintf(out, "restored sysctls %s\n", formatSysctls(sysctls))
		}
	}
	return errs
}

func formatSysctls(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, strings.ReplaceAll(k, "/", ".")+"="+m[k])
	}
	return strings.Join(parts, " ")
}
