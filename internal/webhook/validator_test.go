package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

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

const testNamespace = "ironlb-system"

func pool(name string, age time.Duration, addrs ...string) *v1beta1.IPAddressPool {
	return &v1beta1.IPAddressPool{
		TypeMeta: metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: "IPAddressPool"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: testNamespace, Name: name,
			CreationTimestamp: metav1.NewTime(time.Now().Add(-age).Truncate(time.Second)),
		},
		Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
}

func l2(name string, pools ...string) *v1beta1.L2Advertisement {
	return &v1beta1.L2Advertisement{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: "L2Advertisement"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
		Spec:       v1beta1.L2AdvertisementSpec{IPAddressPools: pools},
	}
}

// request is an admission request for obj; on update, old is the stored
// object (nil: one with other addresses).
func request(t *testing.T, op admissionv1.Operation, obj, old client.Object) admission.Request {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: op, Name: obj.GetName(), Namespace: obj.GetNamespace(),
		Kind:   metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Object: runtime.RawExtension{Raw: raw},
	}}
	if op == admissionv1.Update {
		if old == nil {
			old = pool(obj.GetName(), 0, "192.0.2.0/32")
		}
		if req.OldObject.Raw, err = json.Marshal(old); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

func TestValidator(t *testing.T) {
	scheme, err := testenv.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	stored := []client.Object{
		pool("old", 2*time.Hour, "10.0.0.0/24"),
		pool("newer", time.Hour, "10.0.1.0/24"),
		pool("broken", time.Minute, "10.0.0.0/25"), // overlaps "old"
	}
	tests := []struct {
		name    string
		op      admissionv1.Operation
		obj     client.Object
		old     client.Object // on update; nil means a pool with other addresses
		allowed bool
		want    []string // substrings of the denial message, or of a warning when allowed
	}{
		{name: "disjoint pool", op: admissionv1.Create, obj: pool("c", 0, "10.0.2.0/24"), allowed: true},
		{
			name: "overlapping pool", op: admissionv1.Create, obj: pool("c", 0, "10.0.0.128/25"),
			want: []string{`IPAddressPool "c": spec.addresses[0] "10.0.0.128/25": overlaps`, `IPAddressPool "old"`},
		},
		{
			// The older pool, edited to overlap a newer one in use, loses:
			// an edit never pushes out something that works.
			name: "update of an older pool onto a newer one", op: admissionv1.Update, obj: pool("old", 2*time.Hour, "10.0.1.0/25"),
			want: []string{`IPAddressPool "old": spec.addresses[0]`, `IPAddressPool "newer"`},
		},
		{name: "update keeping the addresses", op: admissionv1.Update, obj: pool("old", 2*time.Hour, "10.0.0.0/24"), allowed: true},
		{
			// Already invalid, but only an annotation changes: allowed.
			name: "annotation on an invalid pool", op: admissionv1.Update, allowed: true,
			obj: func() client.Object {
				p := pool("broken", time.Minute, "10.0.0.0/25")
				p.Annotations = map[string]string{"tool": "x"}
				return p
			}(),
			old: pool("broken", time.Minute, "10.0.0.0/25"),
		},
		{
			name: "label on an invalid pool", op: admissionv1.Update,
			obj: func() client.Object {
				p := pool("broken", time.Minute, "10.0.0.0/25")
				p.Labels = map[string]string{"tier": "x"}
				return p
			}(),
			old:  pool("broken", time.Minute, "10.0.0.0/25"),
			want: []string{`IPAddressPool "broken"`, "overlaps"},
		},
		{name: "delete", op: admissionv1.Delete, obj: pool("old", 2*time.Hour, "10.0.0.0/24"), allowed: true},
		{
			name: "advertisement of a missing pool", op: admissionv1.Create, obj: l2("adv", "missing"),
			want: []string{`L2Advertisement "adv": spec.ipAddressPools[0] "missing"`},
		},
		{name: "advertisement of a pool", op: admissionv1.Create, obj: l2("adv", "old"), allowed: true},
		{
			// A reference to an excluded pool is a warning, not a refusal.
			name: "advertisement of an excluded pool", op: admissionv1.Create, obj: l2("adv", "old", "broken"), allowed: true,
			want: []string{`L2Advertisement "adv": spec.ipAddressPools[1] "broken": IPAddressPool "broken" is not in use`},
		},
		{
			name: "other namespace", op: admissionv1.Create, allowed: true,
			obj:  func() client.Object { p := pool("c", 0, "10.0.0.0/24"); p.Namespace = "elsewhere"; return p }(),
			want: []string{"only in namespace ironlb-system"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored...).Build()
			v := NewValidator(reader, scheme, testNamespace, types.NamespacedName{Namespace: testNamespace, Name: "config"})
			resp := v.Handle(context.Background(), request(t, tt.op, tt.obj, tt.old))
			msg := ""
			if resp.Result != nil {
				msg = resp.Result.Message
			}
			t.Logf("allowed=%v message=%q warnings=%q", resp.Allowed, msg, resp.Warnings)
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (message %q)", resp.Allowed, tt.allowed, msg)
			}
			text := msg
			if tt.allowed {
				text = strings.Join(resp.Warnings, "\n")
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q does not contain %q", text, w)
				}
			}
		})
	}
}
