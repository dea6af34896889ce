package doctor

import (
	"cmp"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/ironlb/ironlb/internal/config"
)

// Severity ranks a Finding.
type Severity string

// Severities, from the worst.
const (
	// Error: something does not work, or will not when it is used.
	Error Severity = "error"
	// Warning: something works partly, or may stop working.
	Warning Severity = "warning"
	// Info: worth knowing; nothing is wrong by itself.
	Info Severity = "info"
)

func (s Severity) rank() int { return slices.Index([]Severity{Error, Warning, Info}, s) }

// Object names the object a Finding is about; Namespace is empty for
// cluster-scoped objects.
type Object struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// String is kind/name or kind/namespace/name.
func (o Object) String() string {
	s := o.Kind
	if o.Namespace != "" {
		s += "/" + o.Namespace
	}
	if o.Name != "" {
		s += "/" + o.Name
	}
	return s
}

// Finding is one problem or observation.
type Finding struct {
	Severity Severity `json:"severity"`
	// Check is the stable id of the check that found it, such as
	// "kube-proxy-strict-arp" (see Checks).
	Check  string `json:"check"`
	Object Object `json:"object"`
	// Message says what is wrong; Fix how to fix it (empty for Info
	// findings that need nothing).
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Part is a kind of input a check needs.
type Part string

// The parts of an Input. Config is always there (possibly empty).
const (
	PartNodes        Part = "Nodes"
	PartKubeProxy    Part = "the kube-proxy ConfigMap"
	PartServiceCIDRs Part = "ServiceCIDRs"
	PartServices     Part = "Services"
	PartWorkloads    Part = "Deployments and DaemonSets"
	PartPods         Part = "Pods"
	PartCRDs         Part = "CustomResourceDefinitions"
	PartEvents       Part = "Events"
)

// CRD is what the checks need of a CustomResourceDefinition.
type CRD struct {
	// Name is the CRD's name, plural.group.
	Name  string
	Group string
	// Objects is how many objects of it exist; -1 when not counted.
	Objects int
}

// Input is everything the checks read. Check never modifies it.
type Input struct {
	// Config is config.Build's input: the configuration objects.
	Config config.Input
	// ConfigProblems are problems found while reading the configuration,
	// before Build (documents that do not parse, CRs the API server would
	// refuse); they are reported with Build's.
	ConfigProblems []config.FieldError
	// Gathered says which parts were gathered. A check that needs a part
	// that was not gathered does not run. Live, every part is gathered
	// (an empty list is a fact); from files, the parts the files hold.
	Gathered map[Part]bool
	Nodes    []corev1.Node
	// KubeProxy is the ConfigMap kube-system/kube-proxy; nil when it does
	// not exist.
	KubeProxy    *corev1.ConfigMap
	ServiceCIDRs []networkingv1.ServiceCIDR
	// Services are the Services of every namespace.
	Services    []corev1.Service
	Deployments []appsv1.Deployment
	DaemonSets  []appsv1.DaemonSet
	// Pods are at least ironlb's speaker Pods (labelled as SpeakerLabels)
	// and the Pods of kube-system (static Pods of other load balancers).
	Pods []corev1.Pod
	CRDs []CRD
	// Events are the recent Events on Nodes (BGP sessions).
	Events []corev1.Event
	// LoadBalancerClass is the class ironlb handles (the controller's
	// --lb-class); empty means Services without a class.
	LoadBalancerClass string
	// Now is the time the Events are judged at.
	Now time.Time
}

// Has reports whether part was gathered.
func (in *Input) Has(p Part) bool { return in.Gathered[p] }

// Report is the result of Check.
type Report struct {
	// Findings are sorted by severity (errors first), then check, then
	// object.
	Findings []Finding `json:"findings"`
	// NotChecked names the checks that did not run and the parts they
	// lacked.
	NotChecked []string `json:"notChecked"`
	// Notes say which evidence some checks used.
	Notes []string `json:"notes"`
}

// Worst returns the worst severity of the findings; empty when none.
func (r *Report) Worst() Severity {
	var w Severity
	for _, f := range r.Findings {
		if w == "" || f.Severity.rank() < w.rank() {
			w = f.Severity
		}
	}
	return w
}

// check is one check: its id(s), the parts it needs and its function.
type check struct {
	name  string
	needs []Part
	run   func(c *checker)
}

// checker carries one Check call: the input, the built configuration and
// what is found.
type checker struct {
	in    *Input
	res   config.Result
	out   []Finding
	notes []string
}

func (c *checker) add(sev Severity, id string, obj Object, msg, fix string) {
	c.out = append(c.out, Finding{Severity: sev, Check: id, Object: obj, Message: msg, Fix: fix})
}

// checks are every check, in the order they run.
var checks = []check{
	{"config", nil, checkConfig},
	{"kube-proxy", []Part{PartKubeProxy}, checkKubeProxy},
	{"l2-subnets", []Part{PartNodes}, checkL2Subnets},
	{"pool-overlaps", []Part{PartNodes}, checkPoolOverlaps},
	{"service-cidr", []Part{PartServiceCIDRs}, checkServiceCIDR},
	{"other-load-balancer", []Part{PartWorkloads}, checkOtherLBWorkloads},
	{"other-load-balancer-crds", []Part{PartCRDs}, checkOtherLBCRDs},
	{"other-load-balancer-pods", []Part{PartPods}, checkOtherLBPods},
	{"services", []Part{PartServices}, checkServices},
	{"speakers", []Part{PartNodes, PartPods}, checkSpeakers},
	{"members", []Part{PartNodes}, checkMembers},
	{"bgp-sessions", []Part{PartNodes, PartEvents}, checkBGPSessions},
}

// Check runs every check whose parts were gathered.
func Check(in *Input) Report {
	c := &checker{in: in, res: config.Build(in.Config)}
	var rep Report
	for _, ch := range checks {
		var missing []string
		for _, p := range ch.needs {
			if !in.Has(p) {
				missing = append(missing, string(p))
			}
		}
		if len(missing) > 0 {
			rep.NotChecked = append(rep.NotChecked, ch.name+" (needs "+joinAnd(missing)+")")
			continue
		}
		ch.run(c)
	}
	slices.SortStableFunc(c.out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Severity.rank(), b.Severity.rank()), cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Object.String(), b.Object.String()), cmp.Compare(a.Message, b.Message))
	})
	rep.Findings = slices.CompactFunc(c.out, func(a, b Finding) bool { return a == b })
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	rep.Notes = c.notes
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	if rep.NotChecked == nil {
		rep.NotChecked = []string{}
	}
	return rep
}

// joinAnd joins words as "a, b and c".
func joinAnd(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return joinComma(words[:len(words)-1]) + " and " + words[len(words)-1]
}

func joinComma(words []string) string {
	s := ""
	for i, w := range words {
		if i > 0 {
			s += ", "
		}
		s += w
	}
	return s
}
