package config

import (
	"cmp"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// allCandidates holds the objects of every kind from both sources.
type allCandidates struct {
	pools []candidate[v1beta1.IPAddressPool]
	l2    []candidate[v1beta1.L2Advertisement]
	bgp   []candidate[v1beta1.BGPAdvertisement]
	peers []candidate[v1beta1.BGPPeer]
	bfd   []candidate[v1beta1.BFDProfile]
	comm  []candidate[v1beta1.Community]
}

func crCandidates[S any](b *builder, kind string, objs []S, meta func(*S) *metav1.ObjectMeta) []candidate[S] {
	out := make([]candidate[S], 0, len(objs))
	for i := range objs {
		m := meta(&objs[i])
		out = append(out, candidate[S]{name: m.Name, obj: &objs[i], origin: originOf(m, b.sourceOf(kind, m.Name)), legacyIndex: -1})
	}
	return out
}

func legacyCandidates[S any](objs []S, infos []legacyInfo, name func(*S) string) []candidate[S] {
	out := make([]candidate[S], 0, len(objs))
	for i := range objs {
		in := infos[i]
		out = append(out, candidate[S]{
			name: name(&objs[i]), obj: &objs[i], legacyIndex: in.index, fieldPath: in.fieldPath, pre: in.pre,
			origin: Origin{Source: in.source, Legacy: true},
		})
	}
	return out
}

// candidates gathers the CRs and, when there is a legacy ConfigMap, the
// objects converted from it.
func (b *builder) candidates() allCandidates {
	in := &b.in
	c := allCandidates{
		pools: crCandidates(b, KindIPAddressPool, in.IPAddressPools, func(o *v1beta1.IPAddressPool) *metav1.ObjectMeta { return &o.ObjectMeta }),
		l2:    crCandidates(b, KindL2Advertisement, in.L2Advertisements, func(o *v1beta1.L2Advertisement) *metav1.ObjectMeta { return &o.ObjectMeta }),
		bgp:   crCandidates(b, KindBGPAdvertisement, in.BGPAdvertisements, func(o *v1beta1.BGPAdvertisement) *metav1.ObjectMeta { return &o.ObjectMeta }),
		peers: crCandidates(b, KindBGPPeer, in.BGPPeers, func(o *v1beta1.BGPPeer) *metav1.ObjectMeta { return &o.ObjectMeta }),
		bfd:   crCandidates(b, KindBFDProfile, in.BFDProfiles, func(o *v1beta1.BFDProfile) *metav1.ObjectMeta { return &o.ObjectMeta }),
		comm:  crCandidates(b, KindCommunity, in.Communities, func(o *v1beta1.Community) *metav1.ObjectMeta { return &o.ObjectMeta }),
	}
	if in.Legacy == nil {
		return c
	}
	ref := cmp.Or(in.Legacy.Namespace, b.ns) + "/" + cmp.Or(in.Legacy.Name, DefaultLegacyName)
	src := "ConfigMap " + ref
	cfg, err := ParseLegacy([]byte(in.Legacy.Config))
	if err != nil {
		list := legacyParseProblems(ref, err)
		b.record(KindConfigMap, ref, Origin{Legacy: true}, list, false, false)
		b.keepLegacy(&c, list)
		return c
	}
	b.record(KindConfigMap, ref, Origin{Legacy: true}, nil, true, false)
	lo := convertLegacy(cfg, b.ns, src, false)
	c.pools = append(c.pools, legacyCandidates(lo.IPAddressPools, lo.pools, func(o *v1beta1.IPAddressPool) string { return o.Name })...)
	c.l2 = append(c.l2, legacyCandidates(lo.L2Advertisements, lo.l2, func(o *v1beta1.L2Advertisement) string { return o.Name })...)
	c.bgp = append(c.bgp, legacyCandidates(lo.BGPAdvertisements, lo.bgp, func(o *v1beta1.BGPAdvertisement) string { return o.Name })...)
	c.peers = append(c.peers, legacyCandidates(lo.BGPPeers, lo.peers, func(o *v1beta1.BGPPeer) string { return o.Name })...)
	c.bfd = append(c.bfd, legacyCandidates(lo.BFDProfiles, lo.bfd, func(o *v1beta1.BFDProfile) string { return o.Name })...)
	c.comm = append(c.comm, legacyCandidates(lo.Communities, lo.comm, func(o *v1beta1.Community) string { return o.Name })...)
	return c
}

func legacyParseProblems(ref string, err error) []FieldError {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	list := make([]FieldError, 0, len(errs))
	for _, e := range errs {
		fe := FieldError{Kind: KindConfigMap, Name: ref, Field: "data.config", Message: e.Error(), Reason: v1beta1.ReasonInvalidSpec}
		var pe *LegacyParseError
		if errors.As(e, &pe) {
			fe.Message = pe.Message
			if pe.Field != "" {
				fe.Field = pe.Field
			}
		}
		list = append(list, fe)
	}
	return list
}

// keepLegacy handles a legacy ConfigMap that does not parse: every object
// the previous Snapshot had from it stays in use (stale), since nothing can
// be told about them now. It adds, per such object, a candidate with no
// object and the parse problem, which the stale-or-exclude decision turns
// into the previous version.
func (b *builder) keepLegacy(c *allCandidates, list []FieldError) {
	why := fmt.Sprintf("the legacy ConfigMap does not parse (%s)", list[0].Error())
	p := b.prev
	c.pools = append(c.pools, phantoms[v1beta1.IPAddressPool](p.Pools, KindIPAddressPool, why, func(v *Pool) (string, Origin) { return v.Name, v.Origin })...)
	c.l2 = append(c.l2, phantoms[v1beta1.L2Advertisement](p.L2Advertisements, KindL2Advertisement, why, func(v *L2Advertisement) (string, Origin) { return v.Name, v.Origin })...)
	c.bgp = append(c.bgp, phantoms[v1beta1.BGPAdvertisement](p.BGPAdvertisements, KindBGPAdvertisement, why, func(v *BGPAdvertisement) (string, Origin) { return v.Name, v.Origin })...)
	c.peers = append(c.peers, phantoms[v1beta1.BGPPeer](p.Peers, KindBGPPeer, why, func(v *Peer) (string, Origin) { return v.Name, v.Origin })...)
	c.bfd = append(c.bfd, phantoms[v1beta1.BFDProfile](p.BFDProfiles, KindBFDProfile, why, func(v *BFDProfile) (string, Origin) { return v.Name, v.Origin })...)
	c.comm = append(c.comm, phantoms[v1beta1.Community](p.Communities, KindCommunity, why, func(v *Community) (string, Origin) { return v.Name, v.Origin })...)
}

// phantoms returns a candidate without object for each legacy value.
func phantoms[S, V any](vals []V, kind, why string, id func(*V) (string, Origin)) []candidate[S] {
	var out []candidate[S]
	for i := range vals {
		name, o := id(&vals[i])
		if !o.Legacy {
			continue
		}
		o.Stale, o.Problems = false, nil
		out = append(out, candidate[S]{
			name: name, origin: o, legacyIndex: i,
			pre: []FieldError{{Kind: kind, Name: name, Source: o.Source, Message: why, Reason: v1beta1.ReasonInvalidSpec}},
		})
	}
	return out
}
