// Package configread is the one reader of ironlb's configuration inputs:
// the controller, every speaker and the webhook list the same objects the
// same way before they call the pure config.Build, so they cannot differ
// in what they read (a ConfigMap without its key, a missing Secret, …).
// Among the inputs is the accepted configuration the controller records
// (accepted.go): every process builds on it as config.Input.Previous, so
// all of them arrive at the same Snapshot whenever they started.
package configread

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
)

// Objects returns one empty object of each configuration CR kind, in a
// fixed order, for watches and cache options.
func Objects() []client.Object {
	return []client.Object{
		&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.BGPPeer{}, &v1beta1.BFDProfile{}, &v1beta1.Community{},
	}
}

// Inputs are what Read found.
type Inputs struct {
	// Input is config.Build's input: the CRs and Secrets of the namespace,
	// the legacy configuration, if any, and as Previous the recorded
	// accepted Snapshot (nil when there is none or it cannot be read).
	Input config.Input
	// Accepted is the accepted configuration record; its zero value when
	// there is none or it cannot be read.
	Accepted Accepted
	// AcceptedErr says why the record exists but cannot be read. Every
	// process then builds without Previous, as at a first start, and the
	// controller records a new generation over it.
	AcceptedErr error
	// ConfigMap is the legacy ConfigMap, nil when it does not exist.
	ConfigMap *corev1.ConfigMap
	// LegacyKeyMissing says ConfigMap exists but has no
	// config.LegacyConfigMapKey: it is not read, and whoever reports
	// problems should say so on it.
	LegacyKeyMissing bool
}

// Read lists the configuration in namespace from r: the six CR kinds, the
// Secrets (BGP passwords), the accepted configuration record and the
// legacy ConfigMap legacy (a zero name reads none).
func Read(ctx context.Context, r client.Reader, namespace string, legacy types.NamespacedName) (Inputs, error) {
	var (
		out   = Inputs{Input: config.Input{Namespace: namespace}}
		ns    = client.InNamespace(namespace)
		pools v1beta1.IPAddressPoolList
		l2    v1beta1.L2AdvertisementList
		bgp   v1beta1.BGPAdvertisementList
		peers v1beta1.BGPPeerList
		bfd   v1beta1.BFDProfileList
		comm  v1beta1.CommunityList
		secs  corev1.SecretList
	)
	for _, l := range []struct {
		list client.ObjectList
		what string
	}{
		{&pools, config.KindIPAddressPool + "s"}, {&l2, config.KindL2Advertisement + "s"},
		{&bgp, config.KindBGPAdvertisement + "s"}, {&peers, config.KindBGPPeer + "s"},
		{&bfd, config.KindBFDProfile + "s"}, {&comm, config.KindCommunity + "s"}, {&secs, "Secrets"},
	} {
		if err := r.List(ctx, l.list, ns); err != nil {
			return out, fmt.Errorf("listing %s in %s: %w", l.what, namespace, err)
		}
	}
	in := &out.Input
	in.IPAddressPools, in.L2Advertisements, in.BGPAdvertisements = pools.Items, l2.Items, bgp.Items
	in.BGPPeers, in.BFDProfiles, in.Communities = peers.Items, bfd.Items, comm.Items
	for i := range secs.Items {
		sec := &secs.Items[i]
		if sec.Name != AcceptedSecretName {
			in.Secrets = append(in.Secrets, *sec)
			continue
		}
		out.Accepted, out.AcceptedErr = decodeAccepted(sec)
		in.Previous = out.Accepted.Snapshot
	}
	if legacy.Name == "" {
		return out, nil
	}
	cm := &corev1.ConfigMap{}
	switch err := r.Get(ctx, legacy, cm); {
	case apierrors.IsNotFound(err):
		return out, nil
	case err != nil:
		return out, fmt.Errorf("reading the legacy ConfigMap %s: %w", legacy, err)
	}
	out.ConfigMap = cm
	text, ok := cm.Data[config.LegacyConfigMapKey]
	if !ok {
		out.LegacyKeyMissing = true
		return out, nil
	}
	in.Legacy = &config.LegacySource{Namespace: cm.Namespace, Name: cm.Name, Config: text}
	return out, nil
}
