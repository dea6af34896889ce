package config

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ParseNamespacedName parses "namespace/name", as the controller's and the
// speaker's options name a ConfigMap or a Secret. what and example word the
// error ("memberlist secret", "ironlb-system/ironlb-memberlist").
func ParseNamespacedName(what, s, example string) (types.NamespacedName, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return types.NamespacedName{}, fmt.Errorf("%s %q: want namespace/name, such as %s", what, s, example)
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}
