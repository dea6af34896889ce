#!/usr/bin/env bash
# `make test`: everything CI runs, in order, each step timed, with a table of
# the steps' times at the end. The prerequisite steps install or build
# everything the tests need — Debian packages, the pinned Go tools, the
# pinned control-plane binaries and Prometheus, the image's cross-build — so
# no test builds anything; each of them is near-instant when its cache is
# warm.
#
# Test results: every `go test` run goes through gotestsum, which lists each
# package, the output of failed tests and every skipped test with its
# reason; the JSON of each run is kept in $IRONLB_TEST_RESULTS (default: a
# temporary directory). The last line counts the tests of all runs:
# "tests: N passed, N failed, N skipped". Under CI (CI set to a true value)
# a skipped test fails the run: a missing prerequisite must fail, never skip.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"
# shellcheck source=test-timeouts.env
source hack/test-timeouts.env
results=${IRONLB_TEST_RESULTS:-$(mktemp -d)}
mkdir -p "$results"
rm -f "$results"/*.json
trap step_table EXIT

# go_tests NAME GO-TEST-ARGS...: one `go test` run through gotestsum.
# Benchmarks dressed as tests (TestBench*) belong to `make bench`.
go_tests() {
	local name=$1; shift
	"$(tool gotestsum)" --format pkgname-and-test-fails --format-hide-empty-pkg \
		--jsonfile "$results/$name.json" -- -count=1 -skip '^TestBench' "$@"
}

# count ACTION: how many tests and subtests of all runs ended with ACTION.
count() {
	cat "$results"/*.json 2>/dev/null | grep -cE "\"Action\":\"$1\",\"Package\":\"[^\"]*\",\"Test\":\"" || true
}

# summary: the closing line, and under CI no skipped test.
summary() {
	local passed failed skipped
	passed=$(count pass); failed=$(count fail); skipped=$(count skip)
	if ((skipped)); then
		echo "==> skipped tests:"
		cat "$results"/*.json | grep -oE "\"Action\":\"skip\",\"Package\":\"[^\"]*\",\"Test\":\"[^\"]*\"" |
			sed -E 's/.*"Package":"github.com\/ironlb\/ironlb\/([^"]*)","Test":"([^"]*)"/    \1 \2/'
	fi
	echo "tests: $passed passed, $failed failed, $skipped skipped"
	if ((skipped)) && in_ci; then
		echo "make test: $skipped tests skipped under CI; a missing prerequisite must fail, not skip (see the reasons above)" >&2
		return 1
	fi
}

step "prerequisites (Debian packages)" hack/install-prereqs.sh all
step "pinned tools (helm, kustomize, golangci-lint, gotestsum)" hack/build-tools.sh
step "verify generated files" hack/verify-generate.sh
# Lint before the (cold: ten minutes and more) control-plane build so a lint
# error shows up early.
step "lint" hack/lint.sh
step "control-plane binaries (with --all: the lab's too)" hack/build-k8s.sh --all
# Prometheus and promtool: the alert unit tests (internal/monitoring) and
# the lab's --monitoring (e2e TestMonitoring) run them; cold 15 min on this
# busy machine (docs/development.md), under a second warm.
step "Prometheus and promtool (pinned)" hack/build-prometheus.sh
# The image test (internal/image) cross-builds ironlb for amd64 and arm64;
# this step does the same build first (make image), so the test links from a
# warm cache instead of compiling for minutes inside its timeout.
step "image cross-build (make image: linux/amd64 + linux/arm64)" hack/image.sh
# The pause and echo images `lab up --kubelet real` imports (e2e's
# TestRealKubelet); a few seconds warm.
step "lab images (pause, echo)" hack/lab-images.sh
# MetalLB, the peer `lab up --lb metallb` runs (e2e's TestMetalLB: MetalLB
# answering, then `ironlb migrate` to ironlb); a no-op warm.
step "MetalLB (the peer, from the Go module proxy)" hack/build-metallb.sh
step "unit and integration tests (-race)" go_tests unit -race -timeout "$UNIT_TIMEOUT" ./...
step "fuzz" hack/fuzz.sh
# The end-to-end suite brings up a lab of its own (unique prefix, temporary
# directory) and takes it down; it needs root, like CI.
step "end-to-end tests on the lab" go_tests e2e -tags e2e -timeout "$E2E_TIMEOUT" ./test/e2e/
# The BGP suite once more, on an IPv6-only lab: sessions to the router's
# IPv6 address, IPv6 routes alone, router IDs of nodes without IPv4
# (about 80 s with the lab's set-up).
e2e_ipv6() { (export IRONLB_E2E_IP_FAMILY=ipv6; go_tests e2e-ipv6 -tags e2e -timeout "$E2E_TIMEOUT" -run '^TestBGP$' ./test/e2e/); }
step "end-to-end BGP suite on an IPv6-only lab" e2e_ipv6
step "test summary" summary
