package configread

import (
	"strings"
	"testing"

	"github.com/ironlb/ironlb/internal/config"
)

func TestAcceptedRecordRoundTrip(t *testing.T) {
	snap := &config.Snapshot{Peers: []config.Peer{{Name: "r", Password: "secret"}}}
	sec, err := AcceptedRecord("ns", 7, snap)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Type != AcceptedSecretType || sec.Name != AcceptedSecretName || sec.Namespace != "ns" {
		t.Errorf("secret %s/%s of type %s", sec.Namespace, sec.Name, sec.Type)
	}
	acc, err := decodeAccepted(sec)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Generation != 7 || acc.Digest != snap.Digest() || acc.Snapshot.Peers[0].Password != "secret" {
		t.Errorf("decoded %+v", acc)
	}
	// The same Snapshot gives the same bytes: a rewrite changes nothing.
	again, _ := AcceptedRecord("ns", 7, acc.Snapshot)
	if string(again.Data[AcceptedDataKey]) != string(sec.Data[AcceptedDataKey]) {
		t.Errorf("re-encoding the decoded Snapshot gives other bytes")
	}

	for name, mod := range map[string]func(){
		"no generation":  func() { delete(sec.Annotations, AnnotationGeneration) },
		"generation 0":   func() { sec.Annotations[AnnotationGeneration] = "0" },
		"not gzip":       func() { sec.Data[AcceptedDataKey] = []byte("{}") },
		"another digest": func() { sec.Annotations[AnnotationDigest] = "x" },
	} {
		sec, _ = AcceptedRecord("ns", 7, snap)
		mod()
		acc, err := decodeAccepted(sec)
		if err == nil || acc.Snapshot != nil || !strings.Contains(err.Error(), AcceptedSecretName) {
			t.Errorf("%s: err %v, snapshot %v", name, err, acc.Snapshot != nil)
		}
	}
}
