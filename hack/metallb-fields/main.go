// Command metallb-fields prints the fields of the CRDs named on its command
// line, one "Kind path" line each, sorted by kind then path, with a first
// line naming the group and version of each kind. hack/metallb-fields.sh
// runs it on MetalLB's CRDs to refresh
// internal/crdfields/testdata/metallb-v0.16.2.txt.
package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"

	"github.com/ironlb/ironlb/internal/crdfields"
)

func main() {
	var kinds []crdfields.Kind
	for _, f := range os.Args[1:] {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		k, err := crdfields.Read(data)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(1)
		}
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b crdfields.Kind) int { return cmp.Compare(a.Kind, b.Kind) })
	for _, k := range kinds {
		fmt.Printf("# %s %s/%s\n", k.Kind, k.Group, k.Version)
		for _, f := range k.Fields {
			fmt.Printf("%s %s\n", k.Kind, f)
		}
	}
}
