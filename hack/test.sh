#!/usr/bin/env bash
# `make test`: everything CI runs, in order, each step timed. It installs or
# builds what it needs (pinned tools come through the Go module proxy).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"
total=$SECONDS

step "verify generated files" hack/verify-generate.sh
step "lint" hack/lint.sh
step "unit tests (-race)" go test -race -count=1 ./...
step "fuzz" hack/fuzz.sh
echo "==> make test: all steps passed ($((SECONDS - total)) s)"
