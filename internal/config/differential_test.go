package config_test

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
	"github.com/ironlb/ironlb/internal/webhook"
)

// The differential test: `ironlb config validate` and `config convert`
// against a real API server with ironlb's CRDs, plus ironlb's webhook.

// diffNamespace is where every candidate is judged: ironlb's default
// namespace, which the documentation's examples use.
const diffNamespace = config.DefaultNamespace

// crCandidate is one CR document and where it comes from.
type crCandidate struct {
	name string
	doc  string
}

// legacyCandidate is one legacy configuration (a ConfigMap or the bare
// text) and where it comes from.
type legacyCandidate struct {
	name string
	text string
}

// TestOfflineVerdictsMatchTheAPIServer judges every candidate offline and
// in a real API server, and fails on any disagreement, naming the input:
//
//   - config.CheckCR refuses a CR exactly when a server-side dry-run create
//     with strict field validation refuses it (the part that is identical by
//     construction);
//   - `config validate` (Manifests.Check) refuses a CR exactly when the API
//     server refuses it or, when the API server accepts it, ironlb's
//     validating webhook (run in process on the object the API server
//     defaulted) denies it;
//   - every CR `config convert` prints from a legacy configuration is
//     accepted by the API server.
//
// The candidates are every ironlb CR and legacy configuration in the YAML
// blocks of docs/*.md and in examples/, the legacy files and fuzz corpus
// under testdata/, and generated variants: repeated list entries, spaces
// around values, bad CIDRs, reversed ranges, unknown fields, limits,
// wrong types, bad names.
func TestOfflineVerdictsMatchTheAPIServer(t *testing.T) {
	crs, legacies := gatherCandidates(t)
	e := testenv.Shared(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: diffNamespace}}
	if err := e.Client.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	validator := webhook.NewValidator(e.Client, e.Scheme, diffNamespace, types.NamespacedName{})

	begin := time.Now()
	var refused, denied, accepted atomic.Int32
	t.Run("CR", func(t *testing.T) {
		for _, c := range crs {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				switch judgeCR(t, e, validator, c) {
				case verdictRefused:
					refused.Add(1)
				case verdictDenied:
					denied.Add(1)
				default:
					accepted.Add(1)
				}
			})
		}
	})
	var converted atomic.Int32
	t.Run("legacy", func(t *testing.T) {
		for _, c := range legacies {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				converted.Add(int32(judgeLegacy(t, e, c)))
			})
		}
	})
	t.Logf("%d CRs (%d refused by the API server, %d denied by the webhook, %d accepted) and %d legacy configurations (%d objects converted) in %v",
		len(crs), refused.Load(), denied.Load(), accepted.Load(), len(legacies), converted.Load(), time.Since(begin).Round(time.Millisecond))
	if refused.Load() == 0 || denied.Load() == 0 || accepted.Load() == 0 || converted.Load() == 0 {
		t.Errorf("the candidates do not cover every verdict")
	}
}

type verdict int

const (
	verdictAccepted verdict = iota
	verdictRefused          // by the API server
	verdictDenied           // by the webhook
)

// judgeCR compares the verdicts on one CR and returns the cluster's.
func judgeCR(t *testing.T, e *testenv.Env, validator *webhook.Validator, c crCandidate) verdict {
	ctx := t.Context()
	offline := config.Manifests{Input: config.Input{Namespace: diffNamespace}}
	offline.Add(c.name, []byte(c.doc))
	_, problems := offline.Check()
	apiProblems := config.CheckCR([]byte(c.doc), diffNamespace)

	obj, err := decodeDoc(c.doc)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	u := &unstructured.Unstructured{Object: obj}
	if _, ok := obj["metadata"].(map[string]any); ok && u.GetNamespace() == "" {
		u.SetNamespace(diffNamespace) // kubectl's namespace
	}
	serverErr := e.Client.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict"))
	if serverErr != nil && !apierrors.IsInvalid(serverErr) && !apierrors.IsBadRequest(serverErr) {
		t.Fatalf("%s: dry-run create failed for another reason than validation: %v", c.name, serverErr)
	}
	got := verdictAccepted
	var webhookMsg string
	if serverErr != nil {
		got = verdictRefused
	} else {
		raw, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		gvk := u.GroupVersionKind()
		resp := validator.Handle(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID:       types.UID(c.name),
			Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Name:      u.GetName(),
			Namespace: u.GetNamespace(),
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: raw},
		}})
		if !resp.Allowed {
			got = verdictDenied
			webhookMsg = resp.Result.Message
		}
	}

	describe := func() string {
		return fmt.Sprintf("input %s:\n%s\noffline (config validate):\n%s\noffline (CheckCR):\n%s\nAPI server: %v\nwebhook: %s",
			c.name, indent(c.doc), indent(texts(problems)), indent(texts(apiProblems)), serverErr, cmp.Or(webhookMsg, "-"))
	}
	if (len(apiProblems) > 0) != (serverErr != nil) {
		t.Errorf("CheckCR and the API server disagree on %s", describe())
	}
	if (len(problems) > 0) != (got != verdictAccepted) {
		t.Errorf("config validate and the cluster (API server + webhook) disagree on %s", describe())
	}
	return got
}

