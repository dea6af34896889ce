package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// LegacyCommunityName is the name of the Community object that holds the
// legacy bgp-communities aliases after conversion.
const LegacyCommunityName = "bgp-communities"

// ConvertLegacy converts a legacy configuration into the equivalent CRs in
// namespace ns (DefaultNamespace when empty):
//
//   - an IPAddressPool per address pool, named like the pool;
//   - an L2Advertisement per layer2 pool, named like the pool;
//   - per bgp pool, a BGPAdvertisement per bgp-advertisements entry, named
//     like the pool when there is one entry (or none: then one with
//     defaults) and <pool>-<index> when there are more;
//   - a BGPPeer per peer, named peer-<address> (dots and colons become
//     dashes), with -<index> appended when two peers share an address;
//   - a BFDProfile per BFD profile;
//   - one Community named bgp-communities holding every alias.
//
// Build of the result equals Build of the legacy configuration, except for
// Origin. The problems are those the conversion itself finds (a hold time
// that is no duration, a pool name that cannot be an object name, a
// community listed twice in one advertisement, ...) and, when there are
// none, every error the API server would return for a converted object
// (CheckCR), reported against the legacy entry: an object printed without
// problems is one kubectl apply can create. Run Build to check the rest.
func ConvertLegacy(cfg LegacyConfig, ns string) (Objects, []FieldError) {
	if ns == "" {
		ns = DefaultNamespace
	}
	lo := convertLegacy(cfg, ns, "legacy configuration", true)
	var errs []FieldError
	for _, infos := range [][]legacyInfo{lo.pools, lo.l2, lo.bgp, lo.peers, lo.bfd, lo.comm} {
		for _, in := range infos {
			errs = append(errs, in.pre...)
		}
	}
	if len(errs) > 0 {
		return lo.Objects, errs
	}
	// The objects are printed for kubectl apply: each must pass the API
	// server, whatever the legacy format let through.
	errs = append(errs, checkConverted(lo.IPAddressPools, lo.pools)...)
	errs = append(errs, checkConverted(lo.L2Advertisements, lo.l2)...)
	errs = append(errs, checkConverted(lo.BGPAdvertisements, lo.bgp)...)
	errs = append(errs, checkConverted(lo.BGPPeers, lo.peers)...)
	errs = append(errs, checkConverted(lo.BFDProfiles, lo.bfd)...)
	errs = append(errs, checkConverted(lo.Communities, lo.comm)...)
	return lo.Objects, errs
}

// Convert is what `ironlb config convert` does with a legacy
// configuration: it must be valid as the controller judges it (Build, with
// Secrets looked up in namespace ns), and then ConvertLegacy writes the
// CRs in namespace ns, each one the API server would accept. It returns
// the objects, or the problems and no objects.
func Convert(src LegacySource, ns string) (Objects, []FieldError) {
	res := Build(Input{Namespace: ns, Legacy: &src})
	if problems := res.Problems(); len(problems) > 0 {
		return Objects{}, problems
	}
	cfg, err := ParseLegacy([]byte(src.Config))
	if err != nil { // Build reported it already; kept for safety
		return Objects{}, legacyParseProblems(cmp.Or(src.Namespace, ns, DefaultNamespace)+"/"+cmp.Or(src.Name, DefaultLegacyName), err)
	}
	objs, problems := ConvertLegacy(cfg, ns)
	if len(problems) > 0 {
		return Objects{}, problems
	}
	return objs, nil
}

// checkConverted judges each converted object as the API server would
// (CheckCR), and reports its errors against the legacy entry, in the
// legacy spelling.
func checkConverted[T any](objs []T, infos []legacyInfo) []FieldError {
	var out []FieldError
	for i := range objs {
		in := infos[i]
		u, err := unstructuredOf(&objs[i])
		if err != nil {
			out = append(out, FieldError{Source: in.source, Message: err.Error(), Reason: v1beta1.ReasonInvalidSpec})
			continue
		}
		for _, p := range checkCR(u, "") {
			p.Source = in.source
			if in.fieldPath != nil && p.Field != "" {
				p.Field = in.fieldPath(p.Field)
			}
			p.Message = "the API server would refuse the converted " + p.Kind + ": " + p.Message
			out = append(out, p)
		}
	}
	return out
}

