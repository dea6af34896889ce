package metrics

import (
	"crypto/tls"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// ReaderClusterRole is the ClusterRole the install manifests and the chart
// define for scraping ironlb's metrics endpoints when they are secure: get
// on the non-resource URL /metrics, which is what the endpoints ask the
// API server about each client (a SubjectAccessReview).
const ReaderClusterRole = "ironlb-metrics-reader"

// Serving is how a process serves /metrics; the controller and the
// speakers share it.
type Serving struct {
	// BindAddress is where /metrics is served; "0" disables it.
	BindAddress string
	// Secure serves HTTPS and lets in only clients the API server
	// authenticates (a TokenReview of their bearer token) and authorizes
	// (a SubjectAccessReview: get on the non-resource URL /metrics):
	// controller-runtime's filters.WithAuthenticationAndAuthorization.
	// The process's own ServiceAccount must be allowed to create both
	// reviews. Plain HTTP when false.
	Secure bool
	// CertDir holds tls.crt and tls.key for Secure; empty means a
	// self-signed certificate made at start.
	CertDir string
	// EnableHTTP2 allows HTTP/2. Off by default, as controller-runtime
	// recommends (HTTP/2 Rapid Reset, CVE-2023-44487).
	EnableHTTP2 bool
}

// Options returns the manager's metrics server options.
func (s Serving) Options() metricsserver.Options {
	o := metricsserver.Options{BindAddress: s.BindAddress}
	if !s.EnableHTTP2 {
		o.TLSOpts = append(o.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if s.Secure {
		o.SecureServing = true
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
		o.CertDir = s.CertDir
	}
	return o
}
