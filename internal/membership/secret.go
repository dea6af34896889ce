package membership

import (
	"crypto/rand"
	"encoding/base64"
)

// The Secret the speakers derive their gossip key from (SecretKey), as the
// installation names it. The controller creates it when it is missing.
const (
	// DefaultSecretName is the Secret's name in ironlb's namespace.
	DefaultSecretName = "ironlb-memberlist"
	// SecretDataKey is the key of the Secret's data holding the secret.
	SecretDataKey = "secretkey"
)

// NewSecret returns fresh random content for the Secret's SecretDataKey:
// 96 random bytes as 128 base64 characters.
func NewSecret() []byte {
	raw := make([]byte, 96)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails (Go 1.24+)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out
}
