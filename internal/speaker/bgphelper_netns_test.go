package speaker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
)

// The BGP lab: a router namespace running FRR (AS 64512) and four node
// namespaces, each running a speaker in a child process (GoBGP opens its
// sockets on arbitrary threads, so the whole process lives in the node's
// namespace; its API server connections are opened in the test's own
// namespace, which it inherits as file descriptor homeNetNSFD).
const (
	// bgpHelperEnv holds a child's bgpHelperConfig; when it is set,
	// TestMain runs runBGPSpeakerHelper instead of the tests.
	bgpHelperEnv = "IRONLB_SPEAKER_BGP_HELPER"
	// homeNetNSFD is homeNetNS in a child (its first extra file).
	homeNetNSFD    = 3
	bgpRouterASN   = 64512
	bgpNodeASN     = 64513
	bgpMD5Password = "right-s3cret"
	// bgpMetricsAddr is where each child serves /metrics, inside its node
	// namespace (every namespace has its own loopback).
	bgpMetricsAddr = "127.0.0.1:7473"
)

var (
	bgpVIP4 = netip.MustParseAddr("10.96.3.100")
	bgpVIP6 = netip.MustParseAddr("fd00:96:3::100")
)

// bgpHelperConfig is what the test passes to a speaker child.
type bgpHelperConfig struct {
	Kubeconfig, Node, Namespace string
	Debug                       bool
}

// runBGPSpeakerHelper is the speaker child startBGPSpeaker starts inside a
// node namespace (TestMain runs it instead of the tests): it runs a
// speaker until SIGTERM, then exits (closing whatever BGP sessions the
// speaker left open, as a real process does). It returns the process's
// exit code.
func runBGPSpeakerHelper() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "speaker child: "+format+"\n", args...)
		return 1
	}
	var hc bgpHelperConfig
	if err := json.Unmarshal([]byte(os.Getenv(bgpHelperEnv)), &hc); err != nil {
		return fail("parsing $%s: %v", bgpHelperEnv, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", hc.Kubeconfig)
	if err != nil {
		return fail("%v", err)
	}
	// The API server listens in the test's namespace, the one this
	// process inherited as homeNetNSFD: connections to it are opened
	// there.
	home := fmt.Sprintf("/proc/self/fd/%d", homeNetNSFD)
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netnstest.Enter(home, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	level := slog.LevelInfo
	if hc.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", hc.Node)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	opts := Options{
		NodeName: hc.Node, Namespace: hc.Namespace, DisableMemberlist: true,
		MetricsBindAddress: bgpMetricsAddr, HealthProbeBindAddress: "0", logger: log,
	}
	if err := Run(ctx, cfg, opts); err != nil {
		return fail("%v", err)
	}
	return 0
}

// bgpSpeaker is a speaker child process.
type bgpSpeaker struct {
	host     *netnstest.Host
	cmd      *exec.Cmd
	done     chan struct{}
	err      error // the process's exit; set before done is closed
	reported bool  // err was reported (stop runs again when the test ends)
	log      *bytes.Buffer
	mu       sync.Mutex // guards log
}

// startBGPSpeaker runs a speaker for host in its namespace until stop or
// the end of the test.
func startBGPSpeaker(t *testing.T, env *testenv.Env, ns string, h *netnstest.Host) *bgpSpeaker {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := json.Marshal(bgpHelperConfig{
		Kubeconfig: env.Kubeconfig, Node: h.Name, Namespace: ns, Debug: os.Getenv("SPEAKER_TEST_LOG") != "",
	})
	if err != nil {
		t.Fatal(err)
	}
	sp := &bgpSpeaker{host: h, done: make(chan struct{}), log: &bytes.Buffer{}}
	sp.cmd = h.Command(context.Background(), exe)
	sp.cmd.Env = append(os.Environ(), bgpHelperEnv+"="+string(hc))
	sp.cmd.ExtraFiles = []*os.File{homeNetNS} // homeNetNSFD; `ip netns exec` passes it on
	var w io.Writer = lockedWriter{sp}
	if os.Getenv("SPEAKER_TEST_LOG") != "" {
		w = io.MultiWriter(w, os.Stderr)
	}
	sp.cmd.Stdout, sp.cmd.Stderr = w, w
	if err := sp.cmd.Start(); err != nil {
		t.Fatalf("starting the speaker of %s: %v", h.Name, err)
	}
	go func() {
		sp.err = sp.cmd.Wait()
		close(sp.done)
	}()
	t.Cleanup(func() {
		sp.stop(t)
		if t.Failed() {
			t.Logf("speaker %s output:\n%s", h.Name, sp.output())
		}
	})
	return sp
}

type lockedWriter struct{ sp *bgpSpeaker }

func (l lockedWriter) Write(b []byte) (int, error) {
	l.sp.mu.Lock()
	defer l.sp.mu.Unlock()
	return l.sp.log.Write(b)
}

func (sp *bgpSpeaker) output() string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.log.String()
}

// stop stops the speaker gracefully (SIGTERM; `ip netns exec` execs the
// test binary, so the PID is the speaker's) and waits for the process to
// exit, failing the test when it exits with an error (or had before).
func (sp *bgpSpeaker) stop(t *testing.T) {
	select {
	case <-sp.done:
		if sp.err != nil && !sp.reported {
			sp.reported = true
			t.Errorf("the speaker of %s exited before it was stopped: %v", sp.host.Name, sp.err)
		}
		return
	default:
	}
	_ = sp.cmd.Process.Signal(syscall.SIGTERM)
	budget := testkit.Budget(speakerStop)
	select {
	case <-sp.done:
	case <-time.After(budget):
		t.Errorf("the speaker of %s did not stop within %v; killing it", sp.host.Name, budget)
		_ = sp.cmd.Process.Kill()
		<-sp.done
	}
	if sp.err != nil && !sp.reported {
		sp.reported = true
		t.Errorf("the speaker of %s: %v", sp.host.Name, sp.err)
	}
}

// metrics scrapes the speaker's /metrics inside its namespace.
func (sp *bgpSpeaker) metrics() (string, error) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := sp.host.Do(func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	// One attempt: the waits around it retry until their budget.
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Get("http://" + bgpMetricsAddr + "/metrics")
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
