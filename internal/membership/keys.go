package membership

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
)

// keyInfo is HKDF's context string for the gossip key: a key derived for
// anything else from the same secret differs from it.
const keyInfo = "ironlb memberlist gossip key v1"

// SecretKey derives the gossip key from the content of a Secret's key with
// HKDF-SHA256 (RFC 5869; the Secret's content as input keying material, no
// salt, keyInfo as context): 32 bytes, AES-256. Every speaker reading the
// same Secret gets the same key, whatever the secret's length. An empty
// secret is refused.
func SecretKey(secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, errors.New("the memberlist secret is empty; it needs some random bytes, such as 32 from /dev/urandom")
	}
	return hkdf.Key(sha256.New, secret, nil, keyInfo, 32)
}

// fingerprint names a key in the members' metadata without revealing it:
// the first 8 bytes of its SHA-256, in hex. The key is itself a hash of a
// high-entropy secret, so this leaks nothing usable.
func fingerprint(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:8])
}

// keyMetaPrefix starts the metadata a member publishes about its keys:
// "k1=" then the fingerprints of its keys, the one it encrypts with first,
// separated by commas. Metadata without it (none, or another format) is a
// member whose keys are unknown.
const keyMetaPrefix = "k1="

// keyState is what a member publishes about its keyring: the key it
// encrypts with (primary) and every key it decrypts with (installed,
// primary included), as fingerprints.
type keyState struct {
	primary   string
	installed []string
}

// encode returns the metadata for s: primary first, the others sorted.
func (s keyState) encode() []byte {
	rest := slices.DeleteFunc(slices.Clone(s.installed), func(f string) bool { return f == s.primary })
	slices.Sort(rest)
	return []byte(keyMetaPrefix + strings.Join(append([]string{s.primary}, rest...), ","))
}

// decodeKeyState reads a member's metadata; the zero keyState (unknown
// keys) when it holds none.
func decodeKeyState(meta []byte) keyState {
	rest, ok := strings.CutPrefix(string(meta), keyMetaPrefix)
	if !ok || rest == "" {
		return keyState{}
	}
	fps := strings.Split(rest, ",")
	if slices.Contains(fps, "") {
		return keyState{}
	}
	return keyState{primary: fps[0], installed: fps}
}

// has reports whether the member decrypts with the key fp.
func (s keyState) has(fp string) bool { return slices.Contains(s.installed, fp) }

// keyStep is what a member does next in a key rotation.
type keyStep struct {
	// use is the fingerprint of the key to encrypt with from now on, or "".
	use string
	// remove are the fingerprints of keys to stop accepting.
	remove []string
}

// nextKeyStep decides the next step of a rotation towards the key wanted
// (the one the Secret holds now), from this member's keys and those the
// other live members publish. A rotation is three steps, each taken only
// when every other member has taken the one before, so no member ever
// encrypts with a key another cannot decrypt:
//
//  1. install the wanted key next to the old one (done when the Secret
//     changes, not here) and publish it;
//  2. encrypt with it once every other member has it installed;
//  3. drop the other keys once every other member encrypts with it.
//
// A member whose keys are unknown (no metadata yet) holds a rotation back:
// waiting costs nothing, as the old key keeps working, while going on could
// cut that member off.
func nextKeyStep(self keyState, wanted string, others []keyState) keyStep {
	if !self.has(wanted) {
		return keyStep{}
	}
	all := func(ok func(keyState) bool) bool {
		for _, o := range others {
			if o.primary == "" || !ok(o) {
				return false
			}
		}
		return true
	}
	if self.primary != wanted {
		if all(func(o keyState) bool { return o.has(wanted) }) {
			return keyStep{use: wanted}
		}
		return keyStep{}
	}
	var stale []string
	for _, f := range self.installed {
		if f != wanted {
			stale = append(stale, f)
		}
	}
	if len(stale) > 0 && all(func(o keyState) bool { return o.primary == wanted }) {
		slices.Sort(stale)
		return keyStep{remove: stale}
	}
	return keyStep{}
}
