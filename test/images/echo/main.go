// Command echo is the lab's test server image (ironlb-lab-echo): it
// answers every HTTP request on -listen with one line naming the Pod and
// node (from the Downward API variables POD_NAMESPACE, POD_NAME and
// NODE_NAME), the address and port it was reached on, and the client —
// the same line the kubelet stand-in's built-in servers answer with, so a
// test reads both alike:
//
//	pod=<ns>/<name> node=<node> ip=<local ip> port=<local port> client=<remote ip:port>
//
// With -apicheck it instead asks the API server who it is, as a Pod's
// in-cluster client does — through the kubernetes Service
// (KUBERNETES_SERVICE_HOST and _PORT), verifying the serving certificate
// with the ServiceAccount's CA and sending its token — prints
//
//	apiserver=<host:port> user=<username>
//
// and exits 0, or prints the error and exits 1.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve HTTP on")
	apicheck := flag.Bool("apicheck", false, "ask the API server who this Pod is, print the answer and exit")
	flag.Parse()
	if *apicheck {
		out, err := whoAmI()
		if err != nil {
			fmt.Println("apicheck:", err)
			os.Exit(1)
		}
		fmt.Println(out)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(answer), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "address", *listen)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		slog.Error("serving", "error", err)
		os.Exit(1)
	}
}

func answer(w http.ResponseWriter, r *http.Request) {
	ip, port := "", ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		ip, port, _ = net.SplitHostPort(a.String())
	}
	_, _ = fmt.Fprintf(w, "pod=%s/%s node=%s ip=%s port=%s client=%s\n",
		os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME"), os.Getenv("NODE_NAME"), ip, port, r.RemoteAddr)
}

// serviceAccountDir is where the kubelet mounts a Pod's ServiceAccount
// token and the cluster's CA.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// whoAmI posts a SelfSubjectReview to the API server through the
// kubernetes Service and names the server and the user it saw.
func whoAmI() (string, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return "", errors.New("KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT not set")
	}
	token, err := os.ReadFile(serviceAccountDir + "/token")
	if err != nil {
		return "", err
	}
	ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return "", errors.New("no certificate in ca.crt")
	}
	server := net.JoinHostPort(host, port)
	c := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	req, err := http.NewRequest(http.MethodPost, "https://"+server+"/apis/authentication.k8s.io/v1/selfsubjectreviews", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var review struct {
		Status struct {
			UserInfo struct {
				Username string `json:"username"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST selfsubjectreviews at %s: %s", server, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil {
		return "", fmt.Errorf("decoding the SelfSubjectReview: %w", err)
	}
	return fmt.Sprintf("apiserver=%s user=%s", server, review.Status.UserInfo.Username), nil
}
