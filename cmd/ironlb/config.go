package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/config"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate and convert ironlb configuration offline",
		Long: "Validate ironlb configuration files, or convert a MetalLB-style legacy ConfigMap into ironlb CRs.\n" +
			"Both work on files alone; no cluster is needed.",
	}
	cmd.AddCommand(newConfigValidateCommand(), newConfigConvertCommand())
	return cmd
}

func newConfigValidateCommand() *cobra.Command {
	var files []string
	var output, namespace string
	cmd := &cobra.Command{
		Use:   "validate -f FILE [-f FILE...]",
		Short: "Check configuration files: CRs, Secrets and the legacy ConfigMap, together",
		Long: "Validate any mix of ironlb.io/v1beta1 CRs (MetalLB's metallb.io/v1beta1 and v1beta2 apiVersions of the\n" +
			"same kinds are read too, as ironlb.io/v1beta1), Secrets, Lists, the legacy configuration (a ConfigMap\n" +
			"with data.config or a bare document with address-pools, peers, ...), and a Helm values file of the chart\n" +
			"(configInline, ipAddressPools, l2Advertisements, read as the chart renders them). - reads standard\n" +
			"input. Two stages, as in a cluster:\n" +
			"\n" +
			"  1. Each CR is judged as the API server judges it on kubectl apply, by the API server's own validation\n" +
			"     code run on the CRDs built into this binary: unknown fields (strict), metadata, the OpenAPI schema,\n" +
			"     repeated entries in set and map lists, and the CEL rules. A CR refused here is reported and left\n" +
			"     out, as it could not exist in a cluster.\n" +
			"  2. The CRs that pass, the Secrets and the legacy ConfigMap go through every rule of ironlb's controller\n" +
			"     (and of its optional webhook): overlaps, references, duplicates across objects, and what CEL\n" +
			"     cannot check.\n" +
			"\n" +
			"Only the files are read: objects that are not in them count as missing (a Secret or a Community kept\n" +
			"elsewhere is reported as missing), and an overlap with a pool already in a cluster is not seen. The\n" +
			"legacy ConfigMap is just a ConfigMap to the API server: its entries get stage 2 only, as in the\n" +
			"controller (config convert runs stage 1 on the CRs it prints).\n" +
			"Prints each pool with its address counts, then every problem. Exits 1 when there is any problem.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			m, err := readManifests(cmd, files, namespace)
			if err != nil {
				return err
			}
			res, problems := m.Check()
			for _, s := range m.Skipped {
				cmd.PrintErrf("note: skipped %s: not ironlb configuration\n", s)
			}
			rep := report(res.Snapshot, problems)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := printReport(cmd.OutOrStdout(), rep, problems); err != nil {
				return err
			}
			if len(problems) > 0 {
				return exitCodeError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file to read (repeatable; - reads standard input)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&namespace, "namespace", config.DefaultNamespace, "namespace ironlb runs in: where Secrets named without a namespace are looked up")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func newConfigConvertCommand() *cobra.Command {
	var files []string
	var namespace string
	cmd := &cobra.Command{
		Use:   "convert -f legacy.yaml [--namespace ironlb-system]",
		Short: "Convert the legacy ConfigMap configuration into the equivalent ironlb CRs",
		Long: "Read a legacy configuration (a ConfigMap with data.config, or the bare document) and print the\n" +
			"equivalent ironlb.io/v1beta1 CRs as multi-document YAML. The configuration must be valid, and each\n" +
			"CR must pass the API server's validation (checked offline, as config validate does): otherwise the\n" +
			"problems are printed instead, naming the legacy entry and key, and the command exits 1.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := readManifests(cmd, files, namespace)
			if err != nil {
				return err
			}
			problems := m.Problems
			if m.Input.Legacy == nil && len(problems) == 0 {
				return fmt.Errorf("%v: no legacy configuration found (a ConfigMap with data.config, or a document with address-pools, peers, bgp-communities or bfd-profiles)", files)
			}
			var objs config.Objects
			if len(problems) == 0 {
				objs, problems = config.Convert(*m.Input.Legacy, namespace)
			}
			if len(problems) > 0 {
				for _, p := range problems {
					cmd.PrintErrln(p.Error())
				}
				cmd.PrintErrln("nothing converted: fix the problems above first")
				return exitCodeError{code: 1}
			}
			for _, p := range objs.BGPPeers {
				if p.Spec.Password != "" {
					cmd.PrintErrf("note: BGPPeer %s carries its password in clear text; consider a kubernetes.io/basic-auth Secret and spec.passwordSecret\n", p.Name)
				}
			}
			return writeObjects(cmd.OutOrStdout(), "# Converted from the legacy configuration by `ironlb config convert`.\n", objs)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file holding the legacy configuration (- reads standard input)")
	cmd.Flags().StringVar(&namespace, "namespace", config.DefaultNamespace, "namespace of the CRs written")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func readManifests(cmd *cobra.Command, files []string, namespace string) (*config.Manifests, error) {
	m := &config.Manifests{Input: config.Input{Namespace: namespace}}
	if err := readFiles(cmd, files, m.Add); err != nil {
		return nil, err
	}
	return m, nil
}

// readFiles hands each file of a -f flag to add, in order; "-" is
// standard input.
func readFiles(cmd *cobra.Command, files []string, add func(name string, data []byte)) error {
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(cmd.InOrStdin())
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return err
		}
		add(f, data)
	}
	return nil
}

// validateReport is the JSON output of config validate.
type validateReport struct {
	Pools  []poolReport  `json:"pools"`
	Errors []errorReport `json:"errors"`
}

type poolReport struct {
	Name string   `json:"name"`
	IPv4 *big.Int `json:"ipv4"`
	IPv6 *big.Int `json:"ipv6"`
}

type errorReport struct {
	Object  string `json:"object"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func report(snap *config.Snapshot, problems []config.FieldError) validateReport {
	rep := validateReport{Pools: []poolReport{}, Errors: []errorReport{}}
	for i := range snap.Pools {
		p := &snap.Pools[i]
		rep.Pools = append(rep.Pools, poolReport{Name: p.Name, IPv4: p.IPv4Count(), IPv6: p.IPv6Count()})
	}
	for _, p := range problems {
		obj := p.Kind
		if p.Name != "" {
			obj += "/" + p.Name
		}
		if p.Source != "" && p.Source != config.SourceCR {
			obj += " (" + p.Source + ")"
		}
		msg := p.Message
		if p.Value != "" {
			msg = strconv.Quote(p.Value) + ": " + msg
		}
		if p.Warning {
			msg = "warning: " + msg
		}
		rep.Errors = append(rep.Errors, errorReport{Object: obj, Field: p.Field, Message: msg})
	}
	return rep
}

func printReport(w io.Writer, rep validateReport, problems []config.FieldError) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "POOL\tIPV4\tIPV6") // tw writes to a strings.Builder
	for _, p := range rep.Pools {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.IPv4, p.IPv6)
	}
	_ = tw.Flush() // writes to a strings.Builder, which never fails
	if len(problems) == 0 {
		b.WriteString("\nvalid: no problems found\n")
	} else {
		fmt.Fprintf(&b, "\n%d problem(s):\n", len(problems))
		for _, p := range problems {
			b.WriteString("  " + p.Error() + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeObjects prints a comment line (header) and the objects as
// multi-document YAML, without the empty status and creationTimestamp a
// round trip through Go types adds.
func writeObjects(w io.Writer, header string, objs config.Objects) error {
	all := objs.All()
	var sb strings.Builder
	sb.WriteString(header)
	for _, o := range all {
		m, err := config.Manifest(o)
		if err != nil {
			return err
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			return err
		}
		sb.WriteString("---\n")
		sb.Write(out)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
