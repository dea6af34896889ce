package config

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// ObjectStatus is the verdict on one input object: the Valid condition the
// controller writes to the CR (or reports as an Event on the legacy
// ConfigMap) and the problems behind it.
type ObjectStatus struct {
	Kind   string
	Name   string
	Source string
	Legacy bool
	// Condition is of type v1beta1.ConditionValid with Status, Reason,
	// Message and ObservedGeneration set; LastTransitionTime is left to
	// the writer (meta.SetStatusCondition fills it).
	Condition metav1.Condition
	// InUse is true when some version of the object is in the Snapshot:
	// the current one, or the last valid one when Stale.
	InUse bool
	// Stale is true when the current version is invalid and the last
	// valid version stays in use.
	Stale bool
	// Problems lists everything wrong with the object, warnings included.
	Problems []FieldError
}

// record appends the status of one object.
func (b *builder) record(kind, name string, o Origin, list []FieldError, used, stale bool) {
	st := ObjectStatus{
		Kind: kind, Name: name, Source: o.Source, Legacy: o.Legacy,
		InUse: used, Stale: stale, Problems: list,
		Condition: metav1.Condition{Type: v1beta1.ConditionValid, ObservedGeneration: o.Generation},
	}
	fatal := fatalOnly(list)
	switch {
	case len(fatal) == 0:
		st.Condition.Status = metav1.ConditionTrue
		st.Condition.Reason = v1beta1.ReasonAccepted
		st.Condition.Message = "in use"
		if len(list) > 0 {
			st.Condition.Message = "in use; " + joinMessages(list)
		}
	default:
		st.Condition.Status = metav1.ConditionFalse
		st.Condition.Reason = fatal[0].Reason
		what := "not in use"
		switch {
		case kind == KindConfigMap:
			what = "nothing in it is read; the objects converted from its last valid version stay in use"
		case stale:
			what = "the last valid version stays in use until this is fixed"
		}
		st.Condition.Message = joinMessages(fatal) + "; " + what
	}
	b.statuses = append(b.statuses, st)
}

// joinMessages describes problems in one line for a condition message:
// the first in full, then how many more.
func joinMessages(list []FieldError) string {
	var b strings.Builder
	e := list[0]
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			fmt.Fprintf(&b, " %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if n := len(list) - 1; n > 0 {
		fmt.Fprintf(&b, " (and %d more problem", n)
		if n > 1 {
			b.WriteString("s")
		}
		b.WriteString(")")
	}
	return b.String()
}
