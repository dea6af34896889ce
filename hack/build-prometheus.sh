#!/usr/bin/env bash
# hack/build-prometheus.sh [--print-dir]
#
# Builds the pinned Prometheus server and promtool from source through the Go
# module proxy (no other download site is needed) into a cache outside the
# repository:
#
#   ${IRONLB_CACHE:-$HOME/.cache/ironlb}/prometheus-<PROMETHEUS_VERSION>/
#       prometheus promtool
#
# `ironlb lab up --monitoring` runs this prometheus; the alert unit tests
# (internal/monitoring) run this promtool; the e2e test TestMonitoring
# queries the lab's Prometheus.
#
# The version is pinned in hack/k8s/versions.env (PROMETHEUS_VERSION, a tag
# of the Go module github.com/prometheus/prometheus). Both commands are built
# in a throwaway module (<dir>/src) that requires that module, so go.sum pins
# every dependency and the build never touches the repository's go.mod. The
# web UI's assets are not built in (Prometheus's default without the
# builtinassets tag): the lab and the tests use the HTTP API only. The tag
# remove_all_sd (Prometheus's own, see its README) leaves out the optional
# service discoveries (cloud SDKs) the lab never uses: static, file and HTTP
# discovery stay, and the build takes a fraction of the time.
#
# Each binary has a stamp (<dir>/.stamps/<name>: version and a hash of the
# build flags); a binary whose file exists and whose stamp matches is skipped,
# so a warm run takes well under a second. Binaries are built under a temporary
# name and renamed, so an interrupted run leaves no half-written binary.
#
# The last line printed is PROMETHEUS_DIR=<dir>. --print-dir prints only
# <dir> and builds nothing.
set -euo pipefail

hack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=k8s/versions.env
source "$hack/k8s/versions.env"

cache=${IRONLB_CACHE:-$HOME/.cache/ironlb}
dir=$cache/prometheus-$PROMETHEUS_VERSION

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

for arg in "$@"; do
	case $arg in
	--print-dir) echo "$dir"; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "build-prometheus.sh: unknown argument '$arg' (valid: --print-dir, --help)" >&2; exit 2 ;;
	esac
done

# The same explicit settings as hack/build-k8s.sh: part of the GOCACHE key and
# of the stamps.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
mod=github.com/prometheus/prometheus
# Prometheus reports its version from common/version, set at link time like
# its own release builds do; without it `prometheus --version` prints empty.
ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}"
ldflags+=" -X github.com/prometheus/common/version.Branch=ironlb-build"
build_flags=(-trimpath -tags=remove_all_sd "-ldflags=$ldflags")
flags_hash=$( (go env GOOS GOARCH; echo "CGO_ENABLED=$CGO_ENABLED" "${build_flags[@]}") | sha256sum | cut -c1-16)

mkdir -p "$dir/.stamps"
exec 9>"$dir/.lock"
if ! flock -n 9; then
	echo "==> waiting for another hack/build-prometheus.sh building into $dir"
	flock 9
fi
# Temporary files carry this run's PID; an interrupted run removes its own.
trap 'rm -f "$dir"/.*.tmp.$$ "$dir"/.stamps/*.tmp.$$' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stamp_for() { echo "$1 $PROMETHEUS_VERSION $flags_hash"; }

fresh() {
	[[ -x $dir/$1 && -f $dir/.stamps/$1 && $(<"$dir/.stamps/$1") == "$(stamp_for "$1")" ]]
}

# prepare: the throwaway module that requires the pinned Prometheus.
prepare() {
	local src=$dir/src start=$SECONDS
	if [[ -f $src/.prepared && $(<"$src/.prepared") == "$PROMETHEUS_VERSION" ]]; then
		return
	fi
	echo "==> preparing build module $src ($mod $PROMETHEUS_VERSION)"
	rm -rf "$src"
	mkdir -p "$src"
	(
		cd "$src"
		printf 'module ironlb.local/prometheus-build\n\ngo 1.26\n' >go.mod
		go get "$mod/cmd/prometheus@$PROMETHEUS_VERSION" "$mod/cmd/promtool@$PROMETHEUS_VERSION"
	)
	echo "$PROMETHEUS_VERSION" >"$src/.prepared"
	echo "==> prepared in $((SECONDS - start)) s"
}

total=$SECONDS
todo=()
for name in prometheus promtool; do
	if fresh "$name"; then
		echo "==> $name: up to date ($PROMETHEUS_VERSION)"
	else
		todo+=("$name")
	fi
done

if ((${#todo[@]})); then
	prepare
	for name in "${todo[@]}"; do
		start=$SECONDS
		hint=
		[[ $name == prometheus ]] && hint=" (cold cache: ~9 min on 2 busy cores; promtool ~4 min more)"
		echo "==> building $name $PROMETHEUS_VERSION$hint"
		(cd "$dir/src" && go build "${build_flags[@]}" -o "$dir/.$name.tmp.$$" "$mod/cmd/$name")
		mv -f "$dir/.$name.tmp.$$" "$dir/$name"
		stamp_for "$name" >"$dir/.stamps/$name.tmp.$$"
		mv -f "$dir/.stamps/$name.tmp.$$" "$dir/.stamps/$name"
		echo "==> built $name in $((SECONDS - start)) s ($(du -m "$dir/$name" | cut -f1) MB)"
	done
fi

echo "==> prometheus binaries ready in $((SECONDS - total)) s"
echo "PROMETHEUS_DIR=$dir"
