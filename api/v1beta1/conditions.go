/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

// Condition types set in the status.conditions of ironlb's configuration
// kinds. Condition types are CamelCase and state a positive fact, so True is
// the healthy value.
const (
	// ConditionValid is True when the object is part of the configuration
	// ironlb runs with: it passed every rule, including the cross-object
	// ones (overlaps, duplicates, references). When False, the reason is one
	// of the Reason constants below, the message names the field, the bad
	// value and what would be valid, and ironlb ignores the object (or, for
	// an overlap, the losing object) until it is fixed.
	ConditionValid = "Valid"

	// ConditionExhausted is set on an IPAddressPool. It is True when the
	// pool has no free address left in some family it serves (reason
	// ReasonNoAddressesAvailable) and False otherwise (reason
	// ReasonAddressesAvailable). The counts themselves are in the pool's
	// status fields, never in the message.
	ConditionExhausted = "Exhausted"
)

// Reasons used with the condition types above. Reasons are CamelCase, stable,
// and safe to match on in automation; the human detail is in the message.
const (
	// ReasonAccepted: the object is valid and in use (ConditionValid=True).
	ReasonAccepted = "Accepted"

	// ReasonInvalidSpec: a field has a value ironlb cannot use, caught by a
	// rule the API server could not check (for example an address range
	// whose first address is above its last).
	ReasonInvalidSpec = "InvalidSpec"

	// ReasonOverlap: the object's addresses overlap another IPAddressPool's.
	// Only the pool that loses the overlap (internal/config documents which)
	// gets ConditionValid=False with this reason; the other keeps serving.
	ReasonOverlap = "Overlap"

	// ReasonDuplicate: another object already declares the same thing, for
	// example two BGPPeers for the same address, port and VRF on the same
	// nodes, or two Community aliases with the same name.
	ReasonDuplicate = "Duplicate"

	// ReasonNotSupported: the object asks for something this version of
	// ironlb does not run — BGP unnumbered (BGPPeer spec.interface),
	// spec.dynamicASN external, the BFD echo function — so it is not used
	// rather than accepted and silently ignored.
	ReasonNotSupported = "NotSupported"

	// ReasonMissingReference: the object names something that does not
	// exist: an IPAddressPool, BGPPeer, BFDProfile, Community alias or
	// Secret.
	ReasonMissingReference = "MissingReference"

	// ReasonAddressesAvailable: the pool has free addresses
	// (ConditionExhausted=False).
	ReasonAddressesAvailable = "AddressesAvailable"

	// ReasonNoAddressesAvailable: every address of some family the pool
	// serves is assigned (ConditionExhausted=True).
	ReasonNoAddressesAvailable = "NoAddressesAvailable"
)
