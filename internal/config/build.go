package config

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Objects holds ironlb configuration CRs, one slice per kind.
type Objects struct {
	IPAddressPools    []v1beta1.IPAddressPool
	L2Advertisements  []v1beta1.L2Advertisement
	BGPAdvertisements []v1beta1.BGPAdvertisement
	BGPPeers          []v1beta1.BGPPeer
	BFDProfiles       []v1beta1.BFDProfile
	Communities       []v1beta1.Community
}

// Object is what every configuration CR is: a Kubernetes object with
// metadata (sigs.k8s.io/controller-runtime's client.Object has this shape).
type Object interface {
	metav1.Object
	runtime.Object
}

// All returns pointers to every object of o, kind by kind in the order of
// the fields.
func (o *Objects) All() []Object {
	var all []Object
	for i := range o.IPAddressPools {
		all = append(all, &o.IPAddressPools[i])
	}
	for i := range o.L2Advertisements {
		all = append(all, &o.L2Advertisements[i])
	}
	for i := range o.BGPAdvertisements {
		all = append(all, &o.BGPAdvertisements[i])
	}
	for i := range o.BGPPeers {
		all = append(all, &o.BGPPeers[i])
	}
	for i := range o.BFDProfiles {
		all = append(all, &o.BFDProfiles[i])
	}
	for i := range o.Communities {
		all = append(all, &o.Communities[i])
	}
	return all
}

// ObjectKey names an object of some kind.
type ObjectKey struct {
	Kind string
	Name string
}

// LegacySource is the legacy ConfigMap: its text (the value of its
// "config" key) and, for messages, its namespace and name.
type LegacySource struct {
	Namespace string
	Name      string
	Config    string
}

// Input is everything Build needs. Build never modifies it.
type Input struct {
	// Namespace is where ironlb runs: Secrets named by a BGPPeer without a
	// namespace are looked up there. Empty means DefaultNamespace.
	Namespace string
	// Objects are the configuration CRs.
	Objects
	// Secrets should hold at least the Secrets BGPPeers name in
	// spec.passwordSecret; others are ignored.
	Secrets []corev1.Secret
	// Legacy is the legacy ConfigMap, nil when there is none.
	Legacy *LegacySource
	// Previous is the Snapshot in use so far, nil at start. When an object
	// is invalid now but valid in Previous, its Previous version stays in
	// use (marked Stale).
	Previous *Snapshot
	// Sources optionally describes where CRs come from (such as a file
	// name), for messages; CRs missing here get SourceCR.
	Sources map[ObjectKey]string
}

// Result is what Build returns: the Snapshot to run with and the verdict on
// every input object.
type Result struct {
	Snapshot *Snapshot
	// Statuses has one status per input object (and one for the legacy
	// ConfigMap when there is one), ordered by kind then name.
	Statuses []ObjectStatus
}

// Problems returns every problem of every object, in the order of Statuses.
func (r *Result) Problems() []FieldError {
	var out []FieldError
	for _, o := range r.Statuses {
		out = append(out, o.Problems...)
	}
	return out
}

// Valid reports whether the input had no problem at all.
func (r *Result) Valid() bool {
	for _, o := range r.Statuses {
		if len(o.Problems) > 0 {
			return false
		}
	}
	return true
}

// builder carries the state of one Build call.
type builder struct {
	in       Input
	ns       string
	prev     *Snapshot
	secrets  map[string]*corev1.Secret
	statuses []ObjectStatus
}

// Build validates the configuration and returns the Snapshot to run with.
// It is a pure function: no client, no I/O, no clock; the same Input gives
// the same Result.
//
// Build checks every rule, single-object and cross-object, and never gives
// up on the whole configuration because of one object: see the package
// documentation for what happens to invalid objects.
func Build(in Input) Result {
	b := &builder{in: in, ns: cmp.Or(in.Namespace, DefaultNamespace), prev: in.Previous, secrets: map[string]*corev1.Secret{}}
	if b.prev == nil {
		b.prev = &Snapshot{}
	}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		b.secrets[cmp.Or(s.Namespace, b.ns)+"/"+s.Name] = s
	}
	c := b.candidates()

	snap := &Snapshot{}
	bfd := b.buildBFDProfiles(c.bfd)
	snap.BFDProfiles = bfd.finish(func(v *BFDProfile) *Origin { return &v.Origin }, func(v *BFDProfile) string { return v.Name })
	comm := b.buildCommunities(c.comm)
	snap.Communities = comm.finish(func(v *Community) *Origin { return &v.Origin }, func(v *Community) string { return v.Name })
	pools := b.buildPools(c.pools)
	snap.Pools = pools.finish(func(v *Pool) *Origin { return &v.Origin }, poolName)
	peers := b.buildPeers(c.peers, bfd)
	snap.Peers = peers.finish(func(v *Peer) *Origin { return &v.Origin }, peerName)
	refs := &adRefs{pools: pools, poolList: snap.Pools, peers: peers, comm: comm}
	l2 := b.buildL2Advertisements(c.l2, refs)
	snap.L2Advertisements = l2.finish(func(v *L2Advertisement) *Origin { return &v.Origin }, func(v *L2Advertisement) string { return v.Name })
	bgp := b.buildBGPAdvertisements(c.bgp, refs)
	snap.BGPAdvertisements = bgp.finish(func(v *BGPAdvertisement) *Origin { return &v.Origin }, func(v *BGPAdvertisement) string { return v.Name })

	slices.SortStableFunc(b.statuses, func(x, y ObjectStatus) int {
		return cmp.Or(cmp.Compare(kindOrder(x.Kind), kindOrder(y.Kind)), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Source, y.Source))
	})
	return Result{Snapshot: snap, Statuses: b.statuses}
}

func kindOrder(kind string) int {
	return slices.Index([]string{KindConfigMap, KindIPAddressPool, KindL2Advertisement, KindBGPAdvertisement, KindBGPPeer, KindBFDProfile, KindCommunity}, kind)
}

// sourceOf returns the Source of a CR.
func (b *builder) sourceOf(kind, name string) string {
	return cmp.Or(b.in.Sources[ObjectKey{Kind: kind, Name: name}], SourceCR)
}
