// Package manifests holds the tests of ironlb's rendered install manifests,
// dist/ironlb.yaml and dist/ironlb-namespace.yaml (hack/render-manifests.sh
// renders them from the kustomize bases in config/), and of the Helm chart
// in charts/ironlb.
//
// The unit tests read the files and check what an operator relies on: the
// pods' security settings, every CRD present, least-privilege RBAC, one
// image. The integration test applies the files to a real API server
// (internal/testenv) and asks it what each ServiceAccount may do.
package manifests