// judgeLegacy converts a legacy configuration as `config convert` does and
// creates every object it prints in the API server (dry run), which must
// accept them all. It returns the number of objects converted.
func judgeLegacy(t *testing.T, e *testenv.Env, c legacyCandidate) int {
	var m config.Manifests
	m.Input.Namespace = diffNamespace
	m.Add(c.name, []byte(c.text))
	if len(m.Problems) > 0 || m.Input.Legacy == nil {
		t.Fatalf("%s is no legacy configuration: %v", c.name, m.Problems)
	}
	objs, problems := config.Convert(*m.Input.Legacy, diffNamespace)
	if len(problems) > 0 {
		return 0 // refused, nothing printed
	}
	all := convertedObjects(objs)
	for _, o := range all {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeDoc(string(b))
		if err != nil {
			t.Fatal(err)
		}
		delete(obj, "status")
		unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
		u := &unstructured.Unstructured{Object: obj}
		if err := e.Client.Create(t.Context(), u, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			out, _ := yaml.Marshal(obj)
			t.Errorf("config convert printed an object the API server refuses: input %s:\n%s\nobject:\n%s\nAPI server: %v", c.name, indent(c.text), indent(string(out)), err)
		}
	}
	return len(all)
}

func convertedObjects(o config.Objects) []client.Object {
	var all []client.Object
	for _, obj := range o.All() {
		all = append(all, obj)
	}
	return all
}

// gatherCandidates collects every input of the differential test.
func gatherCandidates(t *testing.T) ([]crCandidate, []legacyCandidate) {
	t.Helper()
	var crs []crCandidate
	var legacies []legacyCandidate
	addFile := func(name string, data []byte) {
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			where := fmt.Sprintf("%s document %d", name, i)
			switch classify(doc) {
			case "cr":
				crs = append(crs, crCandidate{name: where, doc: string(doc)})
			case "legacy":
				legacies = append(legacies, legacyCandidate{name: where, text: string(doc)})
			}
		}
	}

	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md (%v)", err)
	}
	for _, f := range docs {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range testkit.YAMLBlocks(string(data)) {
			addFile(fmt.Sprintf("%s block %d", strings.TrimPrefix(f, "../../"), i+1), []byte(block))
		}
	}
	examples, _ := filepath.Glob("../../examples/*/*.yaml")
	testdata, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range append(examples, testdata...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		addFile(strings.TrimPrefix(f, "../../"), data)
	}
	for _, kind := range configKinds {
		if !slices.ContainsFunc(crs, func(c crCandidate) bool { return strings.Contains(c.doc, "kind: "+kind+"\n") }) {
			t.Errorf("no %s found in docs/ and examples/", kind)
		}
	}
	if len(legacies) < 4 {
		t.Errorf("found only %d legacy configurations in docs/ and testdata/", len(legacies))
	}

	// The fuzz corpora (go test fuzz v1 files), when there are any.
	corpus, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, f := range corpus {
		values := readCorpusEntry(t, f)
		if len(values) != 1 {
			continue
		}
		switch filepath.Base(filepath.Dir(f)) {
		case "FuzzParseLegacy":
			if m, err := decodeDoc(values[0]); err == nil && m != nil {
				legacies = append(legacies, legacyCandidate{name: f, text: values[0]})
			}
		case "FuzzParseAddressRange":
			crs = append(crs, crCandidate{name: f, doc: cr(config.KindIPAddressPool, "{addresses: ["+strconv.Quote(values[0])+"]}")})
		}
	}

	crs = append(crs, crVariants()...)
	legacies = append(legacies, legacyVariants()...)
	return crs, legacies
}

