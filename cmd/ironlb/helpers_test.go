package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/internal/testkit"
)

// commandArgsEnv carries the arguments of a command's child process (see
// startCommand), as a JSON list.
const commandArgsEnv = "IRONLB_TEST_COMMAND_ARGS"

// TestMain runs the tests, or — in a child process of startCommand — the
// command named in commandArgsEnv (a dispatch here rather than a test that
// skips itself, so a normal run reports no skipped test).
func TestMain(m *testing.M) {
	if encoded := os.Getenv(commandArgsEnv); encoded != "" {
		os.Exit(runCommandProcess(encoded))
	}
	os.Exit(m.Run())
}

// startCommand runs `ironlb ARGS...` in a child process (this test binary,
// see runCommandProcess) and returns a function that stops it with SIGTERM,
// as Kubernetes stops a Pod, and fails the test unless it exits 0.
//
// A child process, not a goroutine: a command installs process-wide loggers
// (slog, klog, controller-runtime), and controller-runtime's goroutines
// outlive a stopped manager, so in this process they would race with the
// next test's logging set-up.
func startCommand(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	encoded, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	var output strings.Builder
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), commandArgsEnv+"="+string(encoded))
	child.Stdout, child.Stderr = &output, &output
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		if err := child.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("signalling ironlb %s: %v", args[0], err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("ironlb %s exited with %v:\n%s", args[0], err, output.String())
			}
		case <-time.After(time.Minute):
			_ = child.Process.Kill()
			t.Errorf("ironlb %s did not stop on SIGTERM:\n%s", args[0], output.String())
		}
	}
	t.Cleanup(stop)
	return stop
}

// runCommandProcess is the child process of startCommand: it runs the root
// command with the arguments encoded (a JSON list) until SIGTERM, as main
// does, and returns the exit code.
func runCommandProcess(encoded string) int {
	var args []string
	if err := json.Unmarshal([]byte(encoded), &args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", commandArgsEnv, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ironlb %s: %v\n", args, err)
		return 1
	}
	return 0
}

// checkFlagDefaults fails the test for every flag of want that cmd lacks
// or whose default differs.
func checkFlagDefaults(t *testing.T, cmd *cobra.Command, want map[string]string) {
	t.Helper()
	for name, def := range want {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			t.Errorf("no --%s flag", name)
			continue
		}
		if f.DefValue != def {
			t.Errorf("--%s defaults to %q, want %q", name, f.DefValue, def)
		}
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// get fetches a URL and returns its body; a status other than 200 is an
// error.
func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

// poll retries f until it succeeds, failing the test when it still fails
// after the budget for an outcome expected within 15 s (a command's start
// against a shared API server).
func poll(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(testkit.Budget(15 * time.Second))
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
