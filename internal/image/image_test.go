package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ironlb/ironlb/internal/testkit"
)

func TestReferences(t *testing.T) {
	for name, want := range map[string][2]string{
		"ironlb:dev":                        {"dev", "docker.io/library/ironlb:dev"},
		"ironlb":                            {"latest", "docker.io/library/ironlb:latest"},
		"example/ironlb:v1":                 {"v1", "docker.io/example/ironlb:v1"},
		"registry.example.com/ironlb:v0.1":  {"v0.1", "registry.example.com/ironlb:v0.1"},
		"localhost:5000/ironlb":             {"latest", "localhost:5000/ironlb:latest"},
		"localhost/team/ironlb:rc1":         {"rc1", "localhost/team/ironlb:rc1"},
		"registry.example.com:5000/a/b:tag": {"tag", "registry.example.com:5000/a/b:tag"},
	} {
		tag, full := References(name)
		if tag != want[0] || full != want[1] {
			t.Errorf("References(%q) = %q, %q; want %q, %q", name, tag, full, want[0], want[1])
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for s, want := range map[string]Platform{
		"linux/amd64":    {OS: "linux", Arch: "amd64"},
		"linux/arm64/v8": {OS: "linux", Arch: "arm64", Variant: "v8"},
	} {
		got, err := ParsePlatform(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParsePlatform(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "a/b/c/d"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q): no error", bad)
		}
	}
}

// fakeBinaries writes small stand-in binaries for the pure assembly tests.
func fakeBinaries(t *testing.T) []Binary {
	t.Helper()
	var out []Binary
	for _, p := range DefaultPlatforms {
		path := filepath.Join(t.TempDir(), "ironlb-"+p.Arch)
		if err := os.WriteFile(path, []byte("#!fake ironlb for "+p.String()+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, Binary{Platform: p, Path: path})
	}
	return out
}

func TestIndexIsReproducibleAndComplete(t *testing.T) {
	bins := fakeBinaries(t)
	o := Options{Name: "ironlb:v9", Version: "v9", Revision: "abc123", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a, err := Index(bins, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Index(bins, o)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same binaries: digests %s and %s", da, db)
	}
	out := filepath.Join(t.TempDir(), "image.tar")
	if err := WriteTarball(out, a, o.Name); err != nil {
		t.Fatal(err)
	}
	idx, ann, err := ReadTarball(out, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{AnnotationRefName: "v9", AnnotationContainerdName: "docker.io/library/ironlb:v9"}, ann); diff != "" {
		t.Errorf("index.json annotations (-want +got):\n%s", diff)
	}
	if d, _ := idx.Digest(); d != da {
		t.Errorf("read back index %s, wrote %s", d, da)
	}
	files := checkImages(t, idx, o, len(bins))
	for p, fs := range files {
		want := "#!fake ironlb for " + p.String() + "\n"
		if string(fs["ironlb"]) != want {
			t.Errorf("%s: /ironlb = %q, want %q", p, fs["ironlb"], want)
		}
	}
	if _, err := Index(append(bins, bins[0]), o); err == nil {
		t.Error("Index accepted a platform twice")
	}
}

// checkImages checks the index and each image (media types, platform,
// entrypoint, user, labels, files) and returns each image's files by
// platform.
func checkImages(t *testing.T, idx v1.ImageIndex, o Options, n int) map[Platform]map[string][]byte {
	t.Helper()
	mt, err := idx.MediaType()
	if err != nil || mt != types.OCIImageIndex {
		t.Errorf("index media type %q (%v), want %q", mt, err, types.OCIImageIndex)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations[LabelVersion] != o.Version || im.Annotations[LabelRevision] != o.Revision {
		t.Errorf("index annotations %v: want version %s, revision %s", im.Annotations, o.Version, o.Revision)
	}
	if len(im.Manifests) != n {
		t.Fatalf("index lists %d images, want %d", len(im.Manifests), n)
	}
	out := map[Platform]map[string][]byte{}
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		p := Platform{OS: d.Platform.OS, Arch: d.Platform.Architecture, Variant: d.Platform.Variant}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 || d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: manifest media type %q / descriptor %q", p, mt, d.MediaType)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != p.OS || cf.Architecture != p.Arch {
			t.Errorf("%s: config says %s/%s", p, cf.OS, cf.Architecture)
		}
		if !slices.Equal(cf.Config.Entrypoint, []string{"/ironlb"}) || cf.Config.User != "65532:65532" {
			t.Errorf("%s: entrypoint %q, user %q; want [/ironlb], 65532:65532", p, cf.Config.Entrypoint, cf.Config.User)
		}
		if diff := cmp.Diff(o.Labels(), cf.Config.Labels); diff != "" {
			t.Errorf("%s: labels (-want +got):\n%s", p, diff)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s: %d layers (%v), want 1", p, len(layers), err)
		}
		if lm, _ := layers[0].MediaType(); lm != types.OCILayer {
			t.Errorf("%s: layer media type %q", p, lm)
		}
		fs := extract(t, img)
		if !strings.Contains(string(fs["etc/passwd"]), ":65532:65532:") || !strings.Contains(string(fs["etc/group"]), ":65532:") {
			t.Errorf("%s: /etc/passwd %q, /etc/group %q lack the user 65532", p, fs["etc/passwd"], fs["etc/group"])
		}
		out[p] = fs
	}
	return out
}

// extract reads the regular files of an image's filesystem.
func extract(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Name == "ironlb" && h.Mode&0o111 == 0 {
			t.Errorf("/ironlb has mode %o", h.Mode)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(h.Name, "/")] = b
	}
}

// TestBuildRunnable cross-builds the real ironlb for linux/amd64 and
// linux/arm64 into an image tarball, reads it back like a runtime would
// and runs `ironlb version` from the image of this machine's platform; the
// other platform's binary is checked for its ELF machine.
func TestBuildRunnable(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds ironlb twice; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		testkit.Unavailable(t, "no go command in PATH")
	}
	root := moduleRoot(t)
	// make test's image step (hack/image.sh) has compiled both platforms
	// already, so this build links from the cache; the go test -timeout
	// (hack/test-timeouts.env) bounds a cold build.
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "ironlb-image.tar")
	o := BuildOptions{
		Options: Options{Name: "ironlb:imagetest", Version: "v0.0.0-imagetest", Revision: "feedbee"},
		Dir:     root, Package: "./cmd/ironlb", Out: out, Log: testWriter{t},
	}
	start := time.Now()
	if _, err := Build(ctx, o); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image tarball %d MB in %s", fi.Size()>>20, time.Since(start).Round(100*time.Millisecond))

	idx, ann, err := ReadTarball(out, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ann[AnnotationContainerdName] != "docker.io/library/ironlb:imagetest" {
		t.Errorf("index.json annotations %v", ann)
	}
	files := checkImages(t, idx, o.Options, len(DefaultPlatforms))
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	ran := false
	for _, p := range DefaultPlatforms {
		bin := files[p]["ironlb"]
		if len(bin) == 0 {
			t.Fatalf("%s: no /ironlb in the image", p)
		}
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatalf("%s: /ironlb is not ELF: %v", p, err)
		}
		if f.Machine != machines[p.Arch] {
			t.Errorf("%s: /ironlb is built for %s", p, f.Machine)
		}
		if p.OS != runtime.GOOS || p.Arch != runtime.GOARCH {
			continue
		}
		path := filepath.Join(t.TempDir(), "ironlb")
		if err := os.WriteFile(path, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := exec.CommandContext(ctx, path, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: ironlb version: %v\n%s", p, err, got)
		}
		want := "ironlb v0.0.0-imagetest (commit feedbee, "
		if !strings.HasPrefix(string(got), want) || !strings.Contains(string(got), p.String()) {
			t.Errorf("%s: ironlb version = %q, want %q... %s", p, got, want, p)
		}
		t.Logf("%s: %s", p, strings.TrimSpace(string(got)))
		ran = true
	}
	if !ran {
		t.Logf("this machine (%s/%s) is none of the image's platforms: nothing run", runtime.GOOS, runtime.GOARCH)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v %q", err, out)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
