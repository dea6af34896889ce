package configread

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/config"
)

// The accepted configuration is the one truth every process builds on
// (docs/architecture.md, "One configuration truth"). config.Build keeps
// the last valid version of an object whose current version is invalid;
// that version comes from Input.Previous. If each process kept its own
// Previous in memory, a process started while an invalid edit is pending
// would build another Snapshot than one that kept running. So the
// controller records the Snapshot it builds in one Secret of ironlb's
// namespace, and every process — the controller itself, every speaker,
// the webhook — reads it with the other inputs and builds on it: the same
// objects and the same record give the same Snapshot, whenever a process
// started.
const (
	// AcceptedSecretName is the Secret the controller records the
	// accepted configuration in. A Secret, because the Snapshot holds
	// the BGP passwords of the peers in use, which must outlive a deleted
	// password Secret while a stale peer keeps its session.
	AcceptedSecretName = "ironlb-accepted-config"
	// AcceptedSecretType is its type.
	AcceptedSecretType corev1.SecretType = "ironlb.io/accepted-configuration"
	// AcceptedDataKey holds the gzipped config.Snapshot.Encode.
	AcceptedDataKey = "snapshot.json.gz"
	// AnnotationGeneration counts the records: each Snapshot that differs
	// from the recorded one gets the next number.
	AnnotationGeneration = "ironlb.io/config-generation"
	// AnnotationDigest is the recorded Snapshot's config.Snapshot.Digest.
	AnnotationDigest = "ironlb.io/config-digest"
)

// Accepted is the recorded configuration as read.
type Accepted struct {
	// Generation is the record's number, 0 when there is none yet (or its
	// annotation cannot be read).
	Generation int64
	// Digest is the recorded Snapshot's digest; empty when there is none.
	Digest string
	// Snapshot is the recorded Snapshot; nil when there is none.
	Snapshot *config.Snapshot
	// Secret is the record as read (for its resourceVersion); nil when it
	// does not exist.
	Secret *corev1.Secret
}

// decodeAccepted reads a record. A record that cannot be read exactly —
// another format, a digest that does not match its content — is an error:
// building on a wrong Previous is worse than building on none. On error
// the result has no Snapshot, but keeps the Secret and, when it parses,
// the generation, so the next record continues the count.
func decodeAccepted(s *corev1.Secret) (Accepted, error) {
	out := Accepted{Secret: s}
	fail := func(format string, args ...any) (Accepted, error) {
		return out, fmt.Errorf("the accepted configuration Secret %s/%s: %s", s.Namespace, s.Name, fmt.Sprintf(format, args...))
	}
	gen, err := strconv.ParseInt(s.Annotations[AnnotationGeneration], 10, 64)
	if err != nil || gen < 1 {
		return fail("annotation %s is %q, want a positive number", AnnotationGeneration, s.Annotations[AnnotationGeneration])
	}
	out.Generation = gen
	zr, err := gzip.NewReader(bytes.NewReader(s.Data[AcceptedDataKey]))
	if err != nil {
		return fail("key %s: %v", AcceptedDataKey, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxAcceptedSize+1))
	if err != nil {
		return fail("key %s: %v", AcceptedDataKey, err)
	}
	if len(raw) > maxAcceptedSize {
		return fail("key %s: more than %d bytes decompressed", AcceptedDataKey, maxAcceptedSize)
	}
	snap, err := config.DecodeSnapshot(raw)
	if err != nil {
		return fail("key %s: %v", AcceptedDataKey, err)
	}
	if d := config.DigestEncoded(raw); d != s.Annotations[AnnotationDigest] {
		return fail("its content has digest %s, annotation %s says %q", d, AnnotationDigest, s.Annotations[AnnotationDigest])
	}
	out.Digest, out.Snapshot = s.Annotations[AnnotationDigest], snap
	return out, nil
}

// maxAcceptedSize bounds the decompressed record: far above any real
// configuration (a Secret holds at most 1 MiB compressed), low enough
// that a forged record cannot exhaust memory.
const maxAcceptedSize = 64 << 20

// AcceptedRecord returns the Secret that records snap as generation gen in
// namespace. The caller creates it, or updates the existing one with its
// resourceVersion (optimistic concurrency: two writers never both win).
func AcceptedRecord(namespace string, gen int64, snap *config.Snapshot) (*corev1.Secret, error) {
	raw, err := snap.Encode()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: AcceptedSecretName,
			Labels: map[string]string{"app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "controller"},
			Annotations: map[string]string{
				AnnotationGeneration: strconv.FormatInt(gen, 10),
				AnnotationDigest:     config.DigestEncoded(raw),
			},
		},
		Type: AcceptedSecretType,
		Data: map[string][]byte{AcceptedDataKey: buf.Bytes()},
	}, nil
}
