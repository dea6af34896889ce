/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

// Package v1beta1 holds the ironlb.io/v1beta1 API: the custom resources an
// operator writes to configure ironlb (IPAddressPool, L2Advertisement,
// BGPAdvertisement, BGPPeer, BFDProfile, Community) and the status kinds the
// speaker writes (ServiceL2Status, ServiceBGPStatus).
//
// The kinds and their field names match MetalLB's metallb.io API (BGPPeer
// follows MetalLB's v1beta2), so MetalLB manifests carry over by changing the
// apiVersion.
//
// Validation is split in two:
//   - Rules about one object (syntax of addresses and communities, numeric
//     ranges, timers, mutually exclusive fields) are kubebuilder markers and
//     CEL rules on the types here. They end up in the CRD schema, so the API
//     server refuses a bad object with no webhook installed.
//   - Rules across objects (overlapping pools, duplicate peers, references to
//     missing pools, BFD profiles, Secrets or community aliases) and the few
//     checks CEL cannot express (a range's first address not above its last)
//     live in internal/config and surface as the Valid condition and Events.
//
// The CRD YAML under config/crd/bases and zz_generated.deepcopy.go are
// generated from this package by `make generate`; never edit them by hand.
//
// +kubebuilder:object:generate=true
// +groupName=ironlb.io
package v1beta1
