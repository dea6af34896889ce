#!/usr/bin/env bash
# `make bench`: every figure the issues ask for, printed as tables. Record
# what it prints in docs/performance.md with the machine and the date.
# Timings are figures, never pass/fail assertions.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"
out=${IRONLB_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$out"

step "Go benchmarks (internal/...)" bash -c "go test -run '^\$' -bench . -benchmem ./internal/... | tee '$out/go-bench.txt'"
step "control-plane binaries" hack/build-k8s.sh
step "1,000 LoadBalancer Services against a real API server" \
	env IRONLB_BENCH=1 IRONLB_BENCH_OUT="$out/controller-1000.txt" \
	go test -count=1 -run '^TestBench1000Services$' -v ./internal/controller/
echo
echo "==> results in $out"
cat "$out/controller-1000.txt" 2>/dev/null || true
