package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/internal/config"
)

// TestAcceptedSnapshotIsAFixedPoint checks what the one configuration
// truth rests on (docs/architecture.md): every process builds with the
// Snapshot the controller recorded as Previous, so that Snapshot must
// survive its encoding unchanged, and building again on the recorded
// Snapshot must give that Snapshot back — else the controller would record
// a new generation after each of its own records, forever.
//
// The inputs are a chain of edits: two objects of each kind (and a legacy
// configuration) take, step after step, a random document of their kind
// from the documentation, the examples, the fuzz corpus and the generated
// variants of the differential test, so valid versions, invalid edits
// (stale objects), conflicts and deletions follow each other. Each step
// builds on the decoded record of the previous one, as a process does.
func TestAcceptedSnapshotIsAFixedPoint(t *testing.T) {
	crs, legacies := gatherCandidates(t)
	byKind := map[string][]map[string]any{}
	for _, c := range crs {
		obj, err := decodeDoc(c.doc)
		if err != nil || obj == nil {
			continue
		}
		kind, _ := obj["kind"].(string)
		byKind[kind] = append(byKind[kind], obj)
	}
	rng := rand.New(rand.NewPCG(11, 16))
	type slot struct {
		kind, name string
		created    time.Time
		doc        []byte // nil: the object does not exist
	}
	var slots []*slot
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i, kind := range configKinds {
		for j, name := range []string{"a", "b"} {
			slots = append(slots, &slot{kind: kind, name: name, created: base.Add(time.Duration(2*i+j) * time.Minute)})
		}
	}
	var legacy string
	var prev *config.Snapshot
	stale, steps := 0, 150
	for step := range steps {
		for _, s := range slots {
			switch n := rng.IntN(8); {
			case n < 2: // unchanged
			case n == 2:
				s.doc = nil
			default:
				objs := byKind[s.kind]
				obj := clone(objs[rng.IntN(len(objs))])
				meta, _ := obj["metadata"].(map[string]any)
				if meta == nil {
					meta = map[string]any{}
					obj["metadata"] = meta
				}
				meta["name"], meta["namespace"] = s.name, diffNamespace
				meta["creationTimestamp"] = s.created.Format(time.RFC3339)
				b, err := json.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				s.doc = b
			}
		}
		switch rng.IntN(6) {
		case 0:
			legacy = ""
		case 1:
			legacy = legacies[rng.IntN(len(legacies))].text
		}
		m := config.Manifests{Input: config.Input{Namespace: diffNamespace}}
		for _, s := range slots {
			if s.doc != nil {
				m.Add(fmt.Sprintf("%s %s", s.kind, s.name), s.doc)
			}
		}
		if legacy != "" {
			m.Add("legacy", []byte(legacy))
		}
		in := m.Input
		in.Previous = prev
		res := config.Build(in)

		enc, err := res.Snapshot.Encode()
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		rec, err := config.DecodeSnapshot(enc)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		again, err := rec.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, again) {
			t.Fatalf("step %d: the decoded Snapshot encodes differently:\n%s\n%s", step, enc, again)
		}
		in.Previous = rec
		next := config.Build(in)
		if got, want := next.Snapshot.Digest(), res.Snapshot.Digest(); got != want {
			b, _ := next.Snapshot.Encode()
			t.Fatalf("step %d: building on the recorded Snapshot gives digest %s, want %s:\nrecorded %s\nrebuilt  %s", step, got, want, enc, b)
		}
		if diff := cmp.Diff(res.Statuses, next.Statuses); diff != "" {
			t.Fatalf("step %d: the verdicts change when built on the recorded Snapshot (-first +again):\n%s", step, diff)
		}
		for _, st := range res.Statuses {
			if st.Stale {
				stale++
			}
		}
		prev = rec
	}
	t.Logf("%d steps, %d stale objects kept along the way", steps, stale)
	if stale == 0 {
		t.Errorf("no step kept a stale object: the chain does not exercise the last-valid-version rule")
	}
}

// clone copies a decoded JSON object deeply.
func clone(m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func TestDecodeSnapshotRefusesOtherFormats(t *testing.T) {
	for _, in := range []string{`{"format":2,"snapshot":{}}`, `{"format":1}`, `{"format":1,"snapshot":{},"extra":1}`, `not json`} {
		if _, err := config.DecodeSnapshot([]byte(in)); err == nil {
			t.Errorf("DecodeSnapshot(%s) = nil error", in)
		}
	}
}
