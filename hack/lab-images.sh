#!/usr/bin/env bash
# hack/lab-images.sh [--out DIR]
#
# Builds the images `ironlb lab up --kubelet real` imports into every
# node's containerd (nothing can be pulled in the lab), as OCI image
# tarballs in DIR (default bin/lab-images), for this machine's
# architecture only:
#
#   pause.tar  registry.k8s.io/pause:3.10 (test/images/pause): every Pod's
#              sandbox, the name containerd's sandbox_image says
#   echo.tar   ironlb-lab-echo:dev (test/images/echo): an HTTP server
#              answering with its Pod, node and addresses, for tests
#   ironlb.tar ironlb:dev (cmd/ironlb): the image the install manifests
#              name, which the lab runs as Pods on real kubelets
#
# Both are built by hack/image (the same assembly as `make image`), so the
# same sources give the same digests; a warm run takes a few seconds.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"

out=bin/lab-images
while (($#)); do
	case $1 in
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "lab-images.sh: unknown argument '$1' (valid: --out DIR)" >&2; exit 2 ;;
	esac
done
platform=linux/$(go env GOARCH)
mkdir -p "$out"
step "lab image pause ($platform)" go run ./hack/image --package ./test/images/pause \
	--name registry.k8s.io/pause:3.10 --platforms "$platform" --out "$out/pause.tar"
step "lab image echo ($platform)" go run ./hack/image --package ./test/images/echo \
	--name ironlb-lab-echo:dev --platforms "$platform" --out "$out/echo.tar"
step "lab image ironlb ($platform)" go run ./hack/image --package ./cmd/ironlb \
	--name ironlb:dev --platforms "$platform" --out "$out/ironlb.tar"
