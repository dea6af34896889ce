#!/usr/bin/env bash
# hack/build-tools.sh [--print-hash] [TOOL...]
#
# Builds the tools pinned in hack/tools/go.mod — helm, kustomize,
# golangci-lint, gotestsum — into a cache outside the repository, so tests
# and scripts run a ready binary and never build one themselves:
#
#   ${IRONLB_CACHE:-$HOME/.cache/ironlb}/tools/<name>
#
# Each binary has a stamp (tools/.stamps/<name>: "<name> <hash>", the hash
# being the first 16 hex digits of sha256(hack/tools/go.mod + go.sum)); a
# binary whose stamp matches is skipped, so a warm run takes milliseconds.
# Binaries are built under a temporary name and renamed: an interrupted run
# leaves no half-written binary. The tests look the tools up the same way
# (internal/testkit.Tool). --print-hash prints the hash and builds nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
root=$(repo_root)

all_tools=(helm kustomize golangci-lint gotestsum)
declare -A pkg=(
	[helm]=helm.sh/helm/v3/cmd/helm
	[kustomize]=sigs.k8s.io/kustomize/kustomize/v5
	[golangci-lint]=github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	[gotestsum]=gotest.tools/gotestsum
)

hash=$(cat "$root/hack/tools/go.mod" "$root/hack/tools/go.sum" | sha256sum | cut -c1-16)
tools=()
for arg in "$@"; do
	case $arg in
	--print-hash) echo "$hash"; exit 0 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	-*) echo "build-tools.sh: unknown flag '$arg' (valid: --print-hash, --help)" >&2; exit 2 ;;
	*)
		[[ -n ${pkg[$arg]:-} ]] || { echo "build-tools.sh: unknown tool '$arg' (valid: ${all_tools[*]})" >&2; exit 2; }
		tools+=("$arg")
		;;
	esac
done
((${#tools[@]})) || tools=("${all_tools[@]}")

dir=${IRONLB_CACHE:-$HOME/.cache/ironlb}/tools
mkdir -p "$dir/.stamps"
exec 9>"$dir/.lock"
if ! flock -n 9; then
	echo "==> waiting for another hack/build-tools.sh building into $dir"
	flock 9
fi
trap 'rm -f "$dir"/.*.tmp.$$ "$dir"/.stamps/*.tmp.$$' EXIT

build() {
	local name=$1 tmp=$dir/.$1.tmp.$$
	(cd "$root/hack/tools" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -o "$tmp" "${pkg[$name]}")
	mv -f "$tmp" "$dir/$name"
	echo "$name $hash" >"$dir/.stamps/$name.tmp.$$"
	mv -f "$dir/.stamps/$name.tmp.$$" "$dir/.stamps/$name"
}

for name in "${tools[@]}"; do
	if [[ -x $dir/$name && "$(cat "$dir/.stamps/$name" 2>/dev/null)" == "$name $hash" ]]; then
		echo "==> $name: up to date ($dir/$name)"
		continue
	fi
	step "build $name (pinned in hack/tools/go.mod)" build "$name"
done
