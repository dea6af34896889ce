// Package testkit is what ironlb's tests ask of the machine they run on, in
// one place: whether they run under CI (where a missing prerequisite fails
// the test instead of skipping it), where the pinned tools built by
// hack/build-tools.sh are, and how long a wait may last before its outcome
// counts as missing.
//
// Tests never build a tool themselves: `make test` runs the build steps
// first (hack/test.sh), so a test finds its tools ready or — under CI —
// fails at once naming the step that builds them.
//
// Wait budgets: a test waits for an outcome (a route on the router, a
// session Established), never for a time. [Budget] turns the time the
// outcome is expected to take on an idle machine into the longest the test
// waits for it; a test fails only when the outcome is missing after that
// budget. Timings belong in `make bench`, not in assertions.
package testkit
