package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/doctor"
)

// Exit codes of ironlb doctor.
const (
	doctorExitWarnings = 1
	doctorExitErrors   = 2
	doctorExitFailed   = 3
)

func newDoctorCommand() *cobra.Command {
	var (
		files                       []string
		output, namespace, legacyCM string
		kubeconfig, lbClass         string
	)
	ns := os.Getenv(namespaceEnv)
	if ns == "" {
		ns = config.DefaultNamespace
	}
	cmd := &cobra.Command{
		Use:   "doctor [-f FILE...]",
		Short: "Find what keeps ironlb from working: kube-proxy, subnets, overlaps, other load balancers, sessions, Services",
		Long: "Check a cluster (live, read-only) or files (-f, offline) for the mistakes that keep ironlb from\n" +
			"working and for what ironlb reports: kube-proxy in IPVS mode without strictARP; pools announced in\n" +
			"layer 2 whose addresses lie in no subnet of the nodes that may announce them (from each speaker's\n" +
			"ironlb.io/l2-subnets annotation); pools holding a node's address or overlapping the Pod CIDRs or the\n" +
			"Service CIDR (ServiceCIDR objects); every problem of the configuration (as `config validate`);\n" +
			"another load balancer (MetalLB, kube-vip, Cilium LB-IPAM, klipper-lb, OpenELB) and Services of\n" +
			"another loadBalancerClass; nodes an advertisement selects without a speaker; speakers that do not\n" +
			"see every other speaker over memberlist (from the ironlb.io/members annotation); BGP sessions down\n" +
			"(from the speakers' Events on the Nodes); Services without an address or not announced (from\n" +
			"their ironlb.io/IPAllocated and ironlb.io/Announced conditions). docs/install.md lists every check.\n" +
			"\n" +
			"Live, it reads (and never writes):\n" + doctorRBAC + "\n" +
			"\n" +
			"Offline (-f, repeatable, - for standard input), it reads the configuration exactly as\n" +
			"`ironlb config validate` does (CRs, Secrets, the legacy ConfigMap, Helm values, Lists) and, when\n" +
			"the files hold them, dumps of Nodes (kubectl get nodes -o yaml), the ConfigMap kube-system/kube-proxy,\n" +
			"ServiceCIDRs, Services, Deployments, DaemonSets, Pods, CRDs and Events (single objects, multi-document\n" +
			"YAML or v1 Lists); checks whose objects are missing are listed as not checked.\n" +
			"\n" +
			"Each finding has a severity, the check that found it, the object, what is wrong and how to fix it.\n" +
			"Exit code: 0 no finding or only info, 1 warnings (no error), 2 errors, 3 the doctor could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			var (
				in    *doctor.Input
				notes []string
			)
			if len(files) > 0 {
				var err error
				in, notes, err = readDoctorFiles(cmd, files, namespace)
				if err != nil {
					cmd.PrintErrln("Error:", err)
					return exitCodeError{code: doctorExitFailed}
				}
				in.Now = time.Now()
			} else {
				cfg, err := controller.LoadConfig(kubeconfig)
				if err == nil {
					if legacyCM == "" {
						legacyCM = namespace + "/" + config.DefaultLegacyName
					}
					// On a terminal, a line says what is being read: a big
					// cluster's Pods and Events take a while.
					var progress func(int, int, string)
					finish := func() {}
					if errOut := cmd.ErrOrStderr(); isTerminal(errOut) {
						progress, finish = doctorProgress(errOut)
					}
					in, notes, err = gatherLive(cmd.Context(), cfg, namespace, legacyCM, progress)
					finish()
				}
				if err != nil {
					cmd.PrintErrln("Error:", err)
					return exitCodeError{code: doctorExitFailed}
				}
			}
			in.LoadBalancerClass = lbClass
			rep := doctor.Check(in)
			rep.Notes = append(notes, rep.Notes...)
			if err := writeDoctorReport(cmd.OutOrStdout(), output, &rep); err != nil {
				return err
			}
			switch rep.Worst() {
			case doctor.Error:
				return exitCodeError{code: doctorExitErrors}
			case doctor.Warning:
				return exitCodeError{code: doctorExitWarnings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&files, "filename", "f", nil, "check these files offline instead of a cluster (repeatable; - reads standard input)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.StringVar(&namespace, "namespace", ns, "namespace of ironlb's configuration and Secrets (default from $"+namespaceEnv+")")
	f.StringVar(&legacyCM, "config-map", "", "legacy configuration ConfigMap as namespace/name (default <namespace>/config)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; default: in-cluster configuration, else $KUBECONFIG or ~/.kube/config")
	f.StringVar(&lbClass, "lb-class", "", "the loadBalancerClass ironlb handles (the controller's --lb-class); default: Services without a class")
	return cmd
}

// readDoctorFiles reads the files of an offline run; notes name the
// documents that were neither configuration nor a dump the checks read.
func readDoctorFiles(cmd *cobra.Command, files []string, namespace string) (*doctor.Input, []string, error) {
	fs := doctor.NewFiles(namespace)
	if err := readFiles(cmd, files, fs.Add); err != nil {
		return nil, nil, err
	}
	in, skipped := fs.Input()
	var notes []string
	for _, s := range skipped {
		notes = append(notes, "skipped "+s+": neither configuration nor an object the checks read")
	}
	return in, notes, nil
}

// writeDoctorReport prints the report as JSON, or as text grouped by
// severity.
func writeDoctorReport(w io.Writer, output string, rep *doctor.Report) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	var b strings.Builder
	counts := map[doctor.Severity]int{}
	for _, sev := range []doctor.Severity{doctor.Error, doctor.Warning, doctor.Info} {
		var group []doctor.Finding
		for _, f := range rep.Findings {
			if f.Severity == sev {
				group = append(group, f)
			}
		}
		counts[sev] = len(group)
		if len(group) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s (%d)\n", strings.ToUpper(string(sev)), len(group))
		for _, f := range group {
			fmt.Fprintf(&b, "  [%s] %s\n      %s\n", f.Check, f.Object, f.Message)
			if f.Fix != "" {
				fmt.Fprintf(&b, "      fix: %s\n", f.Fix)
			}
		}
		b.WriteString("\n")
	}
	for _, s := range rep.NotChecked {
		fmt.Fprintf(&b, "not checked: %s\n", s)
	}
	for _, s := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", s)
	}
	if len(rep.NotChecked)+len(rep.Notes) > 0 {
		b.WriteString("\n")
	}
	if len(rep.Findings) == 0 {
		b.WriteString("no problems found\n")
	} else {
		fmt.Fprintf(&b, "%d error(s), %d warning(s), %d info\n", counts[doctor.Error], counts[doctor.Warning], counts[doctor.Info])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
