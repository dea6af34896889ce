package webhook

import (
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/rest"

	"github.com/ironlb/ironlb/internal/testenv"
)

// The controller's generated roles and the webhook component's own.
var roleFiles = []string{
	filepath.Join("..", "..", "config", "rbac", "controller", "role.yaml"),
	filepath.Join("..", "..", "config", "webhook", "rbac.yaml"),
}

// asController grants a ServiceAccount of ns exactly the roles of the
// install manifests (the controller's and the webhook component's), moved
// to ns and with the webhook configuration's name replaced by
// configuration, and returns a config impersonating it.
func asController(t *testing.T, env *testenv.Env, ns, configuration string) *rest.Config {
	t.Helper()
	return env.AsServiceAccount(t, ns, "ironlb-controller", roleFiles, func(r *rbacv1.PolicyRule) {
		for k, n := range r.ResourceNames {
			if n == DefaultConfiguration {
				r.ResourceNames[k] = configuration
			}
		}
	})
}
