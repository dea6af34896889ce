package ipam

import (
	"errors"
	"testing"
)

func TestParseServiceRequest(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		lbIP    string
		want    Request
		wantErr string // field of the InvalidRequestError
	}{
		{name: "nothing", want: Request{}},
		{name: "spec.loadBalancerIP", lbIP: "192.0.2.1", want: Request{IPs: ips("192.0.2.1")}},
		{name: "spec.loadBalancerIP v6", lbIP: " 2001:db8::1 ", want: Request{IPs: ips("2001:db8::1")}},
		{name: "ironlb annotations", ann: map[string]string{
			"ironlb.io/loadBalancerIPs": "192.0.2.1, 2001:db8::1",
			"ironlb.io/address-pool":    "blue",
			"ironlb.io/allow-shared-ip": "dns",
		}, want: Request{IPs: ips("192.0.2.1", "2001:db8::1"), Pool: "blue", SharingKey: "dns"}},
		{name: "metallb.universe.tf spelling", ann: map[string]string{
			"metallb.universe.tf/loadBalancerIPs": "192.0.2.1",
			"metallb.universe.tf/address-pool":    "blue",
			"metallb.universe.tf/allow-shared-ip": "k",
		}, want: Request{IPs: ips("192.0.2.1"), Pool: "blue", SharingKey: "k"}},
		{name: "metallb.io spelling", ann: map[string]string{
			"metallb.io/loadBalancerIPs": "2001:db8::1",
			"metallb.io/address-pool":    "blue",
		}, want: Request{IPs: ips("2001:db8::1"), Pool: "blue"}},
		{name: "agreeing spellings", ann: map[string]string{
			"ironlb.io/loadBalancerIPs":           "192.0.2.1,2001:db8::1",
			"metallb.universe.tf/loadBalancerIPs": "2001:db8::1, 192.0.2.1",
			"ironlb.io/address-pool":              "blue",
			"metallb.io/address-pool":             "blue",
		}, want: Request{IPs: ips("192.0.2.1", "2001:db8::1"), Pool: "blue"}},
		{name: "empty value is absent", ann: map[string]string{
			"ironlb.io/address-pool": "  ", "metallb.io/address-pool": "red",
		}, want: Request{Pool: "red"}},
		{name: "unrelated annotations ignored", ann: map[string]string{"example.com/address-pool": "x"}, want: Request{}},

		{name: "conflicting pools", ann: map[string]string{
			"ironlb.io/address-pool": "blue", "metallb.universe.tf/address-pool": "red",
		}, wantErr: "metallb.universe.tf/address-pool"},
		{name: "conflicting sharing keys", ann: map[string]string{
			"metallb.universe.tf/allow-shared-ip": "a", "metallb.io/allow-shared-ip": "b",
		}, wantErr: "metallb.io/allow-shared-ip"},
		{name: "conflicting IPs", ann: map[string]string{
			"ironlb.io/loadBalancerIPs": "192.0.2.1", "metallb.io/loadBalancerIPs": "192.0.2.2",
		}, wantErr: "metallb.io/loadBalancerIPs"},
		{name: "loadBalancerIP with annotation", lbIP: "192.0.2.1",
			ann: map[string]string{"metallb.universe.tf/loadBalancerIPs": "192.0.2.1"}, wantErr: "spec.loadBalancerIP"},
		{name: "two IPv4", ann: map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.1,192.0.2.2"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "same IP twice", ann: map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.1,192.0.2.1"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "three IPs", ann: map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.1,2001:db8::1,192.0.2.3"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "malformed IP", ann: map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.300"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "leading zeros", ann: map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.01"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "empty list element", ann: map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.1,"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "CIDR is not an IP", ann: map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.0/24"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "zone", ann: map[string]string{"ironlb.io/loadBalancerIPs": "fe80::1%eth0"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "IPv4-mapped", ann: map[string]string{"ironlb.io/loadBalancerIPs": "::ffff:192.0.2.1"}, wantErr: "ironlb.io/loadBalancerIPs"},
		{name: "malformed loadBalancerIP", lbIP: "nope", wantErr: "spec.loadBalancerIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseServiceRequest(tt.ann, tt.lbIP)
			if tt.wantErr != "" {
				var ire *InvalidRequestError
				if !errors.As(err, &ire) {
					t.Fatalf("err = %v, want *InvalidRequestError", err)
				}
				if ire.Field != tt.wantErr {
					t.Errorf("error field = %q, want %q (%v)", ire.Field, tt.wantErr, err)
				}
				if ire.Reason() != ReasonInvalidRequest {
					t.Errorf("reason = %q", ire.Reason())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if addrsString(got.IPs) != addrsString(tt.want.IPs) || got.Pool != tt.want.Pool || got.SharingKey != tt.want.SharingKey {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
