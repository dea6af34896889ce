package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
)

// Validator is the admission handler for the six configuration kinds. On
// create and update of an object in Namespace it lists the configuration
// as it is (straight from the API server), replaces or adds the candidate,
// and runs config.Build exactly as the controller does: first on the
// configuration without the candidate, built on the accepted configuration
// record as every process builds, whose Snapshot (what is in use) is then
// passed as the previous one to the build with the candidate. The request is denied when
// the candidate itself gets an error; its warnings (a reference to an
// object that is excluded) become admission warnings. Problems of other
// objects never deny the candidate.
//
// Deletes are always allowed (the webhook configuration does not even send
// them): the controller reports what a delete breaks. So are updates that
// change neither the spec nor the labels (an annotation added by a tool),
// even to an object that is invalid already. Objects in another namespace
// are allowed with a warning: ironlb ignores them.
type Validator struct {
	// Reader lists the configuration; it should read straight from the
	// API server, so a create sees every object stored before it. Two
	// concurrent creates may still both pass; the controller then excludes
	// one, as it does without the webhook.
	Reader client.Reader
	// Namespace is ironlb's namespace.
	Namespace string
	// LegacyConfigMap names the legacy ConfigMap (key "config"); zero
	// means none. Its objects count, as in the controller.
	LegacyConfigMap types.NamespacedName

	decoder admission.Decoder
}

// NewValidator returns a Validator decoding objects with scheme, which
// must hold ironlb's API.
func NewValidator(reader client.Reader, scheme *runtime.Scheme, namespace string, legacy types.NamespacedName) *Validator {
	return &Validator{Reader: reader, Namespace: namespace, LegacyConfigMap: legacy, decoder: admission.NewDecoder(scheme)}
}

// Handle judges one admission request.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if req.Namespace != v.Namespace {
		return admission.Allowed("").WithWarnings(fmt.Sprintf(
			"ironlb reads its configuration only in namespace %s; this %s is ignored", v.Namespace, req.Kind.Kind))
	}
	if req.Operation == admissionv1.Update && sameSpecAndLabels(req) {
		// Only annotations or other metadata changed: the verdict cannot
		// change, and refusing would block unrelated tools.
		return admission.Allowed("")
	}
	read, err := configread.Read(ctx, v.Reader, v.Namespace, v.LegacyConfigMap)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	in := read.Input
	stored := config.Build(in) // what every process has in use (in.Previous is the accepted record)
	key := config.ObjectKey{Kind: req.Kind.Kind, Name: req.Name}
	if err := v.addCandidate(&in.Objects, req); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	in.Previous = stored.Snapshot
	return judge(config.Build(in), key)
}

// judge answers for the object named by key from the Result of a Build
// that included it.
func judge(res config.Result, key config.ObjectKey) admission.Response {
	var errs, warnings []string
	for _, st := range res.Statuses {
		if st.Legacy || st.Kind != key.Kind || st.Name != key.Name {
			continue
		}
		for _, p := range st.Problems {
			if p.Source == config.SourceCR {
				p.Source = "" // every candidate is a CR; "(CR)" says nothing
			}
			if p.Warning {
				p.Warning = false // kubectl prints "Warning:" itself
				warnings = append(warnings, p.Error())
			} else {
				errs = append(errs, p.Error())
			}
		}
	}
	if len(errs) > 0 {
		return admission.Denied(strings.Join(errs, "; ")).WithWarnings(warnings...)
	}
	return admission.Allowed("").WithWarnings(warnings...)
}

// addCandidate decodes the request's object and puts it in objs in place
// of the stored object of the same name, or adds it. A candidate without
// a creationTimestamp (a create) gets the current time: it is the newest.
func (v *Validator) addCandidate(objs *config.Objects, req admission.Request) error {
	switch req.Kind.Kind {
	case config.KindIPAddressPool:
		return put(v.decoder, req, &objs.IPAddressPools)
	case config.KindL2Advertisement:
		return put(v.decoder, req, &objs.L2Advertisements)
	case config.KindBGPAdvertisement:
		return put(v.decoder, req, &objs.BGPAdvertisements)
	case config.KindBGPPeer:
		return put(v.decoder, req, &objs.BGPPeers)
	case config.KindBFDProfile:
		return put(v.decoder, req, &objs.BFDProfiles)
	case config.KindCommunity:
		return put(v.decoder, req, &objs.Communities)
	}
	return fmt.Errorf("ironlb's webhook does not validate kind %s", req.Kind.Kind)
}

// put decodes the candidate into a new T and replaces or appends it in list.
func put[T any, PT interface {
	*T
	client.Object
}](dec admission.Decoder, req admission.Request, list *[]T) error {
	obj := PT(new(T))
	if err := dec.Decode(req, obj); err != nil {
		return fmt.Errorf("decoding the %s: %w", req.Kind.Kind, err)
	}
	if ts := obj.GetCreationTimestamp(); ts.IsZero() {
		obj.SetCreationTimestamp(metav1.Now())
	}
	items := make([]T, 0, len(*list)+1)
	for i := range *list {
		if PT(&(*list)[i]).GetName() != obj.GetName() {
			items = append(items, (*list)[i])
		}
	}
	*list = append(items, *obj)
	return nil
}

// sameSpecAndLabels reports whether an update leaves the spec and the
// labels (which selectors match) as they were.
func sameSpecAndLabels(req admission.Request) bool {
	type relevant struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec any `json:"spec"`
	}
	var oldObj, newObj relevant
	if len(req.OldObject.Raw) == 0 || json.Unmarshal(req.OldObject.Raw, &oldObj) != nil || json.Unmarshal(req.Object.Raw, &newObj) != nil {
		return false
	}
	return reflect.DeepEqual(oldObj, newObj)
}