// legacyInfo is what Build needs to know about one converted object besides
// the object itself.
type legacyInfo struct {
	source    string
	index     int
	fieldPath func(string) string
	pre       []FieldError
}

// legacyObjects are the converted objects with a legacyInfo for each, at the
// same index as the object in its slice.
type legacyObjects struct {
	Objects
	pools, l2, bgp, peers, bfd, comm []legacyInfo
}

// convertLegacy does the conversion. src names the ConfigMap in messages
// ("ConfigMap ironlb-system/config"). strictNames also reports pool and
// profile names that cannot be Kubernetes object names (Build tolerates
// them, since the legacy format never required that).
func convertLegacy(cfg LegacyConfig, ns, src string, strictNames bool) legacyObjects {
	var lo legacyObjects
	index := 0
	info := func(source string, path func(string) string) legacyInfo {
		index++
		return legacyInfo{source: source, index: index, fieldPath: path}
	}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }

	for i, p := range cfg.Pools {
		source := fmt.Sprintf("%s address-pools[%d]", src, i)
		in := info(source, legacyField)
		if strictNames {
			in.checkObjectName(KindIPAddressPool, p.Name)
		}
		pool := v1beta1.IPAddressPool{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: KindIPAddressPool},
			ObjectMeta: meta(p.Name),
			Spec: v1beta1.IPAddressPoolSpec{
				Addresses:                  canonicalAddresses(p.Addresses),
				AutoAssign:                 cloneBool(p.AutoAssign),
				AvoidBuggyIPs:              p.AvoidBuggyIPs,
				AllowCrossNamespaceSharing: p.AllowCrossNamespaceSharing,
			},
		}
		switch p.Protocol {
		case LegacyProtocolLayer2:
			if len(p.BGPAdvertisements) > 0 {
				in.problem(KindIPAddressPool, p.Name, v1beta1.ReasonInvalidSpec, "", "", "bgp-advertisements is only valid in a pool with protocol: bgp; remove it or change the protocol")
				break
			}
			lo.L2Advertisements = append(lo.L2Advertisements, v1beta1.L2Advertisement{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: KindL2Advertisement},
				ObjectMeta: meta(p.Name),
				Spec:       v1beta1.L2AdvertisementSpec{IPAddressPools: []string{p.Name}},
			})
			lo.l2 = append(lo.l2, info(source, legacyAdvField))
		case LegacyProtocolBGP:
			lo.convertBGPAds(p, source, meta, info)
		case "":
			in.problem(KindIPAddressPool, p.Name, v1beta1.ReasonInvalidSpec, "protocol", "", "missing; set layer2 or bgp")
		default:
			in.problem(KindIPAddressPool, p.Name, v1beta1.ReasonInvalidSpec, "protocol", p.Protocol, "unknown protocol; valid protocols are layer2 and bgp")
		}
		lo.IPAddressPools = append(lo.IPAddressPools, pool)
		lo.pools = append(lo.pools, in)
	}

	names := legacyPeerNames(cfg.Peers)
	for i, p := range cfg.Peers {
		source := fmt.Sprintf("%s peers[%d]", src, i)
		in := info(source, legacyField)
		peer := v1beta1.BGPPeer{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: KindBGPPeer},
			ObjectMeta: meta(names[i]),
			Spec: v1beta1.BGPPeerSpec{
				// Addresses are read with spaces around them (as pool
				// addresses are); the CRD's rules take none.
				MyASN: p.MyASN, PeerASN: p.PeerASN, PeerAddress: strings.TrimSpace(p.PeerAddress), PeerPort: p.PeerPort,
				SourceAddress: strings.TrimSpace(p.SourceAddress), RouterID: strings.TrimSpace(p.RouterID), Password: p.Password,
				BFDProfile: p.BFDProfile, EBGPMultiHop: p.EBGPMultiHop,
			},
		}
		peer.Spec.HoldTime = in.duration(names[i], "hold-time", p.HoldTime)
		peer.Spec.KeepaliveTime = in.duration(names[i], "keepalive-time", p.KeepaliveTime)
		for j, s := range p.NodeSelectors {
			sel, err := legacySelector(s)
			if err != nil {
				in.problem(KindBGPPeer, names[i], v1beta1.ReasonInvalidSpec, fmt.Sprintf("node-selectors[%d].%s", j, err.field), err.value, "%s", err.msg)
			}
			peer.Spec.NodeSelectors = append(peer.Spec.NodeSelectors, sel)
		}
		lo.BGPPeers = append(lo.BGPPeers, peer)
		lo.peers = append(lo.peers, in)
	}

	for i, p := range cfg.BFDProfiles {
		source := fmt.Sprintf("%s bfd-profiles[%d]", src, i)
		in := info(source, legacyField)
		if strictNames {
			in.checkObjectName(KindBFDProfile, p.Name)
		}
		lo.BFDProfiles = append(lo.BFDProfiles, v1beta1.BFDProfile{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: KindBFDProfile},
			ObjectMeta: meta(p.Name),
			Spec: v1beta1.BFDProfileSpec{
				ReceiveInterval: cloneU32(p.ReceiveInterval), TransmitInterval: cloneU32(p.TransmitInterval),
				DetectMultiplier: cloneU32(p.DetectMultiplier), EchoInterval: cloneU32(p.EchoInterval),
				EchoMode: cloneBool(p.EchoMode), PassiveMode: cloneBool(p.PassiveMode), MinimumTTL: cloneU32(p.MinimumTTL),
			},
		})
		lo.bfd = append(lo.bfd, in)
	}

	if len(cfg.BGPCommunities) > 0 {
		aliases := make([]string, 0, len(cfg.BGPCommunities))
		for a := range cfg.BGPCommunities {
			aliases = append(aliases, a)
		}
		slices.Sort(aliases)
		c := v1beta1.Community{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: KindCommunity},
			ObjectMeta: meta(LegacyCommunityName),
		}
		for _, a := range aliases {
			c.Spec.Communities = append(c.Spec.Communities, v1beta1.CommunityAlias{Name: a, Value: cfg.BGPCommunities[a]})
		}
		lo.Communities = append(lo.Communities, c)
		lo.comm = append(lo.comm, info(src+" bgp-communities", legacyCommunityField(aliases)))
	}
	return lo
}

