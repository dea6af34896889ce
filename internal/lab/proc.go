package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procStat is what the lab needs from /proc/PID/stat: the state letter
// and the start time (clock ticks since boot), which together with the PID
// identify one process for its whole life, immune to PID reuse.
type procStat struct {
	State byte
	Start uint64
}

// readProcStat reads /proc/PID/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses the contents of /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from the
// last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("proc stat: no ')' after the command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the command name, want at least 20", len(f))
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("proc stat: start time %q: %w", f[19], err)
	}
	return procStat{State: f[0][0], Start: start}, nil
}

// alive reports whether pid is still the process that started at start,
// and not a zombie.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readProcStat(pid)
	return err == nil && st.Start == start && st.State != 'Z' && st.State != 'X'
}

// signal sends sig to pid only if pid is still the process that started
// at start. A pidfd pins the process between the check and the signal, so
// a reused PID is never hit. A process already gone is not an error.
func signal(pid int, start uint64, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer func() { _ = unix.Close(fd) }()
	if !alive(pid, start) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal %v to %d: %w", sig, pid, err)
	}
	return nil
}

// terminate stops a process the lab started: SIGTERM, then SIGKILL after
// grace. It returns once the process is gone (or is a zombie its parent
// will reap).
func terminate(pid int, start uint64, grace time.Duration) error {
	if !alive(pid, start) {
		return nil
	}
	if err := signal(pid, start, syscall.SIGTERM); err != nil {
		return err
	}
	if waitGone(pid, start, grace) {
		return nil
	}
	if err := signal(pid, start, syscall.SIGKILL); err != nil {
		return err
	}
	if !waitGone(pid, start, 5*time.Second) {
		return fmt.Errorf("process %d survived SIGKILL for 5 s", pid)
	}
	return nil
}

func waitGone(pid int, start uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(pid, start) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spawnSpec describes a long-running process of the lab.
type spawnSpec struct {
	// Netns, when set, is the network namespace to run in (through
	// `ip netns exec`, which execs the command: the PID stays the same).
	Netns string
	// NetOnly enters Netns with `nsenter --net=` instead: only the network
	// namespace changes, /sys and the cgroup mounts stay the machine's
	// (nsenter execs the command too).
	NetOnly bool
	Args    []string
	Env     []string
	// Log receives standard output and error (appended).
	Log string
}

// spawn starts a detached process: a session of its own (it survives the
// command that started it and gets no terminal signals), stdin from
// /dev/null, output to its log. The caller must either Wait for cmd (to
// reap it) or exit, leaving it to init.
func spawn(s spawnSpec) (*exec.Cmd, procStat, error) {
	argv := s.Args
	switch {
	case s.Netns != "" && s.NetOnly:
		argv = append([]string{"nsenter", "--net=" + netnsPath(s.Netns), "--"}, argv...)
	case s.Netns != "":
		argv = append([]string{"ip", "netns", "exec", s.Netns}, argv...)
	}
	logf, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, procStat{}, fmt.Errorf("opening log: %w", err)
	}
	defer func() { _ = logf.Close() }()
	_, _ = fmt.Fprintf(logf, "---- %s lab: starting %q\n", time.Now().Format(time.RFC3339), argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, procStat{}, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	st, err := readProcStat(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, procStat{}, fmt.Errorf("reading start time of %s (pid %d): %w", argv[0], cmd.Process.Pid, err)
	}
	return cmd, st, nil
}
