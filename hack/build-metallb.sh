#!/usr/bin/env bash
# hack/build-metallb.sh [--print-dir]
#
# Builds the peer ironlb is compared with — MetalLB's controller and speaker
# at the pinned version (METALLB_VERSION in hack/k8s/versions.env) — from
# the Go module proxy, for `ironlb lab up --lb metallb` and `make compare`:
#
#   ${IRONLB_CACHE:-$HOME/.cache/ironlb}/metallb-<METALLB_VERSION>/
#       controller speaker        the module's commands (go install)
#       crds/metallb.io_*.yaml    the module's config/crd/bases
#
# Nothing of MetalLB enters the repository: the module is fetched into the
# Go module cache and built there, in a throwaway module (<dir>/src) that
# requires it. One dependency needs help: MetalLB v0.16.2 requires
# github.com/metallb/frr-k8s v0.0.27, which the Go module proxy here does not
# serve ("This module version is not available"). The build uses the newest
# version it serves (METALLB_FRRK8S in hack/k8s/versions.env), which lacks
# one field and one type that MetalLB's frr-k8s backend names
# (Advertise.PrefixesWithAsPathPrepend, AsPathPrependPrefixes); the build
# uses a copy of that frr-k8s in <dir>/src with the two added, which makes
# it compile. The lab runs MetalLB's native BGP mode, which never uses that
# backend.
#
# A stamp (<dir>/.stamp: version and a hash of the build flags) makes a warm
# run a no-op; the binaries are built into a temporary directory and moved
# into place, so an interrupted run leaves nothing half written. The last
# line printed is the directory. --print-dir prints it and builds nothing.
set -euo pipefail

hack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=k8s/versions.env
source "$hack/k8s/versions.env"

cache=${IRONLB_CACHE:-$HOME/.cache/ironlb}
dir=$cache/metallb-$METALLB_VERSION
module=go.universe.tf/metallb

for arg in "$@"; do
	case $arg in
	--print-dir) echo "$dir"; exit 0 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "build-metallb.sh: unknown argument '$arg' (valid: --print-dir, --help)" >&2; exit 2 ;;
	esac
done

export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
build_flags=(-trimpath "-ldflags=-s -w")
stamp="$METALLB_VERSION frr-k8s@$METALLB_FRRK8S $( (go env GOOS GOARCH; echo "CGO_ENABLED=$CGO_ENABLED" "${build_flags[@]}") | sha256sum | cut -c1-16)"

mkdir -p "$dir"
exec 9>"$dir/.lock"
if ! flock -n 9; then
	echo "==> waiting for another hack/build-metallb.sh building into $dir"
	flock 9
fi
if [[ -x $dir/controller && -x $dir/speaker && -f $dir/.stamp && $(<"$dir/.stamp") == "$stamp" ]]; then
	echo "$dir"
	exit 0
fi
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
echo "==> building MetalLB $METALLB_VERSION (controller, speaker) from the Go module proxy"
src=$dir/src
rm -rf "$src"
mkdir -p "$src"
cd "$src"
printf 'module ironlb.local/metallb-build\n\ngo 1.26\n' >go.mod
frr=github.com/metallb/frr-k8s
go mod edit -require="$module@$METALLB_VERSION" -replace="$frr=$frr@$METALLB_FRRK8S"
GOFLAGS=-mod=mod go get "$module/controller@$METALLB_VERSION" "$module/speaker@$METALLB_VERSION"
mlb=$(go list -m -f '{{.Dir}}' "$module")
[[ -d $mlb/config/crd/bases ]] || { echo "build-metallb.sh: no config/crd/bases in $module@$METALLB_VERSION ($mlb)" >&2; exit 1; }
# frr-k8s from the proxy, copied next to the build module and patched there
# (the go command refuses overlays of files in the module cache).
frrdir=$(go list -m -f '{{with .Replace}}{{.Dir}}{{else}}{{.Dir}}{{end}}' "$frr")
cp -r "$frrdir" frr-k8s
chmod -R u+w frr-k8s
types=frr-k8s/api/v1beta1/frrconfiguration_types.go
grep -q 'PrefixesWithCommunity \[\]CommunityPrefixes' "$types" || { echo "build-metallb.sh: $types has no PrefixesWithCommunity field to add next to" >&2; exit 1; }
if ! grep -q 'AsPathPrependPrefixes' "$types"; then
	awk '{ print } /PrefixesWithCommunity \[\]CommunityPrefixes/ {
		print "\tPrefixesWithAsPathPrepend []AsPathPrependPrefixes `json:\"withAsPathPrepend,omitempty\"`" }
		END { print "\ntype AsPathPrependPrefixes struct {\n\tPrefixes      []string `json:\"prefixes,omitempty\"`\n\tAsPathPrepend uint8    `json:\"asPathPrepend,omitempty\"`\n}" }' \
		"$types" >"$types.new"
	mv "$types.new" "$types"
fi
go mod edit -replace="$frr=./frr-k8s"
GOFLAGS=-mod=mod go build "${build_flags[@]}" -o "$tmp/bin/" "$module/controller" "$module/speaker"
mkdir -p "$tmp/crds"
cp "$mlb"/config/crd/bases/metallb.io_*.yaml "$tmp/crds/"
chmod u+w "$tmp"/crds/*.yaml
rm -rf "$dir/crds"
mv "$tmp/crds" "$dir/crds"
mv -f "$tmp/bin/controller" "$dir/controller"
mv -f "$tmp/bin/speaker" "$dir/speaker"
echo "$stamp" >"$dir/.stamp.tmp"
mv -f "$dir/.stamp.tmp" "$dir/.stamp"
echo "==> built in $((SECONDS - start)) s"
echo "$dir"
