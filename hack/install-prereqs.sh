#!/usr/bin/env bash
# hack/install-prereqs.sh [test|lab|kubelet|all]
#
# Installs the Debian packages that ironlb's tests and local lab run, and only
# those that are missing: one dpkg-query call decides, so a run with everything
# present takes a few milliseconds and needs no root. When something is
# missing it runs `apt-get update` once and installs the missing packages
# (non-interactively, without recommends); that needs root.
#
#   test  what `make test` needs: iproute2 (network namespaces), arping,
#         ndisc6, nftables, frr (a real BGP/BFD peer), openssl, procps, and
#         gcc + libc6-dev for the race detector (cgo)
#   lab   what the local lab adds: iptables and conntrack (kube-proxy), curl
#   kubelet  what `ironlb lab up --kubelet real` (and its e2e test) adds:
#         containerd, runc and containernetworking-plugins (the CNI plugins
#         in /usr/lib/cni). The lab runs a containerd of its own per node and
#         never uses Debian's containerd.service, which apt enables on a
#         machine with systemd (our machines have none)
#   all   all three (the default)
#
# The control-plane binaries are not Debian packages: hack/build-k8s.sh builds
# them.
set -euo pipefail

test_pkgs=(iproute2 arping ndisc6 nftables frr openssl procps gcc libc6-dev)
lab_pkgs=(iptables conntrack curl)
kubelet_pkgs=(containerd runc containernetworking-plugins)

case ${1:-all} in
test) want=("${test_pkgs[@]}") ;;
lab) want=("${lab_pkgs[@]}") ;;
kubelet) want=("${kubelet_pkgs[@]}") ;;
all) want=("${test_pkgs[@]}" "${lab_pkgs[@]}" "${kubelet_pkgs[@]}") ;;
-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
*) echo "install-prereqs.sh: unknown set '$1' (valid: test, lab, kubelet, all)" >&2; exit 2 ;;
esac

# missing: the wanted packages dpkg does not list as installed ("ii").
missing() {
	local installed
	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${want[@]}" 2>/dev/null |
		awk '$1 == "ii" { print $2 }' || true)
	local p
	for p in "${want[@]}"; do
		grep -qx -- "$p" <<<"$installed" || echo "$p"
	done
}

mapfile -t todo < <(missing)
if ((${#todo[@]} == 0)); then
	echo "==> prerequisites (${1:-all}): all ${#want[@]} packages present"
	exit 0
fi

if ((EUID != 0)); then
	echo "install-prereqs.sh: missing Debian packages: ${todo[*]}" >&2
	echo "install-prereqs.sh: installing them needs root; run: sudo $0 ${1:-all}" >&2
	exit 1
fi

start=$SECONDS
echo "==> installing ${todo[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q -o DPkg::Lock::Timeout=300
apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${todo[@]}"

mapfile -t still < <(missing)
if ((${#still[@]})); then
	echo "install-prereqs.sh: still missing after apt-get install: ${still[*]}" >&2
	exit 1
fi
echo "==> prerequisites (${1:-all}): installed ${#todo[@]} packages in $((SECONDS - start)) s"
