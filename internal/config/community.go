package config

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// BGPCommunity is a BGP community value: a standard community (RFC 1997,
// written AA:NN) or a large community (RFC 8092, written large:AA:BB:CC).
type BGPCommunity struct {
	// Large selects the form. For a standard community, Global holds AA
	// and Local1 holds NN (each 0-65535) and Local2 is 0.
	Large  bool
	Global uint32
	Local1 uint32
	Local2 uint32
}

// ParseCommunity parses "AA:NN" (two numbers 0-65535) or "large:AA:BB:CC"
// (three numbers 0-4294967295).
func ParseCommunity(s string) (BGPCommunity, error) {
	if rest, ok := strings.CutPrefix(s, "large:"); ok {
		f := strings.Split(rest, ":")
		if len(f) != 3 {
			return BGPCommunity{}, fmt.Errorf("a large community is large:AA:BB:CC with three numbers 0-4294967295, such as large:64512:1:2")
		}
		var n [3]uint32
		for i, part := range f {
			v, err := strconv.ParseUint(part, 10, 32)
			if err != nil {
				return BGPCommunity{}, fmt.Errorf("part %q of the large community is not a number from 0 to 4294967295", part)
			}
			n[i] = uint32(v)
		}
		return BGPCommunity{Large: true, Global: n[0], Local1: n[1], Local2: n[2]}, nil
	}
	a, b, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(b, ":") {
		return BGPCommunity{}, fmt.Errorf("a community is AA:NN with two numbers 0-65535 (such as 64512:100) or large:AA:BB:CC with three numbers 0-4294967295")
	}
	var n [2]uint32
	for i, part := range []string{a, b} {
		v, err := strconv.ParseUint(part, 10, 16)
		if err != nil {
			return BGPCommunity{}, fmt.Errorf("part %q of the community is not a number from 0 to 65535", part)
		}
		n[i] = uint32(v)
	}
	return BGPCommunity{Global: n[0], Local1: n[1]}, nil
}

// Standard returns a standard community as the 32-bit value carried in BGP
// (AA<<16 | NN). It is meaningless for a large community.
func (c BGPCommunity) Standard() uint32 { return c.Global<<16 | c.Local1 }

// String returns the canonical text, which ParseCommunity accepts.
func (c BGPCommunity) String() string {
	if c.Large {
		return fmt.Sprintf("large:%d:%d:%d", c.Global, c.Local1, c.Local2)
	}
	return fmt.Sprintf("%d:%d", c.Global, c.Local1)
}

func compareCommunity(a, b BGPCommunity) int {
	if a.Large != b.Large {
		if a.Large {
			return 1
		}
		return -1
	}
	return cmp.Or(cmp.Compare(a.Global, b.Global), cmp.Compare(a.Local1, b.Local1), cmp.Compare(a.Local2, b.Local2))
}

// isAliasName reports whether s can only be a Community alias (it has no
// colon, so it is no community value).
func isAliasName(s string) bool { return !strings.Contains(s, ":") }
