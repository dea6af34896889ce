package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/internal/testkit"
)

// Root is the prerequisite name [Require] reads as "the test runs as root".
const Root = "root"

// installHint says how to get every program the namespace tests use.
const installHint = "install the test prerequisites with `sudo hack/install-prereqs.sh test` " +
	"(Debian packages iproute2, procps, arping, ndisc6)"

// Require makes the test runnable only when every prerequisite is present:
// Root ("root") means the effective user ID is 0; any other name is a
// program looked up on $PATH. When something is missing the test is skipped
// with a message naming it and how to install it, or failed with the same
// message under CI (testkit.InCI).
func Require(t testing.TB, prereqs ...string) {
	t.Helper()
	if msg := Missing(prereqs...); msg != "" {
		testkit.Unavailable(t, "%s", msg)
	}
}

// Missing returns a message naming the prerequisites that are absent and
// how to get them, or "" when all are present. See [Require] for the names.
func Missing(prereqs ...string) string {
	var missing []string
	root := false
	for _, p := range prereqs {
		if p == Root {
			if os.Geteuid() != 0 {
				root = true
			}
			continue
		}
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	var parts []string
	if root {
		parts = append(parts, "needs root (network namespaces, veths and raw sockets); run the tests with sudo")
	}
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("programs not on $PATH: %s; %s", strings.Join(missing, ", "), installHint))
	}
	return strings.Join(parts, "; ")
}
