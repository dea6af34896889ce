package config

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// TestCrossObjectRules has, per rule, a failing and a passing case.
func TestCrossObjectRules(t *testing.T) {
	rack := func(v string) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchLabels: map[string]string{"rack": v}}}
	}
	tests := []struct {
		name  string
		in    Input
		want  []string // substrings of expected problems; none means valid
		pools []string // pools expected in the Snapshot, when set
	}{
		{
			name:  "overlapping pools: the newer is excluded",
			in:    Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("new", 2, "10.0.0.128/25"), pool("old", 1, "10.0.0.0/24")}}},
			want:  []string{`IPAddressPool "new" (CR): spec.addresses[0] "10.0.0.128/25": overlaps 10.0.0.0/24 of IPAddressPool "old"`},
			pools: []string{"old"},
		},
		{
			name:  "disjoint pools",
			in:    Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 2, "10.0.1.0/24"), pool("b", 1, "10.0.0.0/24", "fd00::/120")}}},
			pools: []string{"a", "b"},
		},
		{
			name:  "overlap between a CR pool and a legacy pool: legacy counts as older",
			in:    Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("cr", 0, "10.0.0.10-10.0.0.20")}}, Legacy: legacy("address-pools:\n- name: old\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n")},
			want:  []string{`IPAddressPool "cr" (CR): spec.addresses[0] "10.0.0.10-10.0.0.20": overlaps 10.0.0.0/24 of IPAddressPool "old"`},
			pools: []string{"old"},
		},
		{
			name:  "overlapping IPv6 ranges",
			in:    Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "fd00::1-fd00::ff"), pool("b", 1, "fd00::/120")}}},
			want:  []string{`IPAddressPool "b" (CR): spec.addresses[0] "fd00::/120": overlaps fd00::1-fd00::ff`},
			pools: []string{"a"},
		},
		{
			name:  "overlap within one pool",
			in:    Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24", "10.0.0.7/32")}}},
			want:  []string{`spec.addresses[1] "10.0.0.7/32": overlaps spec.addresses[0] (10.0.0.0/24) of the same pool`},
			pools: []string{},
		},
		{
			name:  "range order",
			in:    Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.9-10.0.0.1")}}},
			want:  []string{`IPAddressPool "a" (CR): spec.addresses[0] "10.0.0.9-10.0.0.1": first address 10.0.0.9 is above last address 10.0.0.1; write the lower address first (10.0.0.1-10.0.0.9)`},
			pools: []string{},
		},
		{
			name:  "range in order",
			in:    Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.1-10.0.0.9")}}},
			pools: []string{"a"},
		},
		{
			name: "CIDR with host bits in a CR",
			in:   Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.5/24")}}},
			want: []string{`spec.addresses[0] "10.0.0.5/24": has bits set after its prefix length; write 10.0.0.0/24`},
		},
		{
			name:  "CIDR with host bits in the legacy ConfigMap is accepted, as MetalLB did",
			in:    Input{Legacy: legacy("address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.5/24]\n")},
			pools: []string{"a"},
		},
		{
			name: "duplicate names within a kind",
			in: Input{
				Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 1, "10.0.1.0/24"), pool("a", 0, "10.0.0.0/24")}},
				Sources: nil,
			},
			want: []string{`IPAddressPool "a" (CR): metadata.name "a": another IPAddressPool named "a" is defined by CR`},
		},
		{
			name: "a legacy pool and a CR pool of the same name",
			in: Input{
				Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("default", 0, "10.0.0.0/24")}},
				Legacy:  legacy("address-pools:\n- name: default\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n"),
			},
			want:  []string{`another IPAddressPool named "default" is defined by ConfigMap ironlb-system/config address-pools[0]`},
			pools: []string{"default"},
		},
		{
			name: "L2Advertisement names a missing pool",
			in:   Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")}, L2Advertisements: []v1beta1.L2Advertisement{l2("l2", "a", "typo")}}},
			want: []string{`L2Advertisement "l2" (CR): spec.ipAddressPools[1] "typo": no IPAddressPool named "typo" exists`},
		},
		{
			name: "L2Advertisement names an existing pool",
			in:   Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")}, L2Advertisements: []v1beta1.L2Advertisement{l2("l2", "a")}}},
		},
		{
			name: "BGPAdvertisement names a missing pool",
			in:   Input{Objects: Objects{BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"nope"}})}}},
			want: []string{`BGPAdvertisement "ad" (CR): spec.ipAddressPools[0] "nope": no IPAddressPool named "nope" exists`},
		},
		{
			name: "BGPAdvertisement names a missing peer",
			in:   Input{Objects: Objects{BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{Peers: []string{"nope"}})}}},
			want: []string{`spec.peers[0] "nope": no BGPPeer named "nope" exists`},
		},
		{
			name: "BGPAdvertisement names an existing peer",
			in: Input{Objects: Objects{
				BGPPeers:          []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1"})},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{Peers: []string{"r1"}})},
			}},
		},
		{
			name: "missing BFD profile",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", BFDProfile: "fast"})}}},
			want: []string{`BGPPeer "r1" (CR): spec.bfdProfile "fast": no BFDProfile named "fast" exists`},
		},
		{
			name: "existing BFD profile",
			in: Input{Objects: Objects{
				BGPPeers:    []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", BFDProfile: "fast"})},
				BFDProfiles: []v1beta1.BFDProfile{bfdProfile("fast", v1beta1.BFDProfileSpec{ReceiveInterval: ptr[uint32](100)})},
			}},
		},
		{
			name: "BFD interval out of range",
			in:   Input{Objects: Objects{BFDProfiles: []v1beta1.BFDProfile{bfdProfile("fast", v1beta1.BFDProfileSpec{DetectMultiplier: ptr[uint32](1)})}}},
			want: []string{`BFDProfile "fast" (CR): spec.detectMultiplier "1": must be 2 to 255`},
		},
		{
			name: "missing community alias",
			in:   Input{Objects: Objects{BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{Communities: []string{"no-export"}})}}},
			want: []string{`BGPAdvertisement "ad" (CR): spec.communities[0] "no-export": no Community defines the alias "no-export"`},
		},
		{
			name: "existing community alias and a literal",
			in: Input{Objects: Objects{
				Communities:       []v1beta1.Community{community("c", 0, "no-export", "65535:65281")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{Communities: []string{"no-export", "64500:1", "large:1:2:3"}})},
			}},
		},
		{
			name: "bad community literal",
			in:   Input{Objects: Objects{BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{Communities: []string{"64500:70000"}})}}},
			want: []string{`spec.communities[0] "64500:70000": part "70000" of the community is not a number from 0 to 65535`},
		},
		{
			name: "alias defined by two Community objects",
			in:   Input{Objects: Objects{Communities: []v1beta1.Community{community("new", 2, "x", "1:1"), community("old", 1, "x", "1:2")}}},
			want: []string{`Community "new" (CR): spec.communities "x": alias already defined by Community "old"`},
		},
		{
			name: "missing password Secret",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", PasswordSecret: &v1beta1.SecretReference{Name: "pw"}})}}},
			want: []string{`BGPPeer "r1" (CR): spec.passwordSecret "ironlb-system/pw": Secret ironlb-system/pw does not exist`},
		},
		{
			name: "password Secret without the key",
			in: Input{
				Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", PasswordSecret: &v1beta1.SecretReference{Name: "pw"}})}},
				Secrets: []corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: DefaultNamespace}, Type: corev1.SecretTypeBasicAuth, Data: map[string][]byte{"username": nil}}},
			},
			want: []string{`Secret ironlb-system/pw has no key "password"`},
		},
		{
			name: "password Secret of the wrong type",
			in: Input{
				Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", PasswordSecret: &v1beta1.SecretReference{Name: "pw"}})}},
				Secrets: []corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: DefaultNamespace}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("x")}}},
			},
			want: []string{`Secret ironlb-system/pw is of type "Opaque"; it must be of type kubernetes.io/basic-auth`},
		},
		{
			name: "password Secret present",
			in: Input{
				Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", PasswordSecret: &v1beta1.SecretReference{Name: "pw"}})}},
				Secrets: []corev1.Secret{basicAuth("pw", "s3cret")},
			},
		},
		{
			name: "both password and passwordSecret",
			in: Input{
				Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", Password: "x", PasswordSecret: &v1beta1.SecretReference{Name: "pw"}})}},
				Secrets: []corev1.Secret{basicAuth("pw", "s3cret")},
			},
			want: []string{`spec.passwordSecret "pw": set only one of spec.password and spec.passwordSecret`},
		},
		{
			name: "aggregation length shorter than the pool's CIDR",
			in: Input{Objects: Objects{
				IPAddressPools:    []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AggregationLength: ptr[int32](16)})},
			}},
			want: []string{`BGPAdvertisement "ad" (CR): spec.aggregationLength "16": is shorter than the /24 that 10.0.0.0/24 of IPAddressPool "a" spans`},
		},
		{
			name: "aggregation length equal to the pool's CIDR",
			in: Input{Objects: Objects{
				IPAddressPools:    []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AggregationLength: ptr[int32](24)})},
			}},
		},
		{
			name: "aggregation length against a range uses the largest CIDR it covers",
			in: Input{Objects: Objects{
				IPAddressPools:    []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.1-10.0.0.6")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AggregationLength: ptr[int32](30)})},
			}},
			want: []string{`spec.aggregationLength "30": is shorter than the /31 that 10.0.0.1-10.0.0.6`},
		},
		{
			name: "aggregation length against a range that fits",
			in: Input{Objects: Objects{
				IPAddressPools:    []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.1-10.0.0.6")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AggregationLength: ptr[int32](31)})},
			}},
		},
		{
			name: "aggregationLengthV6 applies to IPv6 ranges",
			in: Input{Objects: Objects{
				IPAddressPools:    []v1beta1.IPAddressPool{pool("a", 0, "fd00::/120")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AggregationLengthV6: ptr[int32](64)})},
			}},
			want: []string{`spec.aggregationLengthV6 "64": is shorter than the /120 that fd00::/120`},
		},
		{
			name: "aggregationLength does not apply to IPv6 ranges",
			in: Input{Objects: Objects{
				IPAddressPools:    []v1beta1.IPAddressPool{pool("a", 0, "fd00::/120")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AggregationLength: ptr[int32](8)})},
			}},
		},
		{
			name: "aggregation length out of range",
			in:   Input{Objects: Objects{BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{AggregationLength: ptr[int32](33)})}}},
			want: []string{`spec.aggregationLength "33": must be 0 to 32`},
		},
		{
			name: "keepalive longer than hold time",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", HoldTime: dur("30s"), KeepaliveTime: dur("40s")})}}},
			want: []string{`BGPPeer "r1" (CR): spec.keepaliveTime "40s": is longer than the hold time 30s`},
		},
		{
			name: "keepalive within hold time",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", HoldTime: dur("30s"), KeepaliveTime: dur("10s")})}}},
		},
		{
			name: "hold time too short",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", HoldTime: dur("2s")})}}},
			want: []string{`spec.holdTime "2s": must be 0s (no hold timer) or whole seconds from 3s to 65535s`},
		},
		{
			name: "duplicate peers on the same nodes",
			in: Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{
				peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1"}),
				peer("r2", 1, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", NodeSelectors: rack("a")}),
			}}},
			want: []string{`BGPPeer "r2" (CR): spec.peerAddress "10.0.0.1": BGPPeer "r1" already opens a session to 10.0.0.1 port 179 in the default VRF`},
		},
		{
			name: "same peer address from disjoint nodes",
			in: Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{
				peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", NodeSelectors: rack("a")}),
				peer("r2", 1, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", NodeSelectors: rack("b")}),
			}}},
		},
		{
			name: "same peer address in another VRF or port",
			in: Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{
				peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1"}),
				peer("r2", 1, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", VRF: "red"}),
				peer("r3", 2, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", PeerPort: 1179}),
			}}},
		},
		{
			name: "myASN and peerASN missing",
			in: Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{{
				ObjectMeta: meta("r1", 0), Spec: v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1"},
			}}}},
			want: []string{`BGPPeer "r1" (CR): spec.myASN: missing`, `spec.peerASN: missing; set the peer's AS number`},
		},
		{
			name: "dynamic ASN internal instead of peerASN",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", DynamicASN: v1beta1.DynamicASNInternal})}}},
		},
		{
			name: "what the speaker cannot run is refused with NotSupported: dynamicASN external, unnumbered",
			in: Input{Objects: Objects{
				BGPPeers: []v1beta1.BGPPeer{
					peer("ext", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", DynamicASN: v1beta1.DynamicASNExternal}),
					peer("unnumbered", 0, v1beta1.BGPPeerSpec{PeerASN: 64501, Interface: "eth1"}),
				},
			}},
			want: []string{
				`BGPPeer "ext" (CR): spec.dynamicASN "external": this version of ironlb does not run sessions with dynamicASN external`,
				`BGPPeer "unnumbered" (CR): spec.interface "eth1": this version of ironlb does not run BGP unnumbered sessions`,
			},
		},
		{
			name: "BFD echo: accepted on a single-hop peer, refused on a multi-hop one",
			in: Input{Objects: Objects{
				BGPPeers: []v1beta1.BGPPeer{
					peer("single", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", BFDProfile: "echo"}),
					peer("multi", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.2", BFDProfile: "echo", EBGPMultiHop: true}),
				},
				BFDProfiles: []v1beta1.BFDProfile{bfdProfile("echo", v1beta1.BFDProfileSpec{EchoMode: ptr(true)})},
			}},
			want: []string{
				`BGPPeer "multi" (CR): spec.bfdProfile "echo": BFDProfile "echo" has echoMode, and the echo function is for single-hop sessions alone (RFC 5883)`,
			},
		},
		{
			name: "eBGP multi-hop on an iBGP session",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", MyASN: 64500, PeerASN: 64500, EBGPMultiHop: true})}}},
			want: []string{`spec.ebgpMultiHop "true": applies to eBGP only`},
		},
		{
			name: "source address of another family",
			in:   Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", SourceAddress: "fd00::1"})}}},
			want: []string{`spec.sourceAddress "fd00::1": is not of the same address family as spec.peerAddress 10.0.0.1`},
		},
		{
			name: "clashing localPref for the same routes",
			in: Input{Objects: Objects{
				IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{
					bgpAd("first", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, LocalPref: 100}),
					bgpAd("second", 1, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, LocalPref: 200}),
				},
			}},
			want: []string{`BGPAdvertisement "second" (CR): spec.localPref "200": BGPAdvertisement "first" already announces the routes of IPAddressPool "a" to the same peers with localPref 100`},
		},
		{
			name: "clashing asPathPrepend for the same routes; unset clashes with nothing",
			in: Input{Objects: Objects{
				IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{
					bgpAd("first", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AsPathPrepend: 2}),
					bgpAd("plain", 1, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}}),
					bgpAd("second", 2, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AsPathPrepend: 3}),
					bgpAd("big", 3, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, AsPathPrepend: 11, Peers: []string{"other"}}),
				},
			}},
			want: []string{
				`BGPAdvertisement "second" (CR): spec.asPathPrepend "3": BGPAdvertisement "first" already announces the routes of IPAddressPool "a" to the same peers with asPathPrepend 2`,
				`BGPAdvertisement "big" (CR): spec.asPathPrepend "11": must be 1 to 10 (or unset)`,
			},
		},
		{
			name: "different localPref for different aggregation lengths",
			in: Input{Objects: Objects{
				IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{
					bgpAd("first", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, LocalPref: 100}),
					bgpAd("second", 1, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, LocalPref: 200, AggregationLength: ptr[int32](24)}),
				},
			}},
		},
		{
			name: "invalid label selector",
			in: Input{Objects: Objects{L2Advertisements: []v1beta1.L2Advertisement{{ObjectMeta: meta("l2", 0), Spec: v1beta1.L2AdvertisementSpec{
				NodeSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}}}},
			}}}}},
			want: []string{`L2Advertisement "l2" (CR): spec.nodeSelectors[0]: not a valid label selector`},
		},
		{
			name: "invalid service selectors on both advertisement kinds",
			in: Input{Objects: Objects{
				L2Advertisements: []v1beta1.L2Advertisement{{ObjectMeta: meta("l2", 0), Spec: v1beta1.L2AdvertisementSpec{
					ServiceSelectors: []metav1.LabelSelector{{}, {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}}}},
				}}},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("bgp", 0, v1beta1.BGPAdvertisementSpec{
					ServiceSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "In"}}}},
				})},
			}},
			want: []string{
				`L2Advertisement "l2" (CR): spec.serviceSelectors[1]: not a valid label selector`,
				`BGPAdvertisement "bgp" (CR): spec.serviceSelectors[0]: not a valid label selector`,
			},
		},
		{
			name: "preferredNodeSelectors: weight and selector checked",
			in: Input{Objects: Objects{L2Advertisements: []v1beta1.L2Advertisement{{ObjectMeta: meta("l2", 0), Spec: v1beta1.L2AdvertisementSpec{
				PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{
					{Weight: 50},
					{Weight: 0},
					{Weight: 10, Preference: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}}}},
				},
			}}}}},
			want: []string{
				`L2Advertisement "l2" (CR): spec.preferredNodeSelectors[1].weight "0": must be 1 to 100`,
				`L2Advertisement "l2" (CR): spec.preferredNodeSelectors[2].preference: not a valid label selector`,
			},
		},
		{
			name: "spread: Hash or Even",
			in: Input{Objects: Objects{L2Advertisements: []v1beta1.L2Advertisement{
				{ObjectMeta: meta("even", 0), Spec: v1beta1.L2AdvertisementSpec{Spread: v1beta1.L2SpreadEven}},
				{ObjectMeta: meta("hash", 1), Spec: v1beta1.L2AdvertisementSpec{Spread: v1beta1.L2SpreadHash}},
				{ObjectMeta: meta("l2", 2), Spec: v1beta1.L2AdvertisementSpec{Spread: "even"}},
			}}},
			want: []string{`L2Advertisement "l2" (CR): spec.spread "even": must be Hash or Even`},
		},
		{
			name: "leaseFencing: 2s to 60s",
			in: Input{Objects: Objects{L2Advertisements: []v1beta1.L2Advertisement{
				{ObjectMeta: meta("default", 0), Spec: v1beta1.L2AdvertisementSpec{LeaseFencing: &v1beta1.LeaseFencing{}}},
				{ObjectMeta: meta("short", 1), Spec: v1beta1.L2AdvertisementSpec{LeaseFencing: &v1beta1.LeaseFencing{LeaseDuration: &metav1.Duration{Duration: time.Second}}}},
				{ObjectMeta: meta("long", 2), Spec: v1beta1.L2AdvertisementSpec{LeaseFencing: &v1beta1.LeaseFencing{LeaseDuration: &metav1.Duration{Duration: time.Hour}}}},
			}}},
			want: []string{
				`L2Advertisement "long" (CR): spec.leaseFencing.leaseDuration "1h0m0s": must be from 2s to 1m0s`,
				`L2Advertisement "short" (CR): spec.leaseFencing.leaseDuration "1s": must be from 2s to 1m0s`,
			},
		},
		{
			name: "localPref clash only when the service selectors may select one Service",
			in: Input{Objects: Objects{
				IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{
					bgpAd("web", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, LocalPref: 100,
						ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "web"}}}}),
					bgpAd("db", 1, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"a"}, LocalPref: 200,
						ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "db"}}}}),
				},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Build(tt.in)
			wantProblems(t, r, tt.want)
			if tt.pools != nil {
				if got := poolNames(r.Snapshot); !slices.Equal(got, tt.pools) && (len(got) > 0 || len(tt.pools) > 0) {
					t.Errorf("pools in the Snapshot = %v, want %v", got, tt.pools)
				}
			}
		})
	}
}
