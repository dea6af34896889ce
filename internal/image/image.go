// Package image builds ironlb's container image without a container
// runtime or a registry: a multi-platform OCI image index whose images
// hold nothing but the static ironlb binary (entrypoint /ironlb) and a
// two-line /etc/passwd and /etc/group for the non-root user 65532, written
// as an OCI image layout in a tar file, the input of `ctr images import`
// and `skopeo copy oci-archive:` (docs/install.md).
//
// Index and WriteTarball are pure assembly (deterministic for the same
// binaries and Options); Build cross-compiles the binaries first.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// Entrypoint is where the binary sits in the image.
	Entrypoint = "/ironlb"
	// UID and GID are the image's default (non-root) user; the speaker's
	// DaemonSet overrides it with root for CAP_NET_RAW.
	UID = 65532
	GID = 65532
	// DefaultName is the image name of the install manifests.
	DefaultName = "ironlb:dev"
	// Source is the repository the image is built from.
	Source = "https://github.com/ironlb/ironlb"
)

// Annotation and label keys (OCI image spec, containerd).
const (
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
	LabelVersion     = "org.opencontainers.image.version"
	LabelRevision    = "org.opencontainers.image.revision"
	LabelSource      = "org.opencontainers.image.source"
	LabelCreated     = "org.opencontainers.image.created"
	// AnnotationRefName (the tag) and AnnotationContainerdName (the full
	// name) name the image index in the layout's index.json.
	AnnotationRefName        = "org.opencontainers.image.ref.name"
	AnnotationContainerdName = "io.containerd.image.name"
)

// Platform is an OS, architecture and optional variant ("linux/arm64/v8").
type Platform struct {
	OS, Arch, Variant string
}

// ParsePlatform parses "os/arch" or "os/arch/variant".
func ParsePlatform(s string) (Platform, error) {
	f := strings.Split(s, "/")
	if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, e.g. linux/arm64", s)
	}
	p := Platform{OS: f[0], Arch: f[1]}
	if len(f) == 3 {
		p.Variant = f[2]
	}
	return p, nil
}

func (p Platform) String() string {
	if p.Variant != "" {
		return p.OS + "/" + p.Arch + "/" + p.Variant
	}
	return p.OS + "/" + p.Arch
}

// Binary is an ironlb executable built for Platform.
type Binary struct {
	Platform Platform
	Path     string
}

// Options describe the image apart from its binaries.
type Options struct {
	// Name is the reference recorded in the tarball ("ironlb:dev").
	Name string
	// Version and Revision become the version and revision labels.
	Version, Revision string
	// Created is the image's creation time; the zero time means the Unix
	// epoch (reproducible builds; see SOURCE_DATE_EPOCH in Build's caller).
	Created time.Time
}

func (o Options) created() time.Time {
	if o.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Created.UTC()
}

// Labels are the image's labels (also the index's annotations).
func (o Options) Labels() map[string]string {
	return map[string]string{
		LabelTitle:       "ironlb",
		LabelDescription: "Network load balancer for bare-metal Kubernetes clusters (controller and speaker)",
		LabelVersion:     o.Version,
		LabelRevision:    o.Revision,
		LabelSource:      Source,
		LabelCreated:     o.created().Format(time.RFC3339),
	}
}

// Index assembles a multi-platform OCI image index with one image per
// binary.
func Index(bins []Binary, o Options) (v1.ImageIndex, error) {
	if len(bins) == 0 {
		return nil, fmt.Errorf("image: no binaries")
	}
	var adds []mutate.IndexAddendum
	seen := map[Platform]bool{}
	for _, b := range bins {
		if seen[b.Platform] {
			return nil, fmt.Errorf("image: platform %s given twice", b.Platform)
		}
		seen[b.Platform] = true
		img, err := platformImage(b, o)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: b.Platform.OS, Architecture: b.Platform.Arch, Variant: b.Platform.Variant},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	out, ok := mutate.Annotations(idx, o.Labels()).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("image: annotating the index")
	}
	return out, nil
}

// platformImage is the image of one binary: one layer, OCI media types.
func platformImage(b Binary, o Options) (v1.Image, error) {
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, fmt.Errorf("image: %s binary: %w", b.Platform, err)
	}
	layer, err := rootfsLayer(bin, o.created())
	if err != nil {
		return nil, fmt.Errorf("image: %s layer: %w", b.Platform, err)
	}
	cfg := &v1.ConfigFile{
		Architecture: b.Platform.Arch, OS: b.Platform.OS, Variant: b.Platform.Variant,
		Created: v1.Time{Time: o.created()},
		Config: v1.Config{
			Entrypoint: []string{Entrypoint},
			User:       fmt.Sprintf("%d:%d", UID, GID),
			WorkingDir: "/",
			Labels:     o.Labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, fmt.Errorf("image: %s config: %w", b.Platform, err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: o.created()},
			CreatedBy: "ironlb image: " + Entrypoint + ", /etc/passwd, /etc/group",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image: %s: %w", b.Platform, err)
	}
	return img, nil
}

// rootfsLayer is the gzip-compressed tar of the image's files, with fixed
// owners and times so that the same binary gives the same digest.
func rootfsLayer(bin []byte, mtime time.Time) (v1.Layer, error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/nonexistent:/sbin/nologin\n", UID, GID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
		dir  bool
	}{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, data: bin},
	} {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: mtime, Typeflag: tar.TypeReg, Size: int64(len(f.data)), Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	// Compress once here: a gzip stream is taken as the compressed form
	// as it is, so the digest and the written blob come from one pass.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// References returns the tag (for org.opencontainers.image.ref.name) and
// the fully qualified name containerd and the kubelet use for name:
// "ironlb:dev" is tag "dev", name "docker.io/library/ironlb:dev".
func References(name string) (tag, full string) {
	repo, tag := name, "latest"
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo, tag = name[:i], name[i+1:]
	}
	first, _, hasSlash := strings.Cut(repo, "/")
	switch {
	case !hasSlash:
		repo = "docker.io/library/" + repo
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		repo = "docker.io/" + repo
	}
	return tag, repo + ":" + tag
}
