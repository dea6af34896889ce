#!/usr/bin/env bash
# hack/build-k8s.sh [--all] [--print-dir]
#
# Builds the pinned Kubernetes control-plane binaries that envtest and the lab
# run, from source through the Go module proxy (no other download site is
# needed), into a cache outside the repository:
#
#   ${IRONLB_CACHE:-$HOME/.cache/ironlb}/k8s-<K8S_VERSION>/
#       kube-apiserver etcd kubectl                         always
#       kube-controller-manager kube-scheduler kube-proxy   with --all
#       kubelet                                             with --all
#
# The default set is what the integration tests (envtest) run; --all adds
# what only the lab runs: the rest of the control plane, kube-proxy, and the
# kubelet of `ironlb lab up --kubelet real`.
#
# Versions are pinned in hack/k8s/versions.env. The Kubernetes commands are
# built in a throwaway module (<dir>/src/k8s) that requires k8s.io/kubernetes
# and replaces every staging module it lists at v0.0.0 with the matching
# published release; etcd is built in its own module (<dir>/src/etcd) so its
# dependencies never move the Kubernetes ones.
#
# Each binary has a stamp (<dir>/.stamps/<name>: version and a hash of the
# build flags); a binary whose file exists and whose stamp matches is skipped,
# so a warm run takes well under a second. Binaries are built under a temporary
# name and renamed, so an interrupted run leaves no half-written binary. Every
# build uses the same flags so GOCACHE is reused between the commands.
#
# The last line printed is KUBEBUILDER_ASSETS=<dir>. --print-dir prints only
# <dir> and builds nothing.
set -euo pipefail

hack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=k8s/versions.env
source "$hack/k8s/versions.env"

cache=${IRONLB_CACHE:-$HOME/.cache/ironlb}
dir=$cache/k8s-$K8S_VERSION

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

all=false
for arg in "$@"; do
	case $arg in
	--all) all=true ;;
	--print-dir) echo "$dir"; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "build-k8s.sh: unknown argument '$arg' (valid: --all, --print-dir, --help)" >&2; exit 2 ;;
	esac
done

# Identical, explicit build settings for every binary: they are part of the
# GOCACHE key and of the stamps.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
staging_version=v0.${K8S_VERSION#v1.} # v1.37.2 -> v0.37.2
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
build_flags=(-trimpath "-ldflags=$ldflags")
flags_hash=$( (go env GOOS GOARCH; echo "CGO_ENABLED=$CGO_ENABLED" "${build_flags[@]}") | sha256sum | cut -c1-16)

mkdir -p "$dir/.stamps"
exec 9>"$dir/.lock"
if ! flock -n 9; then
	echo "==> waiting for another hack/build-k8s.sh building into $dir"
	flock 9
fi
# Temporary files carry this run's PID; an interrupted run removes its own.
trap 'rm -f "$dir"/.*.tmp.$$ "$dir"/.stamps/*.tmp.$$' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stamp_for NAME: the stamp a fresh build of NAME would record.
stamp_for() {
	case $1 in
	etcd) echo "etcd $ETCD_VERSION $flags_hash" ;;
	*) echo "$1 $K8S_VERSION $flags_hash" ;;
	esac
}

# fresh NAME: whether NAME exists and was built with the current pins and flags.
fresh() {
	[[ -x $dir/$1 && -f $dir/.stamps/$1 && $(<"$dir/.stamps/$1") == "$(stamp_for "$1")" ]]
}

# install_bin NAME TMP STAMP: move a finished build into place, then stamp it.
install_bin() {
	mv -f "$2" "$dir/$1"
	echo "$3" >"$dir/.stamps/$1.tmp.$$"
	mv -f "$dir/.stamps/$1.tmp.$$" "$dir/.stamps/$1"
}