func (lo *legacyObjects) convertBGPAds(p LegacyAddressPool, source string, meta func(string) metav1.ObjectMeta, info func(source string, path func(string) string) legacyInfo) {
	ads := p.BGPAdvertisements
	if len(ads) == 0 {
		ads = []LegacyBGPAdvertisement{{}}
	}
	for j, a := range ads {
		name, src := p.Name, source
		if len(ads) > 1 {
			name = fmt.Sprintf("%s-%d", p.Name, j)
		}
		if len(p.BGPAdvertisements) > 0 {
			src = fmt.Sprintf("%s.bgp-advertisements[%d]", source, j)
		}
		ad := v1beta1.BGPAdvertisement{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: KindBGPAdvertisement},
			ObjectMeta: meta(name),
			Spec: v1beta1.BGPAdvertisementSpec{
				AggregationLength:   cloneI32(a.AggregationLength),
				AggregationLengthV6: cloneI32(a.AggregationLengthV6),
				Communities:         slices.Clone(a.Communities),
				IPAddressPools:      []string{p.Name},
			},
		}
		if a.LocalPref != nil {
			ad.Spec.LocalPref = *a.LocalPref
		}
		in := info(src, legacyAdvField)
		// MetalLB refused a community listed twice in one advertisement,
		// and the CRD's communities are a set, which the API server
		// refuses with a repeated entry.
		for k, c := range a.Communities {
			if first := slices.Index(a.Communities, c); first < k {
				in.problem(KindBGPAdvertisement, name, v1beta1.ReasonInvalidSpec, fmt.Sprintf("communities[%d]", k), c,
					"listed twice in this advertisement (also communities[%d]); list each community once", first)
			}
		}
		lo.BGPAdvertisements = append(lo.BGPAdvertisements, ad)
		lo.bgp = append(lo.bgp, in)
	}
}

// problem records a problem found while converting the entry.
func (in *legacyInfo) problem(kind, name, reason, field, value, format string, args ...any) {
	p := problems{kind: kind, name: name, source: in.source}
	p.add(reason, field, value, format, args...)
	in.pre = append(in.pre, p.list...)
}

func (in *legacyInfo) checkObjectName(kind, name string) {
	if name == "" {
		return
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		in.problem(kind, name, v1beta1.ReasonInvalidSpec, "name", name,
			"cannot be the name of a Kubernetes object (%s); rename it here and wherever it is referred to (Services' address-pool annotations, bfd-profile of peers)", strings.Join(errs, "; "))
	}
}

