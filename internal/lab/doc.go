// Package lab runs a bare-metal Kubernetes cluster of real parts on one
// machine, for ironlb's quick start and end-to-end tests: network
// namespaces as hosts (nodes, a client, an FRR router) on a bridge of their
// own, the pinned etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kube-proxy, and a small agent per node standing in for
// the kubelet. Nothing is added to the root namespace's network: the
// control plane listens on the root namespace's loopback and a supervisor
// forwards each host namespace's loopback, and the router's LAN addresses
// (the kubernetes Service's endpoint), to it; the API server reaches into
// the lab through the supervisor's HTTP CONNECT proxy on a Unix socket.
//
// docs/lab.md describes what is real, what stands in, and every command.
package lab