// classify says whether a YAML document is an ironlb CR of a configuration
// kind, a legacy configuration, or neither.
func classify(doc []byte) string {
	m, err := decodeDoc(string(doc))
	if err != nil || m == nil {
		return ""
	}
	kind, _ := m["kind"].(string)
	apiVersion, _ := m["apiVersion"].(string)
	switch {
	case apiVersion == v1beta1.GroupVersion.String() && slices.Contains(configKinds, kind):
		return "cr"
	case kind == "ConfigMap" && apiVersion == "v1":
		if data, ok := m["data"].(map[string]any); ok && data[config.LegacyConfigMapKey] != nil {
			return "legacy"
		}
	case kind == "":
		for _, k := range []string{"address-pools", "peers", "bgp-communities", "bfd-profiles"} {
			if _, ok := m[k]; ok {
				return "legacy"
			}
		}
	}
	return ""
}

var configKinds = []string{config.KindIPAddressPool, config.KindL2Advertisement, config.KindBGPAdvertisement, config.KindBGPPeer, config.KindBFDProfile, config.KindCommunity}

// cr writes a CR of kind named v in diffNamespace with the given spec (a
// YAML flow mapping) and more top-level YAML lines.
func cr(kind, spec string, more ...string) string {
	s := "apiVersion: ironlb.io/v1beta1\nkind: " + kind + "\nmetadata: {name: v, namespace: " + diffNamespace + "}\n"
	if spec != "" {
		s += "spec: " + spec + "\n"
	}
	for _, m := range more {
		s += m + "\n"
	}
	return s
}

