# Shared helpers for the scripts in hack/. Source it; do not run it.
# shellcheck shell=bash

# Every step run by this shell, in order, for step_table.
step_names=()
step_secs=()
step_results=()

# step NAME CMD...: run CMD, print its duration, stop the script on failure.
step() {
	local name=$1; shift
	local start=$SECONDS
	echo "==> $name"
	if "$@"; then
		step_names+=("$name"); step_secs+=($((SECONDS - start))); step_results+=(ok)
		echo "==> $name: ok ($((SECONDS - start)) s)"
	else
		local rc=$?
		step_names+=("$name"); step_secs+=($((SECONDS - start))); step_results+=("FAILED (exit $rc)")
		echo "==> $name: FAILED (exit $rc after $((SECONDS - start)) s)" >&2
		exit "$rc"
	fi
}

# step_table: the steps run so far with their times, one line each, and the
# total. Scripts call it from an EXIT trap so it prints after a failure too.
step_table() {
	((${#step_names[@]})) || return 0
	local i total=0
	echo
	echo "==> steps"
	for i in "${!step_names[@]}"; do
		printf '    %6d s  %-10s %s\n' "${step_secs[$i]}" "${step_results[$i]%% *}" "${step_names[$i]}"
		total=$((total + step_secs[i]))
	done
	printf '    %6d s  total\n' "$total"
}

# in_ci: the CI environment variable holds a true value (as Go's
# strconv.ParseBool reads it: 1, t, T, TRUE, true, True).
in_ci() {
	case ${CI:-} in
	1 | t | T | TRUE | true | True) return 0 ;;
	*) return 1 ;;
	esac
}

# repo_root: the top of the ironlb checkout.
repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# tool NAME: the path of a tool pinned in hack/tools/go.mod, as
# hack/build-tools.sh built it (it builds it when missing or stale).
tool() {
	local root; root=$(repo_root)
	"$root/hack/build-tools.sh" "$1" >&2
	echo "${IRONLB_CACHE:-$HOME/.cache/ironlb}/tools/$1"
}
