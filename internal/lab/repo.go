package lab

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// modulePath identifies the ironlb repository's go.mod.
const modulePath = "github.com/ironlb/ironlb"

// loopbacks are SANs of the API server certificate: clients everywhere
// dial it on loopback.
var loopbacks = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}

// FindRepoRoot walks up from each start directory to the ironlb checkout
// (the directory whose go.mod declares the module); empty when none is.
func FindRepoRoot(starts ...string) string {
	for _, d := range starts {
		if d == "" {
			continue
		}
		d, err := filepath.Abs(d)
		if err != nil {
			continue
		}
		for {
			if isRepoRoot(d) {
				return d
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return ""
}

func isRepoRoot(d string) bool {
	f, err := os.Open(filepath.Join(d, "go.mod"))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == modulePath
		}
	}
	return false
}

// findCRDDir resolves --crds: the given directory, else config/crd/bases
// of the checkout around the working directory or the ironlb binary, else
// "" (no CRDs applied).
func findCRDDir(dir, ironlb string) (string, error) {
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("--crds %q: not a directory", dir)
		}
		return filepath.Abs(dir)
	}
	wd, _ := os.Getwd()
	root := FindRepoRoot(wd, filepath.Dir(ironlb))
	if root == "" {
		return "", nil
	}
	d := filepath.Join(root, "config", "crd", "bases")
	if _, err := os.Stat(d); err != nil {
		return "", nil
	}
	return d, nil
}