// crVariants generates CRs around the rules: one valid object per kind
// and variants of each of its fields.
func crVariants() []crCandidate {
	var out []crCandidate
	add := func(name, doc string) { out = append(out, crCandidate{name: "variant " + name, doc: doc}) }
	q := strconv.Quote
	long := func(n int) string { return strings.Repeat("a", n) }

	// IPAddressPool: addresses.
	for _, a := range []string{
		"192.168.1.240/28", "192.168.1.240-192.168.1.250", "fd00:200::240-fd00:200::250", "10.0.0.5/24", "::/0",
		"0.0.0.0/0", "10.0.0.1", "1.2.3.4 - 1.2.3.4", "::ffff:1.2.3.4/128", "fe80::1%x-fe80::2", " 10.0.0.0/24",
		"10.0.0.0/24 ", "\t10.0.0.0/24", "10.0.0.0 /24", " 10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.9 ", "10.0.0.1 -10.0.0.9",
		"10.0.0.300/24", "10.0.0.0/33", "10.0.0.0/-1", "fd00::/129", "fd00::1/64", "fd00::/64", "10.0.0.9-10.0.0.1",
		"fd00::9-fd00::1", "10.0.0.1-fd00::1", "10.0.0.1--10.0.0.2", "10.0.0.1-10.0.0.2-10.0.0.3", "", "-", "/",
		"010.0.0.0/24", "10.0.0.0/024", "1.2.3.4/32", "::1/128", "abc", "10.0.0.0/24,10.0.1.0/24", "fe80::1%eth0/128",
		"::ffff:10.0.0.1-::ffff:10.0.0.2", "1.2.3", "255.255.255.255/32", "2001:db8::/32", "10.0.0.1-10.0.0.1",
		"10.0.0.0-10.0.0.255", "fd00::-fd00::ffff", "1.2.3.4/32 - 1.2.3.5/32", "10.0.0.0/8" + strings.Repeat(" ", 95),
	} {
		add("IPAddressPool address "+q(a), cr(config.KindIPAddressPool, "{addresses: ["+q(a)+"]}"))
	}
	for name, list := range map[string]string{
		"repeated":                  "[10.0.0.0/24, 10.0.0.0/24]",
		"repeated with a space":     "[10.0.0.0/24, ' 10.0.0.0/24']",
		"repeated range spelling":   "['10.0.0.1-10.0.0.5', '10.0.0.1 - 10.0.0.5']",
		"overlapping":               "[10.0.0.0/24, 10.0.0.128/25]",
		"both families":             "[10.0.0.0/24, 'fd00::/120']",
		"empty list":                "[]",
		"null":                      "null",
		"a string":                  "10.0.0.0/24",
		"a number":                  "[5]",
		"257 entries":               "[" + strings.Repeat("10.0.0.0/24, ", 256) + "10.0.1.0/24]",
		"repeated among many":       "[10.0.0.0/24, 10.0.1.0/24, 10.0.2.0/24, 10.0.1.0/24]",
		"overlapping IPv6 ranges":   "['fd00::1-fd00::9', 'fd00::5-fd00::20']",
		"an entry of 100 bytes":     "[" + q("10.0.0.0/8"+strings.Repeat(" ", 90)) + "]",
		"an entry of 101 bytes":     "[" + q("10.0.0.0/8"+strings.Repeat(" ", 91)) + "]",
		"IPv4-mapped range":         "['::ffff:1.2.3.4-::ffff:1.2.3.5']",
		"host bits in IPv6":         "['fd00::1/120']",
		"single IPv6 address range": "['fd00::1-fd00::1']",
	} {
		add("IPAddressPool addresses "+name, cr(config.KindIPAddressPool, "{addresses: "+list+"}"))
	}
	for name, spec := range map[string]string{
		"autoAssign false":              "{addresses: [10.0.0.0/24], autoAssign: false}",
		"autoAssign string":             "{addresses: [10.0.0.0/24], autoAssign: 'yes'}",
		"avoidBuggyIPs number":          "{addresses: [10.0.0.0/24], avoidBuggyIPs: 1}",
		"priority -1":                   "{addresses: [10.0.0.0/24], serviceAllocation: {priority: -1}}",
		"priority 1.5":                  "{addresses: [10.0.0.0/24], serviceAllocation: {priority: 1.5}}",
		"priority 10":                   "{addresses: [10.0.0.0/24], serviceAllocation: {priority: 10}}",
		"namespaces repeated":           "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: [a, b, a]}}",
		"namespaces empty name":         "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: ['']}}",
		"namespaces with a space":       "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: [' a']}}",
		"namespaces too long":           "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: [" + long(64) + "]}}",
		"namespace selector":            "{addresses: [10.0.0.0/24], serviceAllocation: {namespaceSelectors: [{matchLabels: {team: a}}]}}",
		"namespace selector bad key":    "{addresses: [10.0.0.0/24], serviceAllocation: {namespaceSelectors: [{matchLabels: {'a b': c}}]}}",
		"service selector bad operator": "{addresses: [10.0.0.0/24], serviceAllocation: {serviceSelectors: [{matchExpressions: [{key: a, operator: Near}]}]}}",
		"service selector In no values": "{addresses: [10.0.0.0/24], serviceAllocation: {serviceSelectors: [{matchExpressions: [{key: a, operator: In}]}]}}",
		"serviceAllocation unknown":     "{addresses: [10.0.0.0/24], serviceAllocation: {prio: 1}}",
		"spec unknown":                  "{addresses: [10.0.0.0/24], typo: 1}",
		"spec null":                     "null",
		"spec a list":                   "[]",
	} {
		add("IPAddressPool "+name, cr(config.KindIPAddressPool, spec))
	}
	pool := "{addresses: [10.0.0.0/24]}"
	add("IPAddressPool without spec", cr(config.KindIPAddressPool, ""))
	add("IPAddressPool unknown top-level field", cr(config.KindIPAddressPool, pool, "extra: 1"))
	add("IPAddressPool status", cr(config.KindIPAddressPool, pool, "status: {assignedIPv4: 3}"))
	add("IPAddressPool status of the wrong type", cr(config.KindIPAddressPool, pool, "status: {assignedIPv4: many}"))
	add("IPAddressPool unknown status field", cr(config.KindIPAddressPool, pool, "status: {used: 1}"))
	for name, meta := range map[string]string{
		"bad name":              "{name: Bad_Name}",
		"name with dots":        "{name: a..b}",
		"name of 253":           "{name: " + long(253) + "}",
		"name of 254":           "{name: " + long(254) + "}",
		"no name":               "{}",
		"generateName":          "{generateName: pool-}",
		"bad label":             "{name: v, labels: {'a b': c}}",
		"label value too long":  "{name: v, labels: {a: " + long(64) + "}}",
		"annotation":            "{name: v, annotations: {a: b}}",
		"unknown metadata":      "{name: v, typo: 1}",
		"label of wrong type":   "{name: v, labels: {a: 1}}",
		"finalizer":             "{name: v, finalizers: [example.com/x]}",
		"bad finalizer":         "{name: v, finalizers: ['a b']}",
		"name with upper case":  "{name: Pool}",
		"name starting with -":  "{name: -pool}",
		"name with a slash":     "{name: a/b}",
		"creationTimestamp set": "{name: v, creationTimestamp: '2025-01-01T00:00:00Z'}",
	} {
		add("IPAddressPool metadata "+name, "apiVersion: ironlb.io/v1beta1\nkind: IPAddressPool\nmetadata: "+meta+"\nspec: "+pool+"\n")
	}

	// L2Advertisement.
	for name, spec := range map[string]string{
		"empty":                      "{}",
		"pools repeated":             "{ipAddressPools: [a, a]}",
		"pool empty":                 "{ipAddressPools: ['']}",
		"pool with a space":          "{ipAddressPools: [' a']}",
		"interfaces":                 "{interfaces: [eth0, bond0.100]}",
		"interfaces repeated":        "{interfaces: [eth0, eth0]}",
		"interface with a space":     "{interfaces: ['eth0 ']}",
		"interface of 16":            "{interfaces: [" + long(16) + "]}",
		"interface empty":            "{interfaces: ['']}",
		"node selector":              "{nodeSelectors: [{matchLabels: {kubernetes.io/hostname: a}}]}",
		"node selector bad operator": "{nodeSelectors: [{matchExpressions: [{key: a, operator: near}]}]}",
		"pool selector bad key":      "{ipAddressPoolSelectors: [{matchLabels: {'-a': b}}]}",
		"unknown field":              "{nodeSelector: {}}",
		"interfaces a string":        "{interfaces: eth0}",
	} {
		add("L2Advertisement "+name, cr(config.KindL2Advertisement, spec))
	}

	// BGPAdvertisement.
	for name, spec := range map[string]string{
		"empty":                     "{}",
		"aggregationLength 24":      "{aggregationLength: 24}",
		"aggregationLength 33":      "{aggregationLength: 33}",
		"aggregationLength -1":      "{aggregationLength: -1}",
		"aggregationLengthV6 129":   "{aggregationLengthV6: 129}",
		"localPref -1":              "{localPref: -1}",
		"localPref 4294967295":      "{localPref: 4294967295}",
		"localPref 4294967296":      "{localPref: 4294967296}",
		"pools repeated":            "{ipAddressPools: [a, a]}",
		"peers repeated":            "{peers: [r, r]}",
		"peer with a space":         "{peers: ['r ']}",
		"node selector bad":         "{nodeSelectors: [{matchLabels: {'a b': c}}]}",
		"communities":               "{communities: ['64512:100', 'large:1:2:3']}",
		"communities repeated":      "{communities: ['64512:100', '64512:100']}",
		"large repeated":            "{communities: ['large:1:2:3', 'large:1:2:3']}",
		"community with a space":    "{communities: ['64512: 100']}",
		"community leading space":   "{communities: [' 64512:100']}",
		"community trailing space":  "{communities: ['64512:100 ']}",
		"community 65536":           "{communities: ['65536:1']}",
		"community three parts":     "{communities: ['1:2:3']}",
		"large too big":             "{communities: ['large:4294967296:1:1']}",
		"community empty":           "{communities: ['']}",
		"community alias":           "{communities: [no-advertise]}",
		"community alias spaced":    "{communities: ['no advertise']}",
		"community leading zeros":   "{communities: ['064512:00100']}",
		"community six digits":      "{communities: ['100000:1']}",
		"65 communities":            "{communities: [" + communities(65) + "]}",
		"64 communities":            "{communities: [" + communities(64) + "]}",
		"unknown field":             "{community: ['64512:1']}",
		"aggregationLength string":  "{aggregationLength: '24'}",
		"aggregationLength float":   "{aggregationLength: 24.5}",
		"communities of wrong type": "{communities: [64512]}",
	} {
		add("BGPAdvertisement "+name, cr(config.KindBGPAdvertisement, spec))
	}

	// BGPPeer.
	peer := func(more string) string {
		s := "myASN: 64500, peerASN: 64501, peerAddress: 10.0.0.1"
		if more != "" {
			s += ", " + more
		}
		return "{" + s + "}"
	}
	for name, spec := range map[string]string{
		"valid":                        peer(""),
		"IPv6":                         "{myASN: 64500, peerASN: 64501, peerAddress: 'fd00::1'}",
		"address with a space":         "{myASN: 64500, peerASN: 64501, peerAddress: ' 10.0.0.1'}",
		"address with a trailing tab":  "{myASN: 64500, peerASN: 64501, peerAddress: \"10.0.0.1\\t\"}",
		"address with a zone":          "{myASN: 64500, peerASN: 64501, peerAddress: 'fe80::1%eth0'}",
		"address 10.0.0.256":           "{myASN: 64500, peerASN: 64501, peerAddress: 10.0.0.256}",
		"address empty":                "{myASN: 64500, peerASN: 64501, peerAddress: ''}",
		"IPv4-mapped address":          "{myASN: 64500, peerASN: 64501, peerAddress: '::ffff:10.0.0.1'}",
		"no address":                   "{myASN: 64500, peerASN: 64501}",
		"interface":                    "{myASN: 64500, peerASN: 64501, interface: eth0}",
		"address and interface":        peer("interface: eth0"),
		"dynamicASN":                   "{myASN: 64500, dynamicASN: external, peerAddress: 10.0.0.1}",
		"dynamicASN internal":          "{myASN: 64500, dynamicASN: internal, peerAddress: 10.0.0.1}",
		"dynamicASN bogus":             "{myASN: 64500, dynamicASN: any, peerAddress: 10.0.0.1}",
		"dynamicASN and peerASN":       peer("dynamicASN: external"),
		"no peer ASN":                  "{myASN: 64500, peerAddress: 10.0.0.1}",
		"myASN 0":                      "{myASN: 0, peerASN: 64501, peerAddress: 10.0.0.1}",
		"myASN missing":                "{peerASN: 64501, peerAddress: 10.0.0.1}",
		"myASN 4294967295":             "{myASN: 4294967295, peerASN: 64501, peerAddress: 10.0.0.1}",
		"myASN 4294967296":             "{myASN: 4294967296, peerASN: 64501, peerAddress: 10.0.0.1}",
		"myASN string":                 "{myASN: '64500', peerASN: 64501, peerAddress: 10.0.0.1}",
		"same ASNs":                    "{myASN: 64500, peerASN: 64500, peerAddress: 10.0.0.1}",
		"port 0":                       peer("peerPort: 0"),
		"port 65535":                   peer("peerPort: 65535"),
		"port 65536":                   peer("peerPort: 65536"),
		"holdTime 1s":                  peer("holdTime: 1s"),
		"holdTime 0s":                  peer("holdTime: 0s"),
		"holdTime 3s":                  peer("holdTime: 3s"),
		"holdTime 90":                  peer("holdTime: '90'"),
		"holdTime 1.5s":                peer("holdTime: 4.5s"),
		"holdTime 65536s":              peer("holdTime: 65536s"),
		"holdTime 1m30s":               peer("holdTime: 1m30s"),
		"holdTime -3s":                 peer("holdTime: -3s"),
		"keepalive over hold":          peer("holdTime: 90s, keepaliveTime: 100s"),
		"keepalive with hold 0":        peer("holdTime: 0s, keepaliveTime: 100s"),
		"keepalive over default hold":  peer("keepaliveTime: 100s"),
		"keepalive 0.5s":               peer("keepaliveTime: 0.5s"),
		"keepalive 0s":                 peer("keepaliveTime: 0s"),
		"connectTime 0s":               peer("connectTime: 0s"),
		"connectTime 1s":               peer("connectTime: 1s"),
		"routerID IPv6":                peer("routerID: 'fd00::1'"),
		"routerID with a space":        peer("routerID: ' 10.0.0.1'"),
		"routerID":                     peer("routerID: 10.0.0.1"),
		"sourceAddress IPv6":           peer("sourceAddress: 'fd00::2'"),
		"sourceAddress with a space":   peer("sourceAddress: '10.0.0.2 '"),
		"sourceAddress":                peer("sourceAddress: 10.0.0.2"),
		"password of 80":               peer("password: " + long(80)),
		"password of 81":               peer("password: " + long(81)),
		"password and secret":          peer("password: a, passwordSecret: {name: s}"),
		"password secret missing":      peer("passwordSecret: {name: s}"),
		"password secret elsewhere":    peer("passwordSecret: {name: s, namespace: other}"),
		"password secret without name": peer("passwordSecret: {namespace: other}"),
		"bfdProfile missing":           peer("bfdProfile: fast"),
		"vrf of 16":                    peer("vrf: " + long(16)),
		"vrf":                          peer("vrf: red"),
		"node selector bad":            peer("nodeSelectors: [{matchExpressions: [{key: a, operator: Exists, values: [b]}]}]"),
		"ebgpMultiHop string":          peer("ebgpMultiHop: 'true'"),
		"unknown field":                peer("holdtime: 90s"),
		"graceful restart":             peer("enableGracefulRestart: true"),
		"disableMP":                    peer("disableMP: true"),
	} {
		add("BGPPeer "+name, cr(config.KindBGPPeer, spec))
	}

	// BFDProfile.
	for name, spec := range map[string]string{
		"empty":                  "{}",
		"receiveInterval 9":      "{receiveInterval: 9}",
		"receiveInterval 10":     "{receiveInterval: 10}",
		"receiveInterval 60000":  "{receiveInterval: 60000}",
		"receiveInterval 60001":  "{receiveInterval: 60001}",
		"transmitInterval 9":     "{transmitInterval: 9}",
		"detectMultiplier 1":     "{detectMultiplier: 1}",
		"detectMultiplier 255":   "{detectMultiplier: 255}",
		"detectMultiplier 256":   "{detectMultiplier: 256}",
		"echoInterval 9":         "{echoInterval: 9}",
		"echoMode":               "{echoMode: true}",
		"echoMode string":        "{echoMode: 'true'}",
		"passiveMode":            "{passiveMode: true}",
		"minimumTtl 0":           "{minimumTtl: 0}",
		"minimumTtl 254":         "{minimumTtl: 254}",
		"minimumTtl 255":         "{minimumTtl: 255}",
		"unknown field":          "{minimumTTL: 2}",
		"negative interval":      "{receiveInterval: -1}",
		"interval of 4294967296": "{receiveInterval: 4294967296}",
	} {
		add("BFDProfile "+name, cr(config.KindBFDProfile, spec))
	}

	// Community.
	for name, spec := range map[string]string{
		"empty":                   "{}",
		"aliases":                 "{communities: [{name: a, value: '64512:1'}, {name: b, value: 'large:1:2:3'}]}",
		"name repeated":           "{communities: [{name: a, value: '64512:1'}, {name: a, value: '64512:2'}]}",
		"entry repeated":          "{communities: [{name: a, value: '64512:1'}, {name: a, value: '64512:1'}]}",
		"value repeated":          "{communities: [{name: a, value: '64512:1'}, {name: b, value: '64512:1'}]}",
		"name with a colon":       "{communities: [{name: 'a:b', value: '64512:1'}]}",
		"name with a space":       "{communities: [{name: 'a b', value: '64512:1'}]}",
		"name with leading space": "{communities: [{name: ' a', value: '64512:1'}]}",
		"name empty":              "{communities: [{name: '', value: '64512:1'}]}",
		"name missing":            "{communities: [{value: '64512:1'}]}",
		"value missing":           "{communities: [{name: a}]}",
		"value three parts":       "{communities: [{name: a, value: '1:2:3'}]}",
		"value 65536":             "{communities: [{name: a, value: '65536:1'}]}",
		"value with a space":      "{communities: [{name: a, value: ' 64512:1'}]}",
		"value trailing space":    "{communities: [{name: a, value: '64512:1 '}]}",
		"value an alias":          "{communities: [{name: a, value: no-advertise}]}",
		"large too big":           "{communities: [{name: a, value: 'large:1:4294967296:1'}]}",
		"unknown item field":      "{communities: [{name: a, value: '64512:1', comment: x}]}",
		"name of 64":              "{communities: [{name: " + long(64) + ", value: '64512:1'}]}",
		"257 aliases":             "{communities: [" + aliases(257) + "]}",
		"entry not a mapping":     "{communities: ['64512:1']}",
	} {
		add("Community "+name, cr(config.KindCommunity, spec))
	}
	slices.SortFunc(out, func(a, b crCandidate) int { return strings.Compare(a.name, b.name) })
	return out
}

