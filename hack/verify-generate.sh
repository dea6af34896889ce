#!/usr/bin/env bash
# Fail when `make generate` would change a file: generated files must be
# committed up to date. Works with uncommitted edits too (compares checksums
# of the generated paths before and after regeneration).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"

paths=(api config dist charts)
sums() { find "${paths[@]}" -type f 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum; }
before=$(sums)
hack/generate.sh
after=$(sums)
if [[ "$before" != "$after" ]]; then
	echo "generated files were stale; 'make generate' changed:" >&2
	diff <(echo "$before") <(echo "$after") >&2 || true
	echo "commit the regenerated files." >&2
	exit 1
fi
echo "generated files are up to date"
