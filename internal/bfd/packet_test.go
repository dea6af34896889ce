package bfd

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func validPacket() Control {
	return Control{
		Diag: DiagControlDetectionExpired, State: StateUp, Poll: true,
		DetectMult: 3, MyDiscriminator: 0x01020304, YourDiscriminator: 0x0a0b0c0d,
		DesiredMinTx: 300 * time.Millisecond, RequiredMinRx: 250 * time.Millisecond,
		RequiredMinEchoRx: 50 * time.Millisecond,
	}
}

func TestControlRoundTrip(t *testing.T) {
	want := validPacket()
	b, err := AppendControl(nil, want)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes := []byte{0x21, 0xe0, 3, 24, 1, 2, 3, 4, 0xa, 0xb, 0xc, 0xd,
		0, 0x04, 0x93, 0xe0, 0, 0x03, 0xd0, 0x90, 0, 0, 0xc3, 0x50}
	if diff := cmp.Diff(wantBytes, b); diff != "" {
		t.Errorf("encoding (-want +got):\n%s", diff)
	}
	got, err := DecodeControl(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeControlRejects(t *testing.T) {
	base, err := AppendControl(nil, validPacket())
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), base...))
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"short", base[:23], ErrShort},
		{"version 0", mod(func(b []byte) []byte { b[0] &= 0x1f; return b }), ErrVersion},
		{"version 2", mod(func(b []byte) []byte { b[0] = 2<<5 | b[0]&0x1f; return b }), ErrVersion},
		{"length below 24", mod(func(b []byte) []byte { b[3] = 23; return b }), ErrLength},
		{"length beyond payload", mod(func(b []byte) []byte { b[3] = 25; return b }), ErrLength},
		{"detect mult 0", mod(func(b []byte) []byte { b[2] = 0; return b }), ErrDetectMult},
		{"multipoint", mod(func(b []byte) []byte { b[1] |= flagMultipoin; return b }), ErrMultipoint},
		{"my discr 0", mod(func(b []byte) []byte { copy(b[4:8], []byte{0, 0, 0, 0}); return b }), ErrMyDiscr},
		{"your discr 0 in Up", mod(func(b []byte) []byte { copy(b[8:12], []byte{0, 0, 0, 0}); return b }), ErrYourDiscr},
		{"your discr 0 in Init", mod(func(b []byte) []byte { b[1] = b[1]&0x3f | 2<<6; copy(b[8:12], []byte{0, 0, 0, 0}); return b }), ErrYourDiscr},
		{"auth bit", mod(func(b []byte) []byte { b[1] |= flagAuth; b[3] = 26; return append(b, 0, 0) }), ErrAuthNotInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeControl(tt.b); !errors.Is(err, tt.want) {
				t.Errorf("DecodeControl: got %v, want %v", err, tt.want)
			}
		})
	}
	accepts := []struct {
		name string
		b    []byte
	}{
		{"your discr 0 in Down", mod(func(b []byte) []byte { b[1] = b[1]&0x3f | 1<<6; copy(b[8:12], []byte{0, 0, 0, 0}); return b })},
		{"your discr 0 in AdminDown", mod(func(b []byte) []byte { b[1] &= 0x3f; copy(b[8:12], []byte{0, 0, 0, 0}); return b })},
		{"trailing bytes inside length", mod(func(b []byte) []byte { b[3] = 28; return append(b, 1, 2, 3, 4) })},
	}
	for _, tt := range accepts {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeControl(tt.b); err != nil {
				t.Errorf("DecodeControl: %v, want success", err)
			}
		})
	}
}

func TestAppendControlIntervalRange(t *testing.T) {
	for _, d := range []time.Duration{-time.Microsecond, (1 << 32) * time.Microsecond} {
		p := validPacket()
		p.RequiredMinRx = d
		if _, err := AppendControl(nil, p); err == nil {
			t.Errorf("AppendControl with interval %v: no error", d)
		}
	}
}

func FuzzDecodeControl(f *testing.F) {
	b, _ := AppendControl(nil, validPacket())
	f.Add(b)
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeControl(b)
		if err != nil {
			return
		}
		enc, err := AppendControl(nil, c)
		if err != nil {
			t.Fatalf("AppendControl of decoded %+v: %v", c, err)
		}
		c2, err := DecodeControl(enc)
		if err != nil {
			t.Fatalf("DecodeControl of re-encoded %+v: %v", c, err)
		}
		if c != c2 {
			t.Fatalf("round trip: %+v != %+v", c, c2)
		}
	})
}
