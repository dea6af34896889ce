package webhook

import (
	"context"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testenv"
)

// FuzzValidatorHandle feeds the validator admission requests whose object
// and old object are arbitrary bytes (the body the API server forwards),
// of each kind it validates: it must answer every one — allowed, denied
// or errored with a message — and never panic.
func FuzzValidatorHandle(f *testing.F) {
	scheme, err := testenv.NewScheme()
	if err != nil {
		f.Fatal(err)
	}
	stored := []client.Object{pool("old", 0, "10.0.0.0/24"), l2("adv", "old")}
	kinds := []string{"IPAddressPool", "L2Advertisement", "BGPAdvertisement", "BGPPeer", "BFDProfile", "Community", "Service"}
	f.Add(uint8(0), true, []byte(`{"apiVersion":"ironlb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"p","namespace":"ironlb-system"},"spec":{"addresses":["10.0.1.0/24"]}}`), []byte(nil))
	f.Add(uint8(0), false, []byte(`{"metadata":{"name":"p"},"spec":{"addresses":["10.0.1.0/24"]}}`), []byte(`{"metadata":{"name":"p","labels":{"a":"b"}},"spec":{}}`))
	f.Add(uint8(3), true, []byte(`{"spec":{"myASN":64512,"peerASN":64513,"peerAddress":"192.0.2.1","bfdProfile":"x"}}`), []byte(nil))
	f.Add(uint8(1), true, []byte(`{"spec":{"ipAddressPools":["old"],"interfaces":["eth0"],"nodeSelectors":[{"matchLabels":{"a":"b"}}]}}`), []byte(nil))
	f.Add(uint8(5), true, []byte(`{"spec":{"communities":[{"name":"c","value":"65000:1"}]}}`), []byte(`not json`))
	// The validator only reads: one fake store serves every input.
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored...).Build()
	v := NewValidator(reader, scheme, testNamespace, types.NamespacedName{Namespace: testNamespace, Name: "config"})
	f.Fuzz(func(t *testing.T, kind uint8, create bool, obj, old []byte) {
		op := admissionv1.Update
		if create {
			op = admissionv1.Create
		}
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Operation: op, Name: "p", Namespace: testNamespace,
			Kind:      metav1.GroupVersionKind{Group: v1beta1.GroupVersion.Group, Version: v1beta1.GroupVersion.Version, Kind: kinds[int(kind)%len(kinds)]},
			Object:    runtime.RawExtension{Raw: obj},
			OldObject: runtime.RawExtension{Raw: old},
		}}
		resp := v.Handle(context.Background(), req)
		if !resp.Allowed && (resp.Result == nil || resp.Result.Message == "") {
			t.Fatalf("refused without a message: %+v", resp)
		}
	})
}
