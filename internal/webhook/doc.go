// Package webhook is ironlb's optional validating admission webhook. It
// refuses, at apply time, a configuration object that config.Build would
// exclude — an IPAddressPool overlapping another, an advertisement naming
// a missing pool, two BGPPeers opening the same session — with the same
// message the controller would put in the object's Valid condition. The
// CRDs' CEL rules already check each object on its own; the webhook adds
// the cross-object rules. Without it nothing is lost but the early answer:
// the controller reports the same problems in status and Events.
//
// The webhook's certificates are ironlb's own (Certificates): a self-signed
// CA and a serving certificate in a Secret the controller creates and
// renews, served from memory, with the CA written into the caBundle of the
// ValidatingWebhookConfiguration. No cert-manager is needed.
//
// New and Register wire both into a controller-runtime manager; every
// replica serves the webhook, leader or not. `ironlb controller
// --webhook-port` does that in cmd/ironlb, so this package and
// internal/controller do not know each other.
package webhook