// legacyPeerNames derives a BGPPeer name from each peer's address, adding
// the peer's index when two peers share a name.
func legacyPeerNames(peers []LegacyPeer) []string {
	base := make([]string, len(peers))
	count := map[string]int{}
	for i, p := range peers {
		s := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			if r >= 'A' && r <= 'Z' {
				return r - 'A' + 'a'
			}
			return '-'
		}, strings.TrimSpace(p.PeerAddress))
		s = strings.Trim(s, "-")
		if s == "" {
			s = strconv.Itoa(i)
		}
		base[i] = "peer-" + s
		count[base[i]]++
	}
	for i := range base {
		if count[base[i]] > 1 {
			base[i] += "-" + strconv.Itoa(i)
		}
	}
	return base
}

// canonicalAddresses clears host bits of CIDR entries ("10.0.0.5/24"
// becomes "10.0.0.0/24"), which the legacy format allowed and CRs do not.
// Anything else is kept as written; Build reports entries that do not parse.
func canonicalAddresses(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if strings.Contains(s, "/") && !strings.Contains(s, "-") {
			if r, err := ParseAddressRange(s); err == nil {
				s = r.Prefixes()[0].String()
			}
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

func (in *legacyInfo) duration(name, field, s string) *metav1.Duration {
	if s == "" {
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		in.problem(KindBGPPeer, name, v1beta1.ReasonInvalidSpec, field, s, "not a duration; write it with a unit, such as 90s or 3m")
		return nil
	}
	return &metav1.Duration{Duration: d}
}

type selectorError struct{ field, value, msg string }

// legacySelector converts a legacy node selector. Operators are matched
// without regard to case, as MetalLB did.
func legacySelector(s LegacyNodeSelector) (metav1.LabelSelector, *selectorError) {
	out := metav1.LabelSelector{}
	if len(s.MatchLabels) > 0 {
		out.MatchLabels = make(map[string]string, len(s.MatchLabels))
		for k, v := range s.MatchLabels {
			out.MatchLabels[k] = v
		}
	}
	var bad *selectorError
	for i, e := range s.MatchExpressions {
		var op metav1.LabelSelectorOperator
		switch strings.ToLower(e.Operator) {
		case "in":
			op = metav1.LabelSelectorOpIn
		case "notin":
			op = metav1.LabelSelectorOpNotIn
		case "exists":
			op = metav1.LabelSelectorOpExists
		case "doesnotexist":
			op = metav1.LabelSelectorOpDoesNotExist
		default:
			op = metav1.LabelSelectorOperator(e.Operator)
			if bad == nil {
				bad = &selectorError{field: fmt.Sprintf("match-expressions[%d].operator", i), value: e.Operator, msg: "unknown operator; valid operators are In, NotIn, Exists and DoesNotExist"}
			}
		}
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: e.Key, Operator: op, Values: slices.Clone(e.Values)})
	}
	return out, bad
}

// legacyField turns a CR field path into the legacy spelling:
// spec.nodeSelectors[0].matchLabels becomes node-selectors[0].match-labels.
func legacyField(path string) string {
	if path == "metadata.name" {
		return "name"
	}
	path = strings.TrimPrefix(path, "spec.")
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, idx, _ := strings.Cut(part, "[")
		if idx != "" {
			idx = "[" + idx
		}
		parts[i] = kebab(name) + idx
	}
	return strings.Join(parts, ".")
}

// legacyAdvField is legacyField for advertisements converted from a pool:
// their pool reference is the pool entry itself.
func legacyAdvField(path string) string {
	if strings.HasPrefix(path, "spec.ipAddressPools") {
		return "name"
	}
	return legacyField(path)
}

func legacyCommunityField(aliases []string) func(string) string {
	return func(path string) string {
		var i int
		if _, err := fmt.Sscanf(path, "spec.communities[%d]", &i); err == nil && i >= 0 && i < len(aliases) {
			return aliases[i]
		}
		return legacyField(path)
	}
}

func kebab(s string) string {
	switch s {
	case "localPref":
		return "localpref"
	case "ebgpMultiHop":
		return "ebgp-multihop"
	}
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 && (s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] >= '0' && s[i-1] <= '9') {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func cloneBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneU32(p *uint32) *uint32 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneI32(p *int32) *int32 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
