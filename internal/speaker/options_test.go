package speaker

import (
	"net/netip"
	"strings"
	"testing"
)

func TestOptionsDefaults(t *testing.T) {
	o := Options{NodeName: "n1", Namespace: "lb"}.withDefaults()
	if o.ConfigMap != "lb/config" || o.MemberlistSecret != "lb/ironlb-memberlist" ||
		o.MemberlistBindAddress != ":7946" || o.MetricsBindAddress != ":7473" || o.HealthProbeBindAddress != ":8081" {
		t.Errorf("defaults %+v", o)
	}
	if err := o.validate(); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no node name", Options{}, "NODE_NAME"},
		{"bad node name", Options{NodeName: "Node_1"}, `node name "Node_1"`},
		{"bad namespace", Options{NodeName: "n", Namespace: "a/b"}, `namespace "a/b"`},
		{"bad config map", Options{NodeName: "n", ConfigMap: "nope"}, `config map "nope"`},
		{"bad secret", Options{NodeName: "n", MemberlistSecret: "x/"}, `memberlist secret "x/"`},
		{"bad bind", Options{NodeName: "n", MemberlistBindAddress: "7946"}, `memberlist bind address "7946"`},
		{"bad port", Options{NodeName: "n", MemberlistBindAddress: ":0"}, "1-65535"},
		{"bad host", Options{NodeName: "n", MemberlistBindAddress: "node1:7946"}, "IP address"},
		{"bad class", Options{NodeName: "n", LoadBalancerClass: "a b"}, `load-balancer class "a b"`},
		{"negative qps", Options{NodeName: "n", KubeAPIQPS: -1}, "kube-api-qps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.withDefaults().validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMemberlistBind(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		port int
	}{
		":7946":           {"", 7946},
		"0.0.0.0:1000":    {"", 1000},
		"[::]:1000":       {"", 1000},
		"10.0.0.1:7946":   {"10.0.0.1", 7946},
		"[fd00::1]:17946": {"fd00::1", 17946},
	} {
		host, port, err := Options{MemberlistBindAddress: in}.memberlistBind()
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		wantHost := netip.Addr{}
		if want.host != "" {
			wantHost = netip.MustParseAddr(want.host)
		}
		if host != wantHost || port != want.port {
			t.Errorf("%s: %s %d, want %s %d", in, host, port, wantHost, want.port)
		}
	}
}
