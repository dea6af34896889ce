package doctor

import (
	"cmp"
	"strconv"

	"github.com/ironlb/ironlb/internal/config"
)

// checkConfig reports every problem of the configuration: what could not
// be read, and every rule of config.Build (invalid objects, overlaps
// between pools, references to missing objects). A problem that leaves
// the object in use (FieldError.Warning) is a warning, any other an error.
func checkConfig(c *checker) {
	ns := cmp.Or(c.in.Config.Namespace, config.DefaultNamespace)
	for _, p := range append(append([]config.FieldError{}, c.in.ConfigProblems...), c.res.Problems()...) {
		sev := Error
		if p.Warning {
			sev = Warning
		}
		obj := Object{Kind: p.Kind, Namespace: ns, Name: p.Name}
		if p.Kind == "document" {
			obj.Namespace = ""
		}
		msg := ""
		if p.Source != "" && p.Source != config.SourceCR {
			msg = "(" + p.Source + ") "
		}
		if p.Field != "" {
			msg += p.Field
			if p.Value != "" {
				msg += " " + strconv.Quote(p.Value)
			}
			msg += ": "
		} else if p.Value != "" {
			msg += strconv.Quote(p.Value) + ": "
		}
		msg += p.Message
		where := "the object"
		if p.Field != "" {
			where = p.Field
		}
		c.add(sev, "config-invalid", obj, msg,
			"correct "+where+" of "+p.Object()+" as the message says; `ironlb config validate -f FILE` checks a file before you apply it")
	}
}
