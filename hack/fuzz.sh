#!/usr/bin/env bash
# Run every fuzz target of the module for FUZZTIME (default 10s) each.
# Go allows one -fuzz target per invocation, so list them and run each.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"
FUZZTIME=${FUZZTIME:-10s}

mapfile -t pkgs < <(go list ./...)
found=0
for pkg in "${pkgs[@]}"; do
	mapfile -t targets < <(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for t in "${targets[@]}"; do
		found=$((found + 1))
		step "fuzz $pkg $t ($FUZZTIME)" go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
echo "fuzz: $found targets"
