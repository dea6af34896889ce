package bgp

import (
	"fmt"
	"strconv"
	"strings"
)

// Community is a standard BGP community (RFC 1997): high 16 bits an AS
// number, low 16 bits a value.
type Community uint32

// String formats c as "AS:value".
func (c Community) String() string {
	return fmt.Sprintf("%d:%d", uint32(c)>>16, uint32(c)&0xffff)
}

// wellKnownCommunities maps the RFC 1997 / RFC 7999 names to their values.
var wellKnownCommunities = map[string]Community{
	"no-export":           0xffffff01,
	"no-advertise":        0xffffff02,
	"no-export-subconfed": 0xffffff03,
	"no-peer":             0xffffff04,
	"blackhole":           0xffff029a,
}

// ParseCommunity parses "AS:value" (both 0..65535) or a well-known name
// (no-export, no-advertise, no-export-subconfed, no-peer, blackhole).
func ParseCommunity(s string) (Community, error) {
	if c, ok := wellKnownCommunities[strings.ToLower(s)]; ok {
		return c, nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("community %q: want AS:value with both in 0..65535, or a well-known name such as no-export", s)
	}
	h, err := strconv.ParseUint(hi, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("community %q: AS part %q is not a number in 0..65535", s, hi)
	}
	l, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("community %q: value part %q is not a number in 0..65535", s, lo)
	}
	return Community(h<<16 | l), nil
}

// LargeCommunity is a BGP large community (RFC 8092).
type LargeCommunity struct {
	Global, Local1, Local2 uint32
}

// String formats c as "global:local1:local2".
func (c LargeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", c.Global, c.Local1, c.Local2)
}

// ParseLargeCommunity parses "global:local1:local2", each in 0..4294967295.
func ParseLargeCommunity(s string) (LargeCommunity, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return LargeCommunity{}, fmt.Errorf("large community %q: want global:local1:local2, each in 0..4294967295", s)
	}
	var v [3]uint32
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return LargeCommunity{}, fmt.Errorf("large community %q: part %q is not a number in 0..4294967295", s, p)
		}
		v[i] = uint32(n)
	}
	return LargeCommunity{Global: v[0], Local1: v[1], Local2: v[2]}, nil
}
