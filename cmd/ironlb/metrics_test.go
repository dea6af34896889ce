package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/internal/testenv"
)

// repoRoot is the repository, from this package's directory.
var repoRoot = filepath.Join("..", "..")

// roleFile is the generated RBAC of an ironlb component
// ("controller", "speaker").
func roleFile(component string) string {
	return filepath.Join(repoRoot, "config", "rbac", component, "role.yaml")
}

// kubeconfigAs writes a kubeconfig equivalent to env's but acting as the
// user cfg impersonates (testenv.Env.AsServiceAccount), so that a command
// runs with exactly the roles its ServiceAccount has.
func kubeconfigAs(t *testing.T, env *testenv.Env, cfg *rest.Config) string {
	t.Helper()
	return editKubeconfig(t, env, func(kc *clientcmdapi.Config) {
		for _, a := range kc.AuthInfos {
			a.Impersonate = cfg.Impersonate.UserName
		}
	})
}

// editKubeconfig writes a copy of env's kubeconfig changed by edit and
// returns its path.
func editKubeconfig(t *testing.T, env *testenv.Env, edit func(*clientcmdapi.Config)) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	edit(kc)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// metricsReaders are bearer tokens for a secure /metrics endpoint: of a
// ServiceAccount bound to the ClusterRole the manifests ship for scrapers
// (config/rbac/metrics-reader.yaml), and of one with no role at all.
type metricsReaders struct{ reader, nobody string }

func newMetricsReaders(t *testing.T, env *testenv.Env, ns string) metricsReaders {
	t.Helper()
	env.AsServiceAccount(t, ns, "scraper", []string{filepath.Join(repoRoot, "config", "rbac", "metrics-reader.yaml")}, nil)
	env.AsServiceAccount(t, ns, "nobody", nil, nil)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), sa,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("a token for ServiceAccount %s/%s: %v", ns, sa, err)
		}
		return tr.Status.Token
	}
	return metricsReaders{reader: token("scraper"), nobody: token("nobody")}
}

// getHTTPS GETs url over TLS without checking the certificate (the
// endpoints' default one is self-signed), with token as bearer token when
// set, and returns the status code and body.
func getHTTPS(ctx context.Context, url, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the self-signed default certificate
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// checkSecureMetrics waits until the reader's token reads addr's /metrics
// over HTTPS with every series of want, then checks that no token gets
// 401, a token without the role 403 and a token the API server does not
// know no metrics (controller-runtime's filter answers 500 "Authentication
// failed" when the TokenReview fails, as it does for a forged token), and
// that plain HTTP is not served. The command reviews each token with the API server as its own
// ServiceAccount, so this also proves its role may create TokenReviews and
// SubjectAccessReviews.
func checkSecureMetrics(t *testing.T, r metricsReaders, addr string, want ...string) {
	t.Helper()
	ctx := t.Context()
	url := "https://" + addr + "/metrics"
	poll(t, "metrics over HTTPS with the reader's token", func() error {
		code, body, err := getHTTPS(ctx, url, r.reader)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("status %d: %.200s", code, body)
		}
		for _, m := range want {
			if !strings.Contains(body, m) {
				return fmt.Errorf("no %s", m)
			}
		}
		return nil
	})
	for _, c := range []struct {
		who   string
		token string
		want  int // 0: any refusal
	}{{"no token", "", http.StatusUnauthorized}, {"a token without the role", r.nobody, http.StatusForbidden}, {"a forged token", "not-a-token", 0}} {
		code, body, err := getHTTPS(ctx, url, c.token)
		if err != nil || code == http.StatusOK || (c.want != 0 && code != c.want) || strings.Contains(body, "ironlb_") {
			t.Errorf("GET %s with %s: status %d (%v) %.200s; want %d and no metrics", url, c.who, code, err, body, c.want)
		}
	}
	if body, err := get(ctx, "http://"+addr+"/metrics"); err == nil {
		t.Errorf("plain HTTP GET %s/metrics answered: %.200s", addr, body)
	}
}
