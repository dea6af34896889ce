# Shared helpers for the scripts in hack/. Source it; do not run it.
# shellcheck shell=bash

# step NAME CMD...: run CMD, print its duration, stop the script on failure.
step() {
	local name=$1; shift
	local start=$SECONDS
	echo "==> $name"
	if "$@"; then
		echo "==> $name: ok ($((SECONDS - start)) s)"
	else
		local rc=$?
		echo "==> $name: FAILED (exit $rc after $((SECONDS - start)) s)" >&2
		exit "$rc"
	fi
}

# repo_root: the top of the ironlb checkout.
repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }
