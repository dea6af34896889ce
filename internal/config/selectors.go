package config

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// checkSelectors reports label selectors that do not convert to a
// labels.Selector (bad keys, values or operators).
func checkSelectors(p *problems, field string, sels []metav1.LabelSelector) {
	for i := range sels {
		if _, err := metav1.LabelSelectorAsSelector(&sels[i]); err != nil {
			p.add(v1beta1.ReasonInvalidSpec, fmt.Sprintf("%s[%d]", field, i), "", "not a valid label selector: %v", err)
		}
	}
}

// selectsAny reports whether any of the selectors selects the labels.
// Selectors are assumed valid (checkSelectors).
func selectsAny(sels []metav1.LabelSelector, set map[string]string) bool {
	for i := range sels {
		s, err := metav1.LabelSelectorAsSelector(&sels[i])
		if err == nil && s.Matches(labels.Set(set)) {
			return true
		}
	}
	return false
}

// selectorsMayOverlap reports whether two node selector lists (each
// selecting the nodes any of its selectors selects; empty selects every
// node) could select a common node. Without the nodes at hand it is
// conservative: it says false only when every pair of selectors
// contradicts itself on some label (k=a against k=b, k in (a) against
// k notin (a), k exists against k does not exist).
func selectorsMayOverlap(a, b []metav1.LabelSelector) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for i := range a {
		for j := range b {
			if !selectorsDisjoint(&a[i], &b[j]) {
				return true
			}
		}
	}
	return false
}

func selectorsDisjoint(a, b *metav1.LabelSelector) bool {
	ra, rb := requirements(a), requirements(b)
	for _, x := range ra {
		for _, y := range rb {
			if x.Key == y.Key && (contradicts(x, y) || contradicts(y, x)) {
				return true
			}
		}
	}
	return false
}

func requirements(s *metav1.LabelSelector) []metav1.LabelSelectorRequirement {
	out := slices.Clone(s.MatchExpressions)
	for k, v := range s.MatchLabels {
		out = append(out, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
	}
	return out
}

// contradicts reports whether no label set satisfies both x and y (same
// key), for the combinations it knows.
func contradicts(x, y metav1.LabelSelectorRequirement) bool {
	switch x.Operator {
	case metav1.LabelSelectorOpIn:
		switch y.Operator {
		case metav1.LabelSelectorOpIn:
			return !slices.ContainsFunc(x.Values, func(v string) bool { return slices.Contains(y.Values, v) })
		case metav1.LabelSelectorOpNotIn:
			return !slices.ContainsFunc(x.Values, func(v string) bool { return !slices.Contains(y.Values, v) })
		case metav1.LabelSelectorOpDoesNotExist:
			return true
		}
	case metav1.LabelSelectorOpExists:
		return y.Operator == metav1.LabelSelectorOpDoesNotExist
	}
	return false
}

func cloneSelectors(in []metav1.LabelSelector) []metav1.LabelSelector {
	if in == nil {
		return nil
	}
	out := make([]metav1.LabelSelector, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}
