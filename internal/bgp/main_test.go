package bgp

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// gobgpServeLoop is GoBGP v3's server main loop. It has no way to end
// (BgpServer.Stop stops the peers and listeners, not the loop), so every
// GoBGP server a test started leaves it behind, idle; see the package
// documentation. Stacks with it anywhere are ignored (its top frame is
// reflect.rselect, too general to name).
const gobgpServeLoop = "github.com/osrg/gobgp/v3/pkg/server.(*BgpServer).Serve"

// TestMain runs the speaker child of the netns tests when started as one
// (helperEnv; see startRemote), and otherwise the tests, failing the run
// when a goroutine other than GoBGP's main loops outlives them.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHelperProcess())
	}
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(gobgpServeLoop))
}
