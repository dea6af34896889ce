package membership

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"
)

// wrongKeyLogEvery bounds how often messages dropped for a wrong key are
// logged: a member with another key sends several a second.
const wrongKeyLogEvery = 10 * time.Second

// logWriter receives memberlist's log lines ("[LEVEL] memberlist: text")
// and passes them to slog at the matching level. memberlist's [ERR] lines
// are about peers that stopped answering — expected while a node fails —
// so they become warnings. Lines about a message no installed key could
// decrypt (or an unencrypted one) call wrongKey and are logged as errors
// at most once per wrongKeyLogEvery, with the number dropped meanwhile.
type logWriter struct {
	log      *slog.Logger
	wrongKey func()

	mu         sync.Mutex
	lastLogged time.Time
	suppressed int
}

// wrongKeyLine reports whether memberlist's line is about a message it
// dropped for its encryption (memberlist v0.7: "Decrypt packet failed: …"
// for UDP, "failed to receive: no installed keys could decrypt the
// message" or "… remote state is not encrypted" for TCP).
func wrongKeyLine(line []byte) bool {
	return bytes.Contains(line, []byte("Decrypt packet failed")) ||
		bytes.Contains(line, []byte("no installed keys could decrypt")) ||
		bytes.Contains(line, []byte("remote state is not encrypted"))
}

func (w *logWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, l := range []struct {
		prefix string
		level  slog.Level
	}{
		{"[DEBUG]", slog.LevelDebug},
		{"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn},
		{"[ERR]", slog.LevelWarn},
		{"[ERROR]", slog.LevelWarn},
	} {
		if rest, ok := bytes.CutPrefix(line, []byte(l.prefix)); ok {
			level, line = l.level, bytes.TrimSpace(rest)
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	if wrongKeyLine(line) {
		if w.wrongKey != nil {
			w.wrongKey()
		}
		w.mu.Lock()
		now := time.Now()
		if now.Sub(w.lastLogged) < wrongKeyLogEvery {
			w.suppressed++
			w.mu.Unlock()
			return len(p), nil
		}
		n := w.suppressed
		w.lastLogged, w.suppressed = now, 0
		w.mu.Unlock()
		w.log.Error("dropped a memberlist message no installed key decrypts: another speaker has another memberlist Secret "+
			"(or something else talks to the memberlist port), and the two cannot see each other",
			"part", "memberlist", "detail", string(line), "droppedSinceLastLog", n)
		return len(p), nil
	}
	w.log.Log(context.Background(), level, string(line), "part", "memberlist")
	return len(p), nil
}
