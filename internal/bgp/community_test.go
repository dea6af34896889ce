package bgp

import "testing"

func TestParseCommunity(t *testing.T) {
	tests := []struct {
		in      string
		want    Community
		wantErr bool
	}{
		{in: "64513:100", want: 64513<<16 | 100},
		{in: "0:0", want: 0},
		{in: "65535:65535", want: 0xffffffff},
		{in: "no-export", want: 0xffffff01},
		{in: "NO-ADVERTISE", want: 0xffffff02},
		{in: "blackhole", want: 0xffff029a},
		{in: "65536:1", wantErr: true},
		{in: "1:65536", wantErr: true},
		{in: "100", wantErr: true},
		{in: "a:b", wantErr: true},
		{in: "1:2:3", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseCommunity(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseCommunity(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseCommunity(%q) = %#x, want %#x", tt.in, uint32(got), uint32(tt.want))
		}
	}
}

func TestCommunityString(t *testing.T) {
	for _, s := range []string{"64513:100", "0:0", "65535:65535"} {
		c, err := ParseCommunity(s)
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != s {
			t.Errorf("round trip of %q gives %q", s, c.String())
		}
	}
}

func TestParseLargeCommunity(t *testing.T) {
	tests := []struct {
		in      string
		want    LargeCommunity
		wantErr bool
	}{
		{in: "64513:1:2", want: LargeCommunity{64513, 1, 2}},
		{in: "4294967295:0:4294967295", want: LargeCommunity{4294967295, 0, 4294967295}},
		{in: "4294967296:0:0", wantErr: true},
		{in: "1:2", wantErr: true},
		{in: "1:2:3:4", wantErr: true},
		{in: "1:x:3", wantErr: true},
		{in: "-1:2:3", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseLargeCommunity(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLargeCommunity(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil {
			if got != tt.want {
				t.Errorf("ParseLargeCommunity(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("round trip of %q gives %q", tt.in, got.String())
			}
		}
	}
}

func FuzzParseCommunity(f *testing.F) {
	for _, s := range []string{"64513:100", "no-export", "1:2:3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseCommunity(s); err == nil {
			if back, err := ParseCommunity(c.String()); err != nil || back != c {
				t.Errorf("%q -> %v -> %v, %v", s, c, back, err)
			}
		}
		if c, err := ParseLargeCommunity(s); err == nil {
			if back, err := ParseLargeCommunity(c.String()); err != nil || back != c {
				t.Errorf("%q -> %v -> %v, %v", s, c, back, err)
			}
		}
	})
}
