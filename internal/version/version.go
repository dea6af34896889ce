// Package version holds the build identity of the ironlb binary. The
// variables are set by the linker (see the Makefile's LDFLAGS).
package version

import (
	"fmt"
	"runtime"
)

// Set by -ldflags "-X github.com/ironlb/ironlb/internal/version.Version=...".
var (
	// Version is the release or `git describe` of the build; "dev" when unset.
	Version = "dev"
	// Commit is the short git commit of the build; "unknown" when unset.
	Commit = "unknown"
)

// Info is the build identity, printed by `ironlb version`.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build identity of the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		Commit:    Commit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String renders the identity on one line.
func (i Info) String() string {
	return fmt.Sprintf("ironlb %s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}
