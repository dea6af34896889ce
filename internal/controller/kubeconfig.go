package controller

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// LoadConfig returns the client configuration to reach the API server,
// in this order: the kubeconfig file at path when it is not empty; the
// in-cluster configuration when KUBECONFIG is unset and ironlb runs in a
// Pod; otherwise the usual kubeconfig loading rules (KUBECONFIG, then
// ~/.kube/config). Rate limits are left to NewManager.
func LoadConfig(path string) (*rest.Config, error) {
	if path != "" {
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %w", path, err)
		}
		return cfg, nil
	}
	var inClusterErr error
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) == "" {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			return cfg, nil
		}
		inClusterErr = err
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no API server configuration: pass --kubeconfig, set %s, or run in a Pod: %w",
			clientcmd.RecommendedConfigPathEnvVar, errors.Join(inClusterErr, err))
	}
	return cfg, nil
}
