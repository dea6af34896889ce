package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &State{
		Version: stateVersion, Dir: dir, Prefix: "ironlb-", Nodes: 2, IPFamily: DualStack,
		Ports:     Ports{APIServer: 6443, EtcdClient: 40001},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Procs: map[string]*Proc{
			"etcd":          {Name: "etcd", Args: []string{"etcd", "--x"}, PID: 10, Start: 99, Supervised: true, Order: 30},
			"speaker/node1": {Name: "speaker/node1", Host: "node1", PID: 11, Start: 100, Held: true, Order: 90},
		},
	}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary state file left behind: %v", err)
	}
}

func TestLoadStateMissing(t *testing.T) {
	_, err := LoadState(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no lab state") || !strings.Contains(err.Error(), "ironlb lab up") {
		t.Errorf("LoadState(empty dir) = %v, want a no-lab error naming `ironlb lab up`", err)
	}
}

func TestUpdateState(t *testing.T) {
	dir := t.TempDir()
	s := &State{Dir: dir, Procs: map[string]*Proc{}}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	if err := updateState(dir, func(s *State) error {
		s.Procs["a"] = &Proc{Name: "a", Restarts: 2}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Procs["a"] == nil || got.Procs["a"].Restarts != 2 {
		t.Errorf("update not saved: %+v", got.Procs)
	}
}

func TestSortedProcs(t *testing.T) {
	s := &State{Procs: map[string]*Proc{
		"etcd":           {Name: "etcd", Order: 30},
		"supervisor":     {Name: "supervisor", Order: 100},
		"agent/node2":    {Name: "agent/node2", Order: 80},
		"agent/node1":    {Name: "agent/node1", Order: 80},
		"kube-apiserver": {Name: "kube-apiserver", Order: 40},
	}}
	var got []string
	for _, p := range s.SortedProcs() {
		got = append(got, p.Name)
	}
	want := []string{"supervisor", "agent/node1", "agent/node2", "kube-apiserver", "etcd"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"plain", "1234 (etcd) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 987654 1000 200", procStat{'S', 987654}, false},
		{"name with spaces and parens", "77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0", procStat{'R', 42}, false},
		{"zombie", "9 (x) Z 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0", procStat{'Z', 7}, false},
		{"truncated", "9 (x) S 1 9", procStat{}, true},
		{"no name", "garbage", procStat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAliveSelf(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !alive(os.Getpid(), st.Start) {
		t.Error("this process is not alive by its own start time")
	}
	if alive(os.Getpid(), st.Start+1) {
		t.Error("a different start time matched: PID reuse would hit the wrong process")
	}
	if alive(0, 0) {
		t.Error("pid 0 alive")
	}
}

func TestBackoff(t *testing.T) {
	var b backoff
	now := time.Unix(1000, 0)
	if !b.ready(now) {
		t.Fatal("a fresh backoff is not ready")
	}
	var delays []time.Duration
	for range 7 {
		b.restarted(now)
		delays = append(delays, b.delay)
		now = now.Add(b.delay)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		want[i] *= time.Second
	}
	if d := cmp.Diff(want, delays); d != "" {
		t.Errorf("delays (-want +got):\n%s", d)
	}
	b.restarted(now.Add(2 * time.Minute))
	if b.delay != time.Second {
		t.Errorf("after a long run the delay is %s, want 1s", b.delay)
	}
}

func TestCheckTraversable(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	err := checkTraversable(filepath.Join(base, "not", "yet", "lab"))
	if err == nil || !strings.Contains(err.Error(), base+" is not searchable") {
		t.Errorf("closed parent: err = %v, want it named", err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkTraversable(filepath.Join(base, "not", "yet", "lab")); err != nil {
		t.Errorf("open parents: %v", err)
	}
}
