package testkit

import (
	"os"
	"strconv"
	"time"
)

// FactorEnv overrides the factor [Budget] applies (a positive number).
const FactorEnv = "IRONLB_TEST_WAIT_FACTOR"

// Default factors: generous everywhere, more so under CI, where the machine
// may be loaded by other work. A wait ends as soon as its outcome is there,
// so a large factor costs time only when the outcome never comes.
const (
	factorLocal = 4
	factorCI    = 8
)

// minBudget is the least any wait gets: process start-up, a scheduler
// hiccup or a garbage collection on a loaded 2-core machine can take that
// long on their own.
const minBudget = 10 * time.Second

// Factor is the multiplier [Budget] applies: $IRONLB_TEST_WAIT_FACTOR when
// set to a positive number, else 8 under CI and 4 outside.
func Factor() float64 {
	if f, err := strconv.ParseFloat(os.Getenv(FactorEnv), 64); err == nil && f > 0 {
		return f
	}
	if InCI() {
		return factorCI
	}
	return factorLocal
}

// Budget is how long a test waits for an outcome expected within expected
// on an idle machine: expected × [Factor], and at least 10 s.
func Budget(expected time.Duration) time.Duration {
	return max(time.Duration(float64(expected)*Factor()), minBudget)
}
