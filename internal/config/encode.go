package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// snapshotFormat is the version of the encoding of Encode. Decode refuses
// any other, so a process never builds on a Snapshot it misreads.
const snapshotFormat = 1

// encoded is what Encode writes: the format version and the Snapshot.
type encoded struct {
	Format   int       `json:"format"`
	Snapshot *Snapshot `json:"snapshot"`
}

// Encode returns the Snapshot as JSON: the form in which the controller
// records the accepted configuration for every process (see
// internal/configread). The encoding is canonical — struct fields in
// declaration order, map keys sorted, times in UTC — so equal Snapshots
// encode to equal bytes, and Decode(Encode(s)) encodes to the same bytes
// again. It holds BGP passwords in clear: store it as a Secret.
func (s *Snapshot) Encode() ([]byte, error) {
	b, err := json.Marshal(encoded{Format: snapshotFormat, Snapshot: s})
	if err != nil {
		return nil, fmt.Errorf("encoding the configuration snapshot: %w", err)
	}
	return b, nil
}

// DecodeSnapshot reads what Encode wrote. Unknown fields and another
// format version are errors: a Snapshot is either read exactly or not at
// all.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e encoded
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decoding the configuration snapshot: %w", err)
	}
	if e.Format != snapshotFormat {
		return nil, fmt.Errorf("decoding the configuration snapshot: format %d, this ironlb reads format %d", e.Format, snapshotFormat)
	}
	if e.Snapshot == nil {
		return nil, fmt.Errorf("decoding the configuration snapshot: no snapshot in it")
	}
	return e.Snapshot, nil
}

// Digest identifies the Snapshot's content: the first 16 hex digits of
// the SHA-256 of Encode. Two processes that built equal Snapshots report
// the same digest. The digest of an unencodable Snapshot (which Build
// never returns) is "invalid".
func (s *Snapshot) Digest() string {
	b, err := s.Encode()
	if err != nil {
		return "invalid"
	}
	return DigestEncoded(b)
}

// DigestEncoded is Digest of the Snapshot whose Encode is b, without
// encoding it again.
func DigestEncoded(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Manifest returns o as a manifest to print or apply: its JSON form as a
// map, without the empty status and creationTimestamp a round trip through
// the Go types adds, and without a generation (the API server's).
func Manifest(o Object) (map[string]any, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
		delete(md, "generation")
	}
	return m, nil
}
