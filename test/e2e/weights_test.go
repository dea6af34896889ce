//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// l2PoolWeights is the pool of the summed-weights check, clear of the
// other pools.
var l2PoolWeights = []string{"10.200.0.196-10.200.0.199"}

// The node labels the summed-weights check's preferences select.
const (
	labelWeightX = "e2e.ironlb.io/weight-x"
	labelWeightY = "e2e.ironlb.io/weight-y"
	labelWeightZ = "e2e.ironlb.io/weight-z"
)

// testSummedWeights: the preferredNodeSelectors weights of every
// L2Advertisement of a pool add up per node. Advertisement A prefers x
// (30); advertisement B prefers y (30) and z (50). Node S, labelled x and
// y, scores 30 + 30 = 60; node M, labelled z, scores 50; so S answers —
// neither the hash winner W (the two are picked among the other nodes)
// nor M, which would win if only the best single preference counted.
//
// Seen failing with the preference score ignored (decide's score always
// 0): "10.200.0.196: answered by node1, want node2 (x 30 + y 30 = 60;
// node3 has z 50, node1 is the hash winner)". The check is built so that a
// max instead of a sum would answer from M.
func (l *l2Env) testSummedWeights(t *testing.T) {
	requireNodes(t, 3, "a hash winner, a node with two preferences and a node with one")
	pref := func(key string, w int32) v1beta1.PreferredNodeSelector {
		return v1beta1.PreferredNodeSelector{Weight: w, Preference: metav1.LabelSelector{MatchLabels: map[string]string{key: "yes"}}}
	}
	l.createPoolWith(t, "weights", l2PoolWeights, v1beta1.L2AdvertisementSpec{
		PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{pref(labelWeightX, 30)},
	})
	second := &v1beta1.L2Advertisement{
		ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: l.pools["weights"] + "-b"},
		Spec: v1beta1.L2AdvertisementSpec{
			IPAddressPools:         []string{l.pools["weights"]},
			PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{pref(labelWeightY, 30), pref(labelWeightZ, 50)},
		},
	}
	if err := l.cl.Create(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.cl.Delete(context.Background(), second); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting L2Advertisement %s: %v", second.Name, err)
		}
	})
	svc := l.createLB(t, "weights", "web", "weights", corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv4Protocol}, false)
	ips := l.waitIngress(t, svc, 1)
	hashed := l.waitAnnounced(t, svc, ips, nil)[ips[0]]

	var others []string
	for _, n := range l.nodes {
		if n != hashed {
			others = append(others, n)
		}
	}
	sum, single := others[0], others[1]
	for node, keys := range map[string][]string{sum: {labelWeightX, labelWeightY}, single: {labelWeightZ}} {
		for _, k := range keys {
			l.setNodeLabel(t, node, k, ptr.To("yes"))
			t.Cleanup(func() { l.setNodeLabel(t, node, k, nil) })
		}
	}
	l.waitAnnounced(t, svc, ips, func(n string) error {
		if n != sum {
			return fmt.Errorf("answered by %s, want %s (x 30 + y 30 = 60; %s has z 50, %s is the hash winner)", n, sum, single, hashed)
		}
		return nil
	})
	l.waitAnswers(t, svc, ips, "web", "")
	t.Logf("%s: hash winner %s; %s (60, summed over two advertisements) answers, not %s (50)", ips[0], hashed, sum, single)
}
