package config

import (
	"fmt"
	"strconv"
	"strings"
)

// SourceCR is the Source of an object that is a custom resource.
const SourceCR = "CR"

// FieldError is one problem with one configuration object. Build never
// stops at the first problem: it returns every FieldError it finds, and each
// one says which object (Kind, Name, Source), which field, which value, and
// why the value is wrong — including what would be valid.
type FieldError struct {
	// Kind is the object's kind: "IPAddressPool", "BGPPeer", ..., or
	// "ConfigMap" for a legacy configuration that did not parse at all.
	Kind string
	// Name is the object's name; empty when the object has none (a legacy
	// entry with no name, or a whole ConfigMap).
	Name string
	// Source says where the object comes from: SourceCR, or the legacy
	// entry it was converted from, such as
	// "ConfigMap ironlb-system/config address-pools[2]". The CLI may put a
	// file name here.
	Source string
	// Field is the path of the bad field inside the object, in the
	// object's own spelling: "spec.addresses[1]" for a CR,
	// "addresses[1]" for a legacy entry. Empty when the problem is the
	// object as a whole.
	Field string
	// Value is the bad value as written; empty when a value is missing.
	Value string
	// Message says why the value is wrong and what would be valid.
	Message string
	// Reason is the CamelCase reason the object's Valid condition carries
	// for this problem: one of the v1beta1 Reason constants.
	Reason string
	// Warning is true when the object stays in use despite the problem:
	// it refers to an object that was excluded, and that one reference is
	// ignored.
	Warning bool
}

// Error returns one readable line:
//
//	IPAddressPool "a" (CR): spec.addresses[1] "10.0.0.9-10.0.0.1": first address ... is above ...
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(e.Object())
	if e.Source != "" {
		fmt.Fprintf(&b, " (%s)", e.Source)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			b.WriteString(" " + strconv.Quote(e.Value))
		}
		b.WriteString(": ")
	} else if e.Value != "" {
		b.WriteString(strconv.Quote(e.Value) + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Object returns the kind and name of the object, as `Kind "name"`.
func (e FieldError) Object() string {
	if e.Name == "" {
		return e.Kind
	}
	return e.Kind + " " + strconv.Quote(e.Name)
}

// problems collects FieldErrors about one object, filling the object's
// identity into each.
type problems struct {
	kind, name, source string
	fieldPath          func(string) string // rewrites CR field paths for legacy objects; may be nil
	list               []FieldError
}

func (p *problems) add(reason, field, value, format string, args ...any) {
	if p.fieldPath != nil {
		field = p.fieldPath(field)
	}
	p.list = append(p.list, FieldError{
		Kind: p.kind, Name: p.name, Source: p.source,
		Field: field, Value: value, Reason: reason,
		Message: fmt.Sprintf(format, args...),
	})
}

func (p *problems) warn(reason, field, value, format string, args ...any) {
	p.add(reason, field, value, format, args...)
	p.list[len(p.list)-1].Warning = true
}

// fatal reports whether any collected problem excludes the object.
func (p *problems) fatal() bool {
	for _, e := range p.list {
		if !e.Warning {
			return true
		}
	}
	return false
}
