// Command image builds ironlb's multi-platform container image as an OCI
// image layout tarball, with no container runtime and no registry (see
// internal/image). hack/image.sh (`make image`) runs it:
//
//	go run ./hack/image --version v0.1.0 --commit abc1234 --out bin/ironlb-image.tar
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ironlb/ironlb/internal/image"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		o         image.BuildOptions
		platforms string
	)
	flag.StringVar(&o.Out, "out", "bin/ironlb-image.tar", "the OCI image layout tarball to write")
	flag.StringVar(&o.Name, "name", image.DefaultName, "image name recorded in the tarball (the install manifests use "+image.DefaultName+")")
	flag.StringVar(&o.Version, "version", "dev", "version: the binary's `ironlb version` and the image's version label")
	flag.StringVar(&o.Revision, "commit", "unknown", "commit: the binary's `ironlb version` and the image's revision label")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch[/variant] list")
	flag.StringVar(&o.BinDir, "bin-dir", "", "keep the cross-built binaries in this directory (default: a temporary one)")
	flag.StringVar(&o.Package, "package", "./cmd/ironlb", "the main package to build")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	for _, s := range strings.Split(platforms, ",") {
		p, err := image.ParsePlatform(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		o.Platforms = append(o.Platforms, p)
	}
	// SOURCE_DATE_EPOCH (reproducible-builds.org) sets the creation time;
	// without it the image says 1970 and is reproducible as it is.
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
		}
		o.Created = time.Unix(secs, 0).UTC()
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	o.Dir, o.Log = wd, os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = image.Build(ctx, o)
	return err
}