func communities(n int) string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("'64512:%d'", i))
	}
	return strings.Join(s, ", ")
}

func aliases(n int) string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("{name: a%d, value: '64512:%d'}", i, i))
	}
	return strings.Join(s, ", ")
}

// legacyVariants generates legacy configurations whose conversion could
// print what the API server refuses.
func legacyVariants() []legacyCandidate {
	var out []legacyCandidate
	add := func(name, text string) { out = append(out, legacyCandidate{name: "variant " + name, text: text}) }
	bgpPool := func(ad string) string {
		return "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements: [" + ad + "]\n"
	}
	add("community repeated", bgpPool("{communities: ['64512:1', '64512:1']}"))
	add("alias repeated", bgpPool("{communities: [x, x]}")+"bgp-communities: {x: '64512:2'}\n")
	add("alias and its value", bgpPool("{communities: [x, '64512:2']}")+"bgp-communities: {x: '64512:2'}\n")
	add("community with a space", bgpPool("{communities: [' 64512:1']}"))
	add("alias with a colon", "bgp-communities: {'a:b': '64512:1'}\n")
	add("alias with a space", "bgp-communities: {'a b': '64512:1'}\n")
	add("alias value with a space", "bgp-communities: {a: ' 64512:1'}\n")
	add("aggregation 33", bgpPool("{aggregation-length: 33}"))
	add("aggregation -1", bgpPool("{aggregation-length: -1}"))
	add("localpref", bgpPool("{localpref: 4294967295}"))
	add("65 communities", bgpPool("{communities: ["+communities(65)+"]}"))
	add("two equal advertisements", bgpPool("{localpref: 1}, {localpref: 1}"))
	layer2 := func(addrs string) string {
		return "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [" + addrs + "]\n"
	}
	add("address with spaces", layer2("' 10.0.0.0/24 '"))
	add("range with spaces", layer2("' 10.0.0.1 - 10.0.0.9 '"))
	add("address with host bits", layer2("10.0.0.5/24"))
	add("address repeated", layer2("10.0.0.0/24, 10.0.0.0/24"))
	add("address repeated after canonicalisation", layer2("10.0.0.0/24, 10.0.0.5/24"))
	add("address of 101 bytes", layer2(strconv.Quote("10.0.0.0/8"+strings.Repeat(" ", 91))))
	var many []string
	for i := range 257 {
		many = append(many, fmt.Sprintf("10.1.%d.%d/32", i/256, i%256))
	}
	add("257 addresses", layer2(strings.Join(many, ", ")))
	add("pool name of 254", "address-pools:\n- name: "+strings.Repeat("a", 254)+"\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n")
	add("pool name with upper case", "address-pools:\n- name: Pool\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n")
	peer := func(more string) string {
		return "peers:\n- {peer-address: 10.0.0.1, my-asn: 64500, peer-asn: 64501" + more + "}\n"
	}
	add("peer address with spaces", "peers:\n- {peer-address: ' 10.0.0.1 ', my-asn: 64500, peer-asn: 64501}\n")
	add("peer source and router ID with spaces", peer(", source-address: ' 10.0.0.2', router-id: '10.0.0.3 '"))
	add("peer router ID IPv6", peer(", router-id: 'fd00::1'"))
	add("peer password of 81", peer(", password: "+strings.Repeat("p", 81)))
	add("peer hold time 1s", peer(", hold-time: 1s"))
	add("peer hold time 4.5s", peer(", hold-time: 4.5s"))
	add("peer keepalive over hold", peer(", hold-time: 30s, keepalive-time: 60s"))
	add("peer port 0", peer(", peer-port: 0"))
	add("peer ASN 0", "peers:\n- {peer-address: 10.0.0.1, my-asn: 0, peer-asn: 64501}\n")
	add("peer selector", peer(", node-selectors: [{match-labels: {a: b}, match-expressions: [{key: c, operator: in, values: [d, d]}]}]"))
	add("peer selector bad label", peer(", node-selectors: [{match-labels: {'a b': c}}]"))
	add("two peers for one address", peer("")+"- {peer-address: 10.0.0.1, my-asn: 64500, peer-asn: 64502, peer-port: 1179}\n")
	bfd := func(more string) string { return "bfd-profiles:\n- {name: f" + more + "}\n" }
	add("bfd receive 9", bfd(", receive-interval: 9"))
	add("bfd multiplier 256", bfd(", detect-multiplier: 256"))
	add("bfd ttl 255", bfd(", minimum-ttl: 255"))
	add("bfd echo", bfd(", echo-mode: true, echo-interval: 10"))
	// The seeds FuzzParseLegacy adds besides the testdata files.
	add("fuzz seed 1", "address-pools: [{name: a, protocol: layer2, addresses: ['10.0.0.0/24']}]\npeers: [{peer-address: 'fd00::1', my-asn: 1, peer-asn: 2, hold-time: 3s}]\n")
	add("fuzz seed 2", "bgp-communities: {a: '1:2'}\nbfd-profiles: [{name: x, echo-mode: true}]\n")
	slices.SortFunc(out, func(a, b legacyCandidate) int { return strings.Compare(a.name, b.name) })
	return out
}