# prepare_k8s: the throwaway module that builds k8s.io/kubernetes commands.
prepare_k8s() {
	local src=$dir/src/k8s
	if [[ -f $src/.prepared && $(<"$src/.prepared") == "$K8S_VERSION" ]]; then
		return
	fi
	local start=$SECONDS
	echo "==> preparing build module $src (k8s.io/kubernetes $K8S_VERSION)"
	rm -rf "$src"
	mkdir -p "$src"
	cd "$src"
	printf 'module ironlb.local/k8s-build\n\ngo 1.26\n' >go.mod
	local gomod
	gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[[ -f $gomod ]] || { echo "build-k8s.sh: no go.mod for k8s.io/kubernetes@$K8S_VERSION from the module proxy" >&2; exit 1; }
	# Staging modules: replaced with ./staging/... and required at v0.0.0.
	local staging
	staging=$(awk '
		$1 == "replace" { $1 = ""; $0 = $0 }
		$2 == "=>" && $3 ~ /^\.\/staging\// { rep[$1] = 1 }
		$1 == "require" { $1 = ""; $0 = $0 }
		$2 == "v0.0.0" { req[$1] = 1 }
		END { for (m in rep) if (m in req) print m }' "$gomod" | sort)
	[[ -n $staging ]] || { echo "build-k8s.sh: found no staging modules in $gomod" >&2; exit 1; }
	local edits=(-require="k8s.io/kubernetes@$K8S_VERSION") m
	for m in $staging; do
		edits+=(-replace="$m=$m@$staging_version")
	done
	go mod edit "${edits[@]}"
	echo "    $(wc -w <<<"$staging") staging modules pinned to $staging_version"
	echo "$K8S_VERSION" >.prepared
	echo "==> prepared in $((SECONDS - start)) s"
}

# build_k8s NAME...: go get (once per command), then build each command.
build_k8s() {
	local src=$dir/src/k8s name start hint pkgs=()
	cd "$src"
	for name in "$@"; do
		grep -qx "$name" .got 2>/dev/null || pkgs+=("k8s.io/kubernetes/cmd/$name@$K8S_VERSION")
	done
	if ((${#pkgs[@]})); then
		start=$SECONDS
		echo "==> go get ${pkgs[*]}"
		go get "${pkgs[@]}"
		printf '%s\n' "$@" >>.got
		echo "==> go get: $((SECONDS - start)) s"
	fi
	for name in "$@"; do
		start=$SECONDS
		hint=
		[[ $name == kube-apiserver ]] && hint=" (cold cache: ~5 min on 2 idle cores, much longer on a busy machine)"
		echo "==> building $name $K8S_VERSION$hint"
		go build "${build_flags[@]}" -o "$dir/.$name.tmp.$$" "k8s.io/kubernetes/cmd/$name"
		install_bin "$name" "$dir/.$name.tmp.$$" "$(stamp_for "$name")"
		echo "==> built $name in $((SECONDS - start)) s ($(du -m "$dir/$name" | cut -f1) MB)"
	done
}

# build_etcd: etcd from go.etcd.io/etcd/server/v3 with a tiny main.
build_etcd() {
	local src=$dir/src/etcd start=$SECONDS
	echo "==> building etcd $ETCD_VERSION"
	if [[ ! -f $src/.prepared || $(<"$src/.prepared") != "$ETCD_VERSION" ]]; then
		rm -rf "$src"
		mkdir -p "$src"
		(
			cd "$src"
			printf 'module ironlb.local/etcd-build\n\ngo 1.26\n' >go.mod
			cp "$hack/k8s/etcd-main.go.txt" main.go
			go get "go.etcd.io/etcd/server/v3/etcdmain@$ETCD_VERSION"
			echo "$ETCD_VERSION" >.prepared
		) || return 1
	fi
	(cd "$src" && go build "${build_flags[@]}" -o "$dir/.etcd.tmp.$$" .) || return 1
	install_bin etcd "$dir/.etcd.tmp.$$" "$(stamp_for etcd)"
	echo "==> built etcd in $((SECONDS - start)) s ($(du -m "$dir/etcd" | cut -f1) MB)"
}

# etcd_from_debian: the fallback when the source build fails. Its stamp never
# matches, so the next run tries the pinned source build again.
etcd_from_debian() {
	if [[ ! -x /usr/bin/etcd ]]; then
		if ((EUID != 0)); then
			echo "build-k8s.sh: etcd did not build and /usr/bin/etcd is missing; as root: apt-get install etcd-server" >&2
			return 1
		fi
		echo "==> installing Debian etcd-server"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server ||
			{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server; }
	fi
	ln -sfn /usr/bin/etcd "$dir/.etcd.tmp.$$"
	install_bin etcd "$dir/.etcd.tmp.$$" "etcd debian $(dpkg-query -W -f='${Version}' etcd-server 2>/dev/null || echo unknown)"
	echo "==> WARNING: using Debian's etcd ($(readlink "$dir/etcd")) instead of the pinned $ETCD_VERSION" >&2
}

want=(kube-apiserver etcd kubectl)
$all && want+=(kube-controller-manager kube-scheduler kube-proxy kubelet)
total=$SECONDS
k8s_todo=()
etcd_todo=false
for name in "${want[@]}"; do
	if fresh "$name"; then
		echo "==> $name: up to date ($(stamp_for "$name" | cut -d' ' -f2))"
	elif [[ $name == etcd ]]; then
		etcd_todo=true
	else
		k8s_todo+=("$name")
	fi
done

if ((${#k8s_todo[@]})); then
	prepare_k8s
	build_k8s "${k8s_todo[@]}"
fi
if $etcd_todo; then
	build_etcd || etcd_from_debian
fi

echo "==> control-plane binaries ready in $((SECONDS - total)) s"
echo "KUBEBUILDER_ASSETS=$dir"
