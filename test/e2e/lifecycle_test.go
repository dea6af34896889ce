//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// testRecoverKilledLab SIGKILLs every process of the lab, leaving its
// namespaces, files and state behind as a crash would, then runs `lab up`
// again and wants a working cluster.
func testRecoverKilledLab(t *testing.T) {
	s, err := lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.SortedProcs() {
		if p.Alive() {
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("killing %s: %v", p.Name, err)
			}
		}
	}
	// Expected: SIGKILLed processes are gone at once; the budget's minimum.
	eventually(t, testkit.Budget(time.Second), "every lab process dead", func() error {
		for _, p := range s.Procs {
			if p.Alive() {
				return fmt.Errorf("%s (pid %d) still alive", p.Name, p.PID)
			}
		}
		return nil
	})
	if n := labNamespaceCount(t); n == 0 {
		t.Fatal("the namespaces vanished with the processes; the crash case is not exercised")
	}

	start := time.Now()
	if out, err := labUp(); err != nil {
		t.Fatalf("lab up after a crash: %v\n%s", err, out)
	}
	t.Logf("lab up after a crash: %s", time.Since(start).Round(100*time.Millisecond))

	cs := clientset(t)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != e2e.nodes {
		t.Errorf("%d nodes after recovery, want %d", len(nodes.Items), e2e.nodes)
	}
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				t.Errorf("node %s not Ready after recovery", n.Name)
			}
		}
	}
	w, _ := newWorkload() // the lab goes down next
	testWorkload(t, w)    // the full path works again
}

// testDown runs `lab down` and checks that no namespace, process, mount or
// file of the lab is left.
func testDown(t *testing.T) {
	s, err := lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	ironlb(t, "down")
	if n := labNamespaceCount(t); n != 0 {
		t.Errorf("%d namespaces %s* left after down", n, e2e.prefix)
	}
	for _, p := range s.Procs {
		if p.Alive() {
			t.Errorf("%s (pid %d) alive after down", p.Name, p.PID)
		}
		for _, f := range p.Files {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%s left %s", p.Name, f)
			}
		}
	}
	// Any live process mentioning the lab directory (its own processes all
	// do, through flags) or running inside the lab's namespaces. An
	// unreadable /proc would pass this check unseen: it fails instead.
	entries, err := os.ReadDir("/proc")
	if err != nil || len(entries) == 0 {
		t.Fatalf("listing /proc: %d entries, %v", len(entries), err)
	}
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 { // kernel threads and zombies have none
			continue
		}
		if strings.Contains(string(cmdline), e2e.dir) {
			t.Errorf("process %s still runs: %s", e.Name(), strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), "/run/netns/"+e2e.prefix) {
		t.Errorf("netns mounts of %s* left:\n%s", e2e.prefix, mounts)
	}
	if _, err := os.Stat(e2e.dir); !errors.Is(err, os.ErrNotExist) {
		left, _ := os.ReadDir(e2e.dir)
		t.Errorf("lab directory %s left (%v) with %d entries", e2e.dir, err, len(left))
	}
	// down is idempotent.
	ironlb(t, "down", "--prefix", e2e.prefix)
}

func labNamespaceCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	re := lab.NamespacePattern(e2e.prefix)
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			n++
		}
	}
	return n
}