// readCorpusEntry reads a `go test fuzz v1` file: one Go literal per line,
// such as []byte("...") or string("...").
func readCorpusEntry(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) == 0 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a fuzz corpus entry", file)
	}
	var values []string
	for _, l := range lines[1:] {
		from, to := strings.IndexByte(l, '('), strings.LastIndexByte(l, ')')
		if from < 0 || to < from {
			t.Fatalf("%s: cannot read %q", file, l)
		}
		v, err := strconv.Unquote(l[from+1 : to])
		if err != nil {
			t.Fatalf("%s: cannot read %q: %v", file, l, err)
		}
		values = append(values, v)
	}
	return values
}

// decodeDoc decodes YAML or JSON as the API server would receive it.
func decodeDoc(doc string) (map[string]any, error) {
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := utiljson.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func texts(list []config.FieldError) string {
	if len(list) == 0 {
		return "accepted"
	}
	var out []string
	for _, p := range list {
		out = append(out, p.Error())
	}
	return strings.Join(out, "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func TestReadCorpusEntry(t *testing.T) {
	f := filepath.Join(t.TempDir(), "entry")
	if err := os.WriteFile(f, []byte("go test fuzz v1\n[]byte(\"peers: []\\n\")\nstring(\"10.0.0.0/24\")\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readCorpusEntry(t, f); !slices.Equal(got, []string{"peers: []\n", "10.0.0.0/24"}) {
		t.Errorf("readCorpusEntry = %q", got)
	}
}
