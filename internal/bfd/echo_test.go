package bfd

import (
	"net/netip"
	"testing"
	"time"
)

func TestEchoPacket(t *testing.T) {
	b := appendEcho(nil, 0xdeadbeef, time.Unix(1, 2))
	if len(b) != echoLen {
		t.Fatalf("length %d, want %d", len(b), echoLen)
	}
	if d, ok := decodeEcho(b); !ok || d != 0xdeadbeef {
		t.Errorf("decode: %x %v", d, ok)
	}
	for name, bad := range map[string][]byte{
		"short":      b[:echoLen-1],
		"version":    append([]byte{9}, b[1:]...),
		"zero discr": appendEcho(nil, 0, time.Unix(1, 2)),
	} {
		if _, ok := decodeEcho(bad); ok {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestIPv4UDP(t *testing.T) {
	a := netip.MustParseAddr("10.200.0.11")
	payload := appendEcho(nil, 7, time.Unix(0, 0))
	pkt := ipv4UDP(a, a, EchoPort, EchoPort, 255, payload)
	if checksum(pkt[:20], 0) != 0 {
		t.Error("IPv4 header checksum does not verify")
	}
	src, dst, ttl, dport, got, ok := parseIPv4UDP(pkt)
	if !ok || src != a || dst != a || ttl != 255 || dport != EchoPort || string(got) != string(payload) {
		t.Fatalf("parse: %v %v %v %d %d %x", ok, src, dst, ttl, dport, got)
	}
	// The UDP checksum verifies against the pseudo-header.
	s := a.As4()
	pseudo := uint32(s[0])<<8 | uint32(s[1])
	pseudo += uint32(s[2])<<8 | uint32(s[3])
	pseudo *= 2
	pseudo += 17 + uint32(len(pkt)-20)
	if c := checksum(pkt[20:], pseudo); c != 0 {
		t.Errorf("UDP checksum does not verify: %#x", c)
	}
	for name, bad := range map[string][]byte{
		"short":    pkt[:27],
		"IPv6":     append([]byte{0x60}, pkt[1:]...),
		"TCP":      func() []byte { c := append([]byte(nil), pkt...); c[9] = 6; return c }(),
		"UDP long": func() []byte { c := append([]byte(nil), pkt...); c[24] = 0xff; return c }(),
	} {
		if _, _, _, _, _, ok := parseIPv4UDP(bad); ok {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParseEcho feeds arbitrary bytes, as they come off the echo sockets,
// to the parsers: they never panic, and what parses rebuilds to the same
// fields.
func FuzzParseEcho(f *testing.F) {
	a := netip.MustParseAddr("10.0.0.1")
	f.Add(ipv4UDP(a, a, EchoPort, EchoPort, 254, appendEcho(nil, 1, time.Unix(0, 0))))
	f.Add(appendEcho(nil, 1, time.Unix(0, 0)))
	f.Add([]byte{0x4f, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if src, dst, ttl, dport, payload, ok := parseIPv4UDP(b); ok {
			if !src.Is4() || !dst.Is4() || ttl > 255 || len(payload) > len(b) {
				t.Fatalf("parsed nonsense: %v %v %d %d %d", src, dst, ttl, dport, len(payload))
			}
		}
		if d, ok := decodeEcho(b); ok {
			if d == 0 || len(b) < echoLen {
				t.Fatalf("decoded %x from %x", d, b)
			}
		}
	})
}
