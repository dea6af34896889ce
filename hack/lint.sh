#!/usr/bin/env bash
# gofmt check, go vet and the pinned golangci-lint.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"

gofmt_check() {
	local bad
	bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
	if [[ -n $bad ]]; then
		echo "gofmt would change these files (run gofmt -w):" >&2
		echo "$bad" >&2
		return 1
	fi
}
step "gofmt" gofmt_check
step "go vet" go vet ./...
step "go vet (e2e)" go vet -tags e2e ./test/e2e/
# --allow-serial-runners: another golangci-lint on the machine (a developer's
# editor, a second checkout) makes this one wait for its lock, not fail.
step "golangci-lint" "$(tool golangci-lint)" run --allow-serial-runners --build-tags e2e ./...
