package bfd

import "time"

// SlowTxInterval is the least desired TX interval a session advertises while
// it is not Up (RFC 5880 §6.8.3).
const SlowTxInterval = time.Second

// txInterval is the interval between periodic packets before jitter: the
// larger of our desired min TX and the peer's required min RX (§6.8.7).
// Zero means the peer asked for no packets at all.
func txInterval(localDesiredTx, remoteMinRx time.Duration) time.Duration {
	if remoteMinRx == 0 {
		return 0
	}
	return max(localDesiredTx, remoteMinRx)
}

// jitter reduces d by a random 0–25 % (0 is 100 %), or by 10–25 % when the
// local detect multiplier is 1 (§6.8.7). r must lie in [0, 1).
func jitter(d time.Duration, detectMult uint8, r float64) time.Duration {
	lo, span := 0.75, 0.25
	if detectMult == 1 {
		span = 0.15
	}
	return time.Duration(float64(d) * (lo + span*r))
}

// detectionTime is the asynchronous-mode detection time (§6.8.4): the
// peer's detect multiplier times the larger of our required min RX and the
// peer's desired min TX.
func detectionTime(remoteMult uint8, localMinRx, remoteDesiredTx time.Duration) time.Duration {
	return time.Duration(remoteMult) * max(localMinRx, remoteDesiredTx)
}
