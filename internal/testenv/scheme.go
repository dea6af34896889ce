package testenv

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
)

// schemeAdders register the types an Env's client understands. Adding an API
// package to every integration test's client is one line here.
var schemeAdders = []func(*runtime.Scheme) error{
	clientgoscheme.AddToScheme,
	ironlbv1beta1.AddToScheme,
}

// NewScheme returns a new scheme holding client-go's built-in types and
// ironlb's API types: the scheme of Env.Client.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range schemeAdders {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("testenv: building scheme: %w", err)
		}
	}
	return s, nil
}
