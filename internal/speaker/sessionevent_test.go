package speaker

import "testing"

func TestSessionNotesRoundTrip(t *testing.T) {
	n, p, a, s, ok := ParseSessionNote(sessionUpNote("node1", "router", "10.0.0.1"))
	if !ok || n != "node1" || p != "router" || a != "10.0.0.1" || s != "" {
		t.Errorf("up: %q %q %q %q %v", n, p, a, s, ok)
	}
	n, p, a, s, ok = ParseSessionNote(sessionDownNote("node2", "rr", "fd00::1", "Idle"))
	if !ok || n != "node2" || p != "rr" || a != "fd00::1" || s != "Idle" {
		t.Errorf("down: %q %q %q %q %v", n, p, a, s, ok)
	}
	if _, _, _, _, ok := ParseSessionNote("node node1 cannot run some BGP configuration"); ok {
		t.Error("another note parsed as a session note")
	}
}
