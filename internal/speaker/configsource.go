package speaker

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

// The speaker builds its own Snapshot from the same objects as the
// controller, with the same pure config.Build, so both agree on pools and
// advertisements without talking to each other. Problems are the
// controller's to report (conditions, Events); the speaker only uses the
// result.

// configLists returns empty lists of the configuration CRs, in the order
// gatherConfig fills config.Objects.
func configLists() []client.ObjectList {
	return []client.ObjectList{
		&v1beta1.IPAddressPoolList{}, &v1beta1.L2AdvertisementList{}, &v1beta1.BGPAdvertisementList{},
		&v1beta1.BGPPeerList{}, &v1beta1.BFDProfileList{}, &v1beta1.CommunityList{},
	}
}

// configObjects are the configuration CR kinds, for watches and the cache.
func configObjects() []client.Object {
	return []client.Object{
		&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.BGPPeer{}, &v1beta1.BFDProfile{}, &v1beta1.Community{},
	}
}

// buildConfig reads the configuration from the cache and builds a
// Snapshot, keeping the last valid version of invalid objects (previous).
func buildConfig(ctx context.Context, r client.Reader, namespace string, cm types.NamespacedName, previous *config.Snapshot) (*config.Snapshot, error) {
	in := config.Input{Namespace: namespace, Previous: previous}
	ns := client.InNamespace(namespace)
	lists := configLists()
	for _, l := range lists {
		if err := r.List(ctx, l, ns); err != nil {
			return nil, fmt.Errorf("listing %T in %s: %w", l, namespace, err)
		}
	}
	in.IPAddressPools = lists[0].(*v1beta1.IPAddressPoolList).Items
	in.L2Advertisements = lists[1].(*v1beta1.L2AdvertisementList).Items
	in.BGPAdvertisements = lists[2].(*v1beta1.BGPAdvertisementList).Items
	in.BGPPeers = lists[3].(*v1beta1.BGPPeerList).Items
	in.BFDProfiles = lists[4].(*v1beta1.BFDProfileList).Items
	in.Communities = lists[5].(*v1beta1.CommunityList).Items

	var secrets corev1.SecretList
	if err := r.List(ctx, &secrets, ns); err != nil {
		return nil, fmt.Errorf("listing Secrets in %s: %w", namespace, err)
	}
	in.Secrets = secrets.Items

	var obj corev1.ConfigMap
	switch err := r.Get(ctx, cm, &obj); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading the legacy ConfigMap %s: %w", cm, err)
	default:
		if text, ok := obj.Data[config.LegacyConfigMapKey]; ok {
			in.Legacy = &config.LegacySource{Namespace: obj.Namespace, Name: obj.Name, Config: text}
		}
	}
	return config.Build(in).Snapshot, nil
}
