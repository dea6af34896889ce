package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/config/crd"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/migrate"
)

func newMigrateCommand() *cobra.Command {
	var (
		kubeconfig, from, to, output string
		diff, apply, allowChanges    bool
	)
	cmd := &cobra.Command{
		Use:   "migrate [--diff | --apply]",
		Short: "Move a running MetalLB's configuration to ironlb, keeping every Service's address",
		Long: "Read a running MetalLB — its legacy ConfigMap (v0.10-v0.12) or its metallb.io CRs (v0.13-v0.16), the\n" +
			"Secrets its BGPPeers name, and every LoadBalancer Service — and turn it into ironlb objects in --namespace,\n" +
			"judged as `ironlb config validate` judges files. Prints the objects (YAML; Secrets are copied on --apply\n" +
			"but never printed) and, on standard error, the switch-over plan: which Service keeps which address, and the\n" +
			"steps. --diff compares the objects with what the cluster holds; --apply creates the namespace and any\n" +
			"missing ironlb CRD, then server-side applies the objects (field manager ironlb-migrate). Nothing is applied\n" +
			"when ironlb would refuse an object, or when a Service would lose an address (unless\n" +
			"--allow-address-changes). MetalLB itself is not touched: the plan says when to remove it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "yaml" && output != "json" {
				return fmt.Errorf("--output %q: want yaml or json", output)
			}
			if diff && apply {
				return fmt.Errorf("--diff and --apply: pick one")
			}
			cfg, err := controller.LoadConfig(kubeconfig)
			if err != nil {
				return err
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			src, err := migrate.Read(ctx, cs, dyn, from)
			if err != nil {
				return err
			}
			if src.ConfigMap == nil && len(src.CRs) == 0 {
				return fmt.Errorf("no MetalLB configuration in namespace %s: neither the ConfigMap %s nor metallb.io CRs (--from-namespace names another)", from, migrate.LegacyConfigMap)
			}
			plan := migrate.Convert(src, to)
			manifests, err := plan.Manifests()
			if err != nil {
				return err
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			switch {
			case diff:
				changes, err := migrate.Diff(ctx, dyn, manifests)
				if err != nil {
					return err
				}
				writeChanges(out, changes)
			case apply:
				writePlan(out, plan)
				if len(plan.Problems) > 0 {
					return exitCodeError{code: 1}
				}
				if !plan.KeepsAll() && !allowChanges {
					_, _ = fmt.Fprintln(out, "\nnothing applied: a Service would lose an address (see above); fix the configuration or pass --allow-address-changes")
					return exitCodeError{code: 1}
				}
				crds, err := embeddedCRDs()
				if err != nil {
					return err
				}
				made, err := migrate.EnsureNamespaceAndCRDs(ctx, cs, dyn, to, crds)
				for _, m := range made {
					_, _ = fmt.Fprintf(out, "created %s\n", m)
				}
				if err != nil {
					return err
				}
				return migrate.Apply(ctx, dyn, manifests, func(i int, u *unstructured.Unstructured) {
					_, _ = fmt.Fprintf(out, "[%d/%d] applied %s %s/%s\n", i+1, len(manifests), u.GetKind(), u.GetNamespace(), u.GetName())
				})
			default:
				if err := writeMigrated(out, output, plan); err != nil {
					return err
				}
				writePlan(errOut, plan)
			}
			if len(plan.Problems) > 0 {
				return exitCodeError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; default: $KUBECONFIG or ~/.kube/config, else in-cluster")
	f.StringVar(&from, "from-namespace", migrate.DefaultSourceNamespace, "MetalLB's namespace")
	f.StringVar(&to, "namespace", config.DefaultNamespace, "ironlb's namespace: where the objects go")
	f.StringVarP(&output, "output", "o", "yaml", "format of the printed objects and plan: yaml (plan as text on standard error) or json (one document)")
	f.BoolVar(&diff, "diff", false, "show what --apply would create or change, object by object")
	f.BoolVar(&apply, "apply", false, "create the namespace and missing ironlb CRDs, then server-side apply the objects")
	f.BoolVar(&allowChanges, "allow-address-changes", false, "with --apply: apply even when a Service would lose an address")
	return cmd
}

// embeddedCRDs are this binary's ironlb CRDs (config/crd).
func embeddedCRDs() ([]*unstructured.Unstructured, error) {
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		b, err := crd.Bases.ReadFile(f)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", f, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// writeMigrated prints the plan's CRs: YAML documents, or with json one
// document holding the objects, the Secrets' names and the plan.
func writeMigrated(w io.Writer, output string, plan *migrate.Plan) error {
	if output == "json" {
		objs := []map[string]any{}
		for _, o := range plan.Objects.All() {
			m, err := config.Manifest(o)
			if err != nil {
				return err
			}
			objs = append(objs, m)
		}
		secrets := []string{}
		for _, s := range plan.Secrets {
			secrets = append(secrets, s.Namespace+"/"+s.Name)
		}
		problems := []string{}
		for _, p := range plan.Problems {
			problems = append(problems, p.Error())
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"from": plan.From, "to": plan.To, "objects": objs, "secrets": secrets,
			"services": plan.Services, "problems": problems, "notes": plan.Notes,
			"keepsEveryAddress": plan.KeepsAll(), "metallbWorkloads": plan.Workloads,
		})
	}
	return writeObjects(w, fmt.Sprintf("# Converted from MetalLB in %s by `ironlb migrate`.\n", plan.From), plan.Objects)
}

// writePlan prints the switch-over plan: problems, notes, what each
// Service keeps, and the steps.
func writePlan(w io.Writer, plan *migrate.Plan) {
	p := func(format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) }
	p("Switch-over plan: MetalLB in %s -> ironlb in %s\n", plan.From, plan.To)
	for _, pr := range plan.Problems {
		p("  PROBLEM: %s\n", pr.Error())
	}
	if len(plan.Problems) > 0 {
		p("  ironlb would refuse the objects above: fix them in MetalLB's configuration (or by hand) first.\n")
	}
	for _, n := range plan.Notes {
		p("  note: %s\n", n)
	}
	var kinds []string
	for _, o := range plan.Objects.All() {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind+" "+o.GetName())
	}
	p("  objects (%d): %s\n", len(kinds), strings.Join(kinds, ", "))
	if len(plan.Secrets) > 0 {
		var names []string
		for _, s := range plan.Secrets {
			names = append(names, s.Name)
		}
		p("  Secrets copied to %s on --apply: %s\n", plan.To, strings.Join(names, ", "))
	}
	keeps := "every one keeps them"
	if !plan.KeepsAll() {
		keeps = "NOT every one keeps them"
	}
	p("  Services with addresses: %d, %s\n", len(plan.Services), keeps)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range plan.Services {
		verdict := "keeps"
		if !s.Keeps {
			verdict = "CHANGES: " + s.Why
		}
		_, _ = fmt.Fprintf(tw, "    %s/%s\t%s\tpool %s\t%s\n", s.Namespace, s.Name, strings.Join(s.Addresses, " "),
			strings.Join(uniq(s.Pools), ","), verdict)
	}
	_ = tw.Flush()
	workloads := "its controller Deployment and speaker DaemonSet"
	if len(plan.Workloads) > 0 {
		workloads = "kubectl -n " + plan.From + " delete " + strings.Join(plan.Workloads, " ")
	}
	p("  steps:\n")
	p("    1. ironlb migrate --apply: the namespace, ironlb's CRDs if missing, the objects. ironlb does not run yet, so\n")
	p("       traffic does not notice.\n")
	p("    2. remove MetalLB's processes, keeping its CRs until the end: %s\n", workloads)
	p("       The addresses stay in the Services' status; they go unanswered until step 3's speakers announce them.\n")
	p("    3. install ironlb (dist/ironlb-namespace.yaml and dist/ironlb.yaml, or the Helm chart without configInline):\n")
	p("       its controller keeps the addresses above, its speakers announce them (gratuitous ARP / unsolicited NA,\n")
	p("       BGP updates).\n")
	p("    4. check with `ironlb status` and `kubectl get svc -A`, then delete MetalLB's CRs, CRDs and namespace.\n")
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if v == "" {
			v = "-"
		}
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// writeChanges prints --diff: one line per object, then each update's
// difference.
func writeChanges(w io.Writer, changes []migrate.Change) {
	for _, c := range changes {
		_, _ = fmt.Fprintf(w, "%-9s %s %s/%s\n", c.Action, c.Kind, c.Namespace, c.Name)
		if c.Diff != "" {
			for _, l := range strings.Split(strings.TrimRight(c.Diff, "\n"), "\n") {
				_, _ = fmt.Fprintf(w, "          %s\n", l)
			}
		}
	}
}
