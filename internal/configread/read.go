// Package configread is the one reader of ironlb's configuration inputs:
// the controller, every speaker and the webhook list the same objects the
// same way before they call the pure config.Build, so they cannot differ
// in what they read (a ConfigMap without its key, a missing Secret, …).
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
	// Input is config.Build's input: the CRs and Secrets of the namespace
	// and the legacy configuration, if any. Previous is not set.
	Input config.Input
	// ConfigMap is the legacy ConfigMap, nil when it does not exist.
	ConfigMap *corev1.ConfigMap
	// LegacyKeyMissing says ConfigMap exists but has no
	// config.LegacyConfigMapKey: it is not read, and whoever reports
	// problems should say so on it.
	LegacyKeyMissing bool
}

// Read lists the configuration in namespace from r: the six CR kinds, the
// Secrets (BGP passwords) and the legacy ConfigMap legacy (a zero name
// reads none).
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
	in.BGPPeers, in.BFDProfiles, in.Communities, in.Secrets = peers.Items, bfd.Items, comm.Items, secs.Items
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
