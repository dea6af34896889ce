package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/ironlb/ironlb/api/v1beta1"
)

func (b *builder) buildCommunities(cands []candidate[v1beta1.Community]) *kindRun[v1beta1.Community, Community] {
	r := newKindRun(b, KindCommunity, cands, b.prev.Community)
	r.validate(validateCommunity)
	r.resolveConflicts(func(a, b *Community) bool { return slices.Equal(a.Aliases, b.Aliases) }, communitiesClash)
	return r
}

func validateCommunity(c *candidate[v1beta1.Community], p *problems) Community {
	out := Community{Name: c.name}
	if c.name == "" {
		p.add(v1beta1.ReasonInvalidSpec, "metadata.name", "", "missing; every Community needs a name")
	}
	seen := map[string]bool{}
	for i, a := range c.obj.Spec.Communities {
		field := fmt.Sprintf("spec.communities[%d]", i)
		switch {
		case a.Name == "":
			p.add(v1beta1.ReasonInvalidSpec, field+".name", "", "missing alias name")
		case strings.Contains(a.Name, ":") || strings.ContainsFunc(a.Name, unicode.IsSpace):
			p.add(v1beta1.ReasonInvalidSpec, field+".name", a.Name, "an alias name must not contain a colon or white space, so it cannot be mistaken for a community value")
		case seen[a.Name]:
			p.add(v1beta1.ReasonDuplicate, field+".name", a.Name, "alias defined twice in this object; define each alias once")
		}
		seen[a.Name] = true
		v, err := ParseCommunity(a.Value)
		if err != nil {
			p.add(v1beta1.ReasonInvalidSpec, field+".value", a.Value, "%v", err)
		}
		out.Aliases = append(out.Aliases, CommunityAlias{Name: a.Name, Value: v})
	}
	slices.SortStableFunc(out.Aliases, func(x, y CommunityAlias) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// communitiesClash reports an alias that v defines and other does too.
func communitiesClash(v, other *Community, otherName string, p *problems) bool {
	for _, a := range v.Aliases {
		for _, o := range other.Aliases {
			if a.Name == o.Name {
				p.add(v1beta1.ReasonDuplicate, "spec.communities", a.Name,
					"alias already defined by Community %q, which keeps it (it was in use first, or is older); define each alias in one object", otherName)
				return true
			}
		}
	}
	return false
}
