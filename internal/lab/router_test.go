package lab

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderBGPD(t *testing.T) {
	p, err := NewPlan("ironlb-", 3, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	got, err := renderFRR(newRouterConfig("/lab", p), "bgpd")
	if err != nil {
		t.Fatal(err)
	}
	want := `hostname router
log file /lab/router/bgpd.log
log timestamp precision 3
!
router bgp 64512
 bgp router-id 10.200.0.1
 bgp log-neighbor-changes
 bgp graceful-restart
 bgp graceful-restart preserve-fw-state
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 bgp bestpath as-path multipath-relax
 bgp listen limit 200
 no bgp network import-check
 neighbor nodes peer-group
 neighbor nodes remote-as 64513
 neighbor nodes bfd
 neighbor nodes bfd profile nodes
 bgp listen range 10.200.0.0/24 peer-group nodes
 bgp listen range fd00:200::/64 peer-group nodes
 !
 address-family ipv4 unicast
  network 10.205.0.0/24
  neighbor nodes activate
  maximum-paths 64
 exit-address-family
 !
 address-family ipv6 unicast
  network fd00:205::/64
  neighbor nodes activate
  maximum-paths 64
 exit-address-family
!
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("bgpd.conf (-want +got):\n%s", d)
	}
}

func TestRenderZebraAndBFDD(t *testing.T) {
	p, err := NewPlan("ironlb-", 1, IPv4Only)
	if err != nil {
		t.Fatal(err)
	}
	c := newRouterConfig("/lab", p)
	for daemon, want := range map[string]string{
		"zebra": "hostname router\nlog file /lab/router/zebra.log\n!\n",
		"bfdd":  "hostname router\nlog file /lab/router/bfdd.log\n!\nbfd\n profile nodes\n  receive-interval 50\n  transmit-interval 50\n  echo-mode\n  echo transmit-interval 50\n  echo receive-interval 50\n !\n!\n",
	} {
		got, err := renderFRR(c, daemon)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s.conf = %q, want %q", daemon, got, want)
		}
	}
	if _, err := renderFRR(c, "ospfd"); err == nil || !strings.Contains(err.Error(), "ospfd.conf") {
		t.Errorf("unknown daemon: err = %v", err)
	}
}
