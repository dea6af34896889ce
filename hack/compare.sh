#!/usr/bin/env bash
# `make compare`: MetalLB v0.16.2 and ironlb side by side in one run, on
# labs of the same shape (test/e2e TestBenchCompare), printed as one table
# with the ratio; record it in docs/performance.md with the machine and the
# date. Figures, never pass/fail assertions. Needs root (the lab).
#
# IRONLB_BENCH_RUNS (default 20) failovers per kind, IRONLB_COMPARE_SERVICES
# (default 1000) Services in the burst; the table is also written to
# $IRONLB_BENCH_DIR/compare.txt (default a temporary directory).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"
# shellcheck source=test-timeouts.env
source hack/test-timeouts.env
trap step_table EXIT
if ((EUID != 0)); then
	echo "make compare needs root for the lab's network namespaces (run: sudo make compare)" >&2
	exit 1
fi
out=${IRONLB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$out"
step "prerequisites (Debian packages)" hack/install-prereqs.sh all
step "control-plane binaries for the lab" hack/build-k8s.sh --all
step "MetalLB (the peer)" hack/build-metallb.sh
step "MetalLB and ironlb side by side" \
	env IRONLB_COMPARE=1 IRONLB_BENCH_OUT="$out/compare.txt" \
	go test -tags e2e -count=1 -timeout "$BENCH_TIMEOUT" -run '^TestBenchCompare$' -v ./test/e2e/
echo
echo "==> results in $out"
cat "$out/compare.txt"
