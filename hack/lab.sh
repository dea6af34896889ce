#!/usr/bin/env bash
# hack/lab.sh [ironlb lab up flags...]   (what `make lab` runs, after `make build`)
#
# Brings up the local lab and runs the quick start on it:
#   1. the Debian prerequisites (hack/install-prereqs.sh all)
#   2. the pinned control-plane binaries (hack/build-k8s.sh --all)
#   3. bin/ironlb lab up [flags...]   (e.g. --nodes 2 --ip-family ipv4)
#   4. kubectl apply examples/quickstart/config.yaml and nginx-lb.yaml
#   5. waits for the nginx Pods and the Service's EXTERNAL-IP, prints
#      `kubectl get svc`, and curls the EXTERNAL-IP from the client
#      namespace (over IPv4 and IPv6 on a dual-stack lab).
#
# Needs root. The lab directory is $IRONLB_LAB_DIR or /var/lib/ironlb-lab;
# `bin/ironlb lab down` removes everything.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/lib.sh
source hack/lib.sh

if ((EUID != 0)); then
	echo "hack/lab.sh: the lab needs root (network namespaces, nftables); run: sudo make lab" >&2
	exit 1
fi
start=$SECONDS
ironlb=bin/ironlb
[[ -x $ironlb ]] || step "build bin/ironlb" make build

step "prerequisites" hack/install-prereqs.sh all
step "control-plane binaries" hack/build-k8s.sh --all
k8s_dir=$(hack/build-k8s.sh --print-dir)
step "ironlb lab up" "$ironlb" lab up --k8s-dir "$k8s_dir" "$@"

kubectl() { "$ironlb" lab kubectl -- "$@"; }

step "quick start: apply config and workload" \
	kubectl apply -f examples/quickstart/config.yaml -f examples/quickstart/nginx-lb.yaml
step "quick start: nginx Pods ready" kubectl rollout status deployment/nginx --timeout=120s

# wait_external_ip: until the Service has an ingress IP (60 s).
wait_external_ip() {
	local i
	for ((i = 0; i < 120; i++)); do
		[[ -n $(kubectl get svc nginx -o jsonpath='{.status.loadBalancer.ingress[*].ip}') ]] && return 0
		sleep 0.5
	done
	echo "no EXTERNAL-IP after 60 s; see the controller log: $("$ironlb" lab status | awk '$1 == "controller" { print $5 }')" >&2
	return 1
}
step "quick start: EXTERNAL-IP assigned" wait_external_ip
kubectl get svc nginx -o wide

# The addresses to curl from the client.
targets=()
for ip in $(kubectl get svc nginx -o jsonpath='{.status.loadBalancer.ingress[*].ip}'); do
	targets+=("$ip:80")
done

echo "==> curl from the client to the EXTERNAL-IP"
for t in "${targets[@]}"; do
	host=${t%:*} port=${t##*:}
	[[ $host == *:* ]] && host="[$host]"
	# kube-proxy programs a new Service within a second or two: wait quietly.
	for ((i = 0; i < 60; i++)); do
		"$ironlb" lab exec client -- curl -s -o /dev/null --max-time 2 "http://$host:$port/" && break
		sleep 0.5
	done
	echo "\$ bin/ironlb lab exec client -- curl http://$host:$port/"
	"$ironlb" lab exec client -- curl -sS --max-time 5 "http://$host:$port/"
done

cat <<EOF
==> make lab: done in $((SECONDS - start)) s
    bin/ironlb lab status                 hosts, addresses, processes
    bin/ironlb lab kubectl -- get pods -A
    bin/ironlb lab exec client -- curl ...
    bin/ironlb lab router -- -c 'show bgp summary'
    bin/ironlb lab down                   remove the lab
EOF
