package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// WriteTarball writes idx as an OCI image layout (oci-layout, index.json,
// blobs/sha256/...) packed in a tar file at path, replacing it atomically.
// index.json holds one entry, idx, annotated with name (References).
func WriteTarball(path string, idx v1.ImageIndex, name string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".ironlb-image-")
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	dir := filepath.Join(tmp, "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image: OCI layout: %w", err)
	}
	tag, full := References(name)
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		AnnotationRefName: tag, AnnotationContainerdName: full,
	})); err != nil {
		return fmt.Errorf("image: OCI layout: %w", err)
	}
	f, err := os.CreateTemp(tmp, "image-*.tar")
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := tarDir(f, dir); err != nil {
		_ = f.Close()
		return fmt.Errorf("image: packing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes it 0600
		return fmt.Errorf("image: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// tarDir writes the tree under dir to w in lexical order with fixed
// owners, modes and times.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h.Size = fi.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// ReadTarball unpacks a tarball of WriteTarball into dir (empty or new)
// and returns the image index its index.json names, with that entry's
// annotations.
func ReadTarball(path, dir string) (v1.ImageIndex, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("image: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := untar(f, dir); err != nil {
		return nil, nil, fmt.Errorf("image: unpacking %s: %w", path, err)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("image: %s: %w", path, err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return nil, nil, fmt.Errorf("image: %s: %w", path, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("image: %s: %w", path, err)
	}
	if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsIndex() {
		return nil, nil, fmt.Errorf("image: %s: index.json lists %d entries, want one image index", path, len(im.Manifests))
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("image: %s: %w", path, err)
	}
	return idx, im.Manifests[0].Annotations, nil
}

// untar unpacks regular files and directories of r under dir, refusing
// names that leave it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("entry %q leaves the directory", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFile(target, tr); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: unexpected type %c", h.Name, h.Typeflag)
		}
	}
}

func writeFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
