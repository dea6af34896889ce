package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DownOptions configure `ironlb lab down`.
type DownOptions struct {
	Dir string
	// Prefix is the namespace prefix to sweep when Dir holds no state.
	Prefix string
	// KeepLogs leaves <dir>/logs and the router's logs in place.
	KeepLogs bool
	Out      io.Writer
}

// stopGrace is how long a process gets between SIGTERM and SIGKILL.
const stopGrace = 3 * time.Second

// Down removes a lab: every process it recorded (verified by start time, so
// a reused PID is never hit), any process still inside its namespaces, the
// namespaces (and with them their veths, bridge, routes and nftables
// rules) and its files. It is idempotent: a missing lab is not an error.
func Down(ctx context.Context, o DownOptions) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("--dir %q: %w", o.Dir, err)
	}
	prefix := o.Prefix
	var errs []error
	var sysctls map[string]string
	if _, err := os.Stat(dir); err == nil {
		unlock, err := lockDir(dir)
		if err != nil {
			return err
		}
		defer unlock()
		if s, err := LoadState(dir); err == nil {
			prefix = s.Prefix
			sysctls = s.HostSysctls
			errs = append(errs, stopProcs(s, o.Out)...)
			defer removeProcFiles(s)
		} else if !errors.Is(err, ErrNoLab) {
			_, _ = fmt.Fprintf(o.Out, "warning: %v; sweeping namespaces %s* only\n", err, prefix)
		}
	}
	nss, err := labNamespaces(prefix)
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, killInNamespaces(nss, o.Out)...)
	errs = append(errs, cleanupRealNodes(dir, prefix, sysctls, o.Out)...)
	// The lan namespace last.
	lan := prefix + lanNamespace
	var ordered []string
	for _, ns := range nss {
		if ns != lan {
			ordered = append(ordered, ns)
		}
	}
	if len(ordered) != len(nss) {
		ordered = append(ordered, lan)
	}
	if err := deleteNamespaces(ctx, ordered); err != nil {
		errs = append(errs, err)
	}
	if len(ordered) > 0 {
		_, _ = fmt.Fprintf(o.Out, "removed namespaces %s\n", strings.Join(ordered, " "))
	}
	if err := removeFiles(dir, o.KeepLogs); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopProcs stops the recorded processes, highest Order first (the
// supervisor before what it restarts), each Order group in parallel.
func stopProcs(s *State, out io.Writer) []error {
	var errs []error
	var mu sync.Mutex
	procs := s.SortedProcs()
	for i := 0; i < len(procs); {
		j := i
		for j < len(procs) && procs[j].Order == procs[i].Order {
			j++
		}
		var wg sync.WaitGroup
		for _, pr := range procs[i:j] {
			if !pr.Alive() {
				continue
			}
			wg.Go(func() {
				grace := stopGrace
				if pr.Name == "supervisor" {
					grace = 0 // it holds nothing; SIGKILL is immediate
				}
				err := terminate(pr.PID, pr.Start, grace)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("stopping %s: %w", pr.Name, err))
					return
				}
				_, _ = fmt.Fprintf(out, "stopped %s (pid %d)\n", pr.Name, pr.PID)
			})
		}
		wg.Wait()
		i = j
	}
	return errs
}

// killInNamespaces SIGKILLs any process still inside one of the lab's
// namespaces: what `ironlb lab exec` left running, or what a lost state
// file no longer names. Only the lab's own namespaces are looked at.
func killInNamespaces(nss []string, out io.Writer) []error {
	inodes := map[uint64]string{}
	for _, ns := range nss {
		var st syscall.Stat_t
		if err := syscall.Stat(netnsPath(ns), &st); err == nil {
			inodes[st.Ino] = ns
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	var errs []error
	spare := ancestors()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || spare[pid] {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/"+e.Name()+"/ns/net", &st); err != nil {
			continue
		}
		ns, ours := inodes[st.Ino]
		if !ours {
			continue
		}
		ps, err := readProcStat(pid)
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err := terminate(pid, ps.Start, 0); err != nil {
			errs = append(errs, fmt.Errorf("killing %s (pid %d) in %s: %w", strings.TrimSpace(string(comm)), pid, ns, err))
			continue
		}
		_, _ = fmt.Fprintf(out, "killed leftover %s (pid %d) in namespace %s\n", strings.TrimSpace(string(comm)), pid, ns)
	}
	return errs
}

// ancestors are this process and its parents up to init: never killed,
// even if one of them had a thread inside a lab namespace.
func ancestors() map[int]bool {
	out := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !out[pid]; {
		out[pid] = true
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			break
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if i < 0 || len(f) < 2 {
			break
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return out
}

// removeProcFiles removes the files the stopped processes left outside
// the lab directory (FRR's crash-log directories).
func removeProcFiles(s *State) {
	for _, pr := range s.Procs {
		for _, f := range pr.Files {
			_ = os.RemoveAll(f)
		}
	}
}

// labFiles are the entries of a lab directory the lab creates.
var labFiles = []string{stateFile, stateFile + ".tmp", "kubeconfig", "pki", installDir, "etcd", "router", "logs", nodesDir, monitoringDir,
	metallbDir, auditPolicyFile, egressConfigFile, egressSocketFile}

// removeFiles deletes the lab's files from dir, then dir itself when
// nothing else is left in it.
func removeFiles(dir string, keepLogs bool) error {
	var errs []error
	for _, name := range labFiles {
		if keepLogs && (name == "logs" || name == "router") {
			continue
		}
		// Never remove through a mount a real kubelet left (a volume,
		// an overlay): cleanupRealNodes unmounts them first, or says why
		// it could not.
		left, err := MountsUnder(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("not removing %s: reading its mounts: %w", filepath.Join(dir, name), err))
			continue
		}
		if len(left) > 0 {
			errs = append(errs, fmt.Errorf("not removing %s: mounts left below it: %s", filepath.Join(dir, name), strings.Join(left, " ")))
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if !keepLogs {
		_ = os.Remove(filepath.Join(dir, lockFile))
		_ = os.Remove(dir) // fails, harmlessly, when other files live there
	}
	return errors.Join(errs...)
}
