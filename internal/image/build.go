package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// versionPkg is the package whose variables the linker sets (see the
// Makefile's LDFLAGS).
const versionPkg = "github.com/ironlb/ironlb/internal/version"

// DefaultPlatforms are the platforms of a release image.
var DefaultPlatforms = []Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}}

// BuildOptions configure Build.
type BuildOptions struct {
	Options
	// Dir is the module root the package is built in.
	Dir string
	// Package is the main package, e.g. "./cmd/ironlb".
	Package string
	// Platforms to build; DefaultPlatforms when empty.
	Platforms []Platform
	// Out is the tarball to write; BinDir keeps the binaries
	// (<BinDir>/ironlb-<os>-<arch>), a temporary directory when empty.
	Out, BinDir string
	// Go is the go command; "go" when empty.
	Go string
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// Build cross-compiles Package for every platform (CGO_ENABLED=0,
// -trimpath, the Makefile's linker flags with Version and Revision, the
// same cache keys as `make build` on the host platform) and writes the
// image tarball to Out. It returns the binaries it built.
func Build(ctx context.Context, o BuildOptions) ([]Binary, error) {
	if o.Out == "" || o.Dir == "" || o.Package == "" {
		return nil, fmt.Errorf("image: Out, Dir and Package are required")
	}
	if len(o.Platforms) == 0 {
		o.Platforms = DefaultPlatforms
	}
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	binDir := o.BinDir
	if binDir == "" {
		tmp, err := os.MkdirTemp("", "ironlb-image-")
		if err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		binDir = tmp
	}
	var bins []Binary
	for _, p := range o.Platforms {
		start := time.Now()
		out := filepath.Join(binDir, "ironlb-"+p.OS+"-"+p.Arch+variantSuffix(p))
		if err := goBuild(ctx, o, p, out); err != nil {
			return nil, err
		}
		_, _ = fmt.Fprintf(o.Log, "built %s for %s in %s\n", out, p, time.Since(start).Round(100*time.Millisecond))
		bins = append(bins, Binary{Platform: p, Path: out})
	}
	start := time.Now()
	idx, err := Index(bins, o.Options)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := WriteTarball(o.Out, idx, o.Name); err != nil {
		return nil, err
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	_, _ = fmt.Fprintf(o.Log, "wrote %s (%s, index %s) in %s\n", o.Out, o.Name, digest, time.Since(start).Round(100*time.Millisecond))
	if o.BinDir == "" {
		bins = nil // removed with the temporary directory
	}
	return bins, nil
}

func variantSuffix(p Platform) string {
	if p.Variant == "" {
		return ""
	}
	return "-" + p.Variant
}

// LDFlags are the linker flags of a build with version and revision, as
// the Makefile's.
func LDFlags(version, revision string) string {
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", versionPkg, version, versionPkg, revision)
}

func goBuild(ctx context.Context, o BuildOptions, p Platform, out string) error {
	version, revision := o.Version, o.Revision
	if version == "" {
		version = "dev"
	}
	if revision == "" {
		revision = "unknown"
	}
	cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-ldflags", LDFlags(version, revision), "-o", out, o.Package)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	if p.Arch == "arm" && p.Variant != "" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("image: go build for %s: %w\n%s", p, err, b)
	}
	return nil
}
