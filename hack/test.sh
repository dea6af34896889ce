#!/usr/bin/env bash
# `make test`: everything CI runs, in order, each step timed. It installs or
# builds what it needs — Debian packages, pinned Go tools, the pinned
# control-plane binaries — and each of those steps is near-instant when its
# cache is warm.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"
total=$SECONDS

step "prerequisites (Debian packages)" hack/install-prereqs.sh all
step "verify generated files" hack/verify-generate.sh
# Lint before the (cold: several minutes) control-plane build so a lint error
# shows up in seconds.
step "lint" hack/lint.sh
step "control-plane binaries (with --all: the lab's too)" hack/build-k8s.sh --all
step "unit and integration tests (-race)" go test -race -count=1 ./...
step "fuzz" hack/fuzz.sh
# The end-to-end suite brings up a lab of its own (unique prefix, temporary
# directory) and takes it down; it needs root, like CI.
step "end-to-end tests on the lab" go test -tags e2e -count=1 -timeout 30m ./test/e2e/
echo "==> make test: all steps passed ($((SECONDS - total)) s)"
