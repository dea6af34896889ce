// Package testenv starts a real Kubernetes control plane (etcd and
// kube-apiserver, through controller-runtime's envtest) for integration tests,
// with ironlb's CRDs from config/crd/bases installed.
//
// The binaries are the pinned ones hack/build-k8s.sh builds into
// ${IRONLB_CACHE:-$HOME/.cache/ironlb}/k8s-<version>/ (the version comes from
// hack/k8s/versions.env); KUBEBUILDER_ASSETS, when set, names another
// directory holding kube-apiserver, etcd and kubectl.
//
// There is no build tag: integration tests run with every `go test`. When a
// binary is missing, a test that asks for a control plane is skipped with a
// message naming the missing file and the command that builds it — except
// when CI=true, where the same message fails the test, so a CI run can never
// pass by skipping them. `go test -short` skips them everywhere.
//
// Two ways to get a control plane:
//
//   - Start(t) starts one for a single test and stops it when the test ends
//     (about 3.5 s to start, 1 s to stop on a 2-core machine).
//   - Shared(t) returns one control plane shared by every test of the package;
//     it starts on first use and is stopped by Main, which the package's
//     TestMain must call. Tests sharing it must not assume an empty cluster:
//     each should work in its own namespace (see Env.NewNamespace).
package testenv
