package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// criNamespace is the containerd namespace the CRI plugin (and so the
// kubelet) sees images in.
const criNamespace = "k8s.io"

// defaultImagesDir is where hack/lab-images.sh writes the lab's images,
// relative to the checkout.
const defaultImagesDir = "bin/lab-images"

// findImages resolves --images: the OCI image tarballs (*.tar) of the
// given directory, else of bin/lab-images in the checkout around the
// working directory or the ironlb binary. Nothing can be pulled in the
// lab, so at least the pause image must be there; which tarball holds it
// is known only once imported (importImages checks).
func findImages(dir, ironlb string) ([]string, error) {
	if dir == "" {
		wd, _ := os.Getwd()
		if root := FindRepoRoot(wd, filepath.Dir(ironlb)); root != "" {
			dir = filepath.Join(root, defaultImagesDir)
		}
	}
	tars, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	if len(tars) == 0 {
		return nil, fmt.Errorf("--kubelet real needs the lab's images (at least %s) as OCI tarballs, and %q has none: "+
			"build them with `hack/lab-images.sh` (into %s of the checkout) or pass --images DIR", SandboxImage, dir, defaultImagesDir)
	}
	slices.Sort(tars)
	return tars, nil
}

// importImages waits for every node's containerd and imports the
// tarballs into it, nodes in parallel; it fails unless every node then
// has the sandbox image.
func importImages(ctx context.Context, p Plan, dir string, tars, required []string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(p.Nodes))
	for i, h := range p.Nodes {
		wg.Go(func() {
			if err := importInto(ctx, realNodePaths(dir, h.Name).containerdSocket(), tars, required); err != nil {
				errs[i] = fmt.Errorf("%s: %w", h.Name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	names := make([]string, len(tars))
	for i, t := range tars {
		names[i] = filepath.Base(t)
	}
	return fmt.Sprintf("%s into %d containerds", strings.Join(names, ", "), len(p.Nodes)), nil
}

func importInto(ctx context.Context, sock string, tars, required []string) error {
	ctr := []string{"--address", sock, "--namespace", criNamespace}
	for {
		_, err := run(ctx, "ctr", append(ctr, "version")...)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd not answering on %s: %w", sock, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, t := range tars {
		if _, err := run(ctx, "ctr", append(ctr, "images", "import", t)...); err != nil {
			return err
		}
	}
	out, err := run(ctx, "ctr", append(ctr, "images", "list", "--quiet")...)
	if err != nil {
		return err
	}
	for _, img := range append([]string{SandboxImage}, required...) {
		if !slices.Contains(strings.Fields(out), img) {
			return fmt.Errorf("the image %s is in none of %s (have: %s); hack/lab-images.sh builds the lab's images",
				img, strings.Join(tars, ", "), strings.Join(strings.Fields(out), ", "))
		}
	}
	return nil
}
