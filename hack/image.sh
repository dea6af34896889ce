#!/usr/bin/env bash
# hack/image.sh [hack/image flags...]   (what `make image` runs)
#
# Builds ironlb's container image without Docker: cross-compiles ironlb for
# linux/amd64 and linux/arm64 (CGO_ENABLED=0) and writes a multi-platform OCI
# image layout tarball, bin/ironlb-image.tar, named ironlb:dev (the name the
# install manifests use). Load it with `ctr -n k8s.io images import` or push
# it with `skopeo copy --all oci-archive:bin/ironlb-image.tar docker://<registry>/ironlb:<tag>`
# (docs/install.md). Flags: --name, --platforms, --out, --bin-dir.
# VERSION and COMMIT (set by the Makefile) go into `ironlb version` and the
# image's labels; SOURCE_DATE_EPOCH sets its creation time (default 1970, so
# the same sources give the same image digest).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
step "image bin/ironlb-image.tar ($version)" go run ./hack/image --version "$version" --commit "$commit" "$@"
