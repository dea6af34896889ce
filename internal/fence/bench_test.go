package fence

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
)

// TestBenchLeaseWrites measures, with IRONLB_BENCH=1 (make bench), the
// API server writes leaseFencing costs: one node holding the Leases of 100
// addresses, each Lease change counted from a watch over one minute, for
// the default Lease duration and the shortest. The figures go to
// docs/performance.md; they are not asserted.
func TestBenchLeaseWrites(t *testing.T) {
	if os.Getenv("IRONLB_BENCH") != "1" {
		t.Skip("a benchmark: set IRONLB_BENCH=1 to run it")
	}
	const addresses = 100
	window := time.Minute
	env := testenv.Shared(t)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| Lease duration | Lease writes/s, %d addresses held | expected (4 per duration each) |\n|---|---|---|\n", addresses)
	for _, d := range []time.Duration{6 * time.Second, MinDuration} {
		ns := env.NewNamespace(t)
		want := map[netip.Addr]time.Duration{}
		for i := range addresses {
			want[netip.AddrFrom4([4]byte{10, 99, byte(i / 256), byte(i % 256)})] = d
		}
		f := New(Config{Client: cs.CoordinationV1(), Namespace: ns, Identity: "node-a"})
		f.Want(want)
		deadline := time.Now().Add(testkit.Budget(10 * time.Second))
		for held := 0; held < addresses; {
			held = 0
			for a := range want {
				if f.Held(a) {
					held++
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d Leases held", held, addresses)
			}
			time.Sleep(50 * time.Millisecond)
		}
		w, err := cs.CoordinationV1().Leases(ns).Watch(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		writes := 0
		end := time.After(window)
	count:
		for {
			select {
			case ev := <-w.ResultChan():
				if _, ok := ev.Object.(*coordinationv1.Lease); ok && ev.Type == watch.Modified {
					writes++
				}
			case <-end:
				break count
			}
		}
		w.Stop()
		f.Stop()
		rate := float64(writes) / window.Seconds()
		fmt.Fprintf(&b, "| %s | %.1f | %.1f |\n", d, rate, float64(addresses)*4/d.Seconds())
	}
	t.Logf("\n%s", b.String())
	if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
