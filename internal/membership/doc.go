// Package membership tells the layer 2 speaker which speakers are alive,
// so every speaker elects the node answering for an address among the same
// live set. The speaker sees it through the small Members interface; two
// implementations exist:
//
//   - Gossip runs hashicorp/memberlist among the speakers: SWIM failure
//     detection over UDP and TCP (port 7946 by default), gossip encrypted
//     with AES-GCM under a key derived from a shared Secret (SecretKey,
//     HKDF-SHA256), rotated in place when the Secret changes (SetKey: the
//     members agree on each step through their metadata).
//     It is tuned to notice a crashed speaker within about a second
//     (DefaultTuning); a speaker that stops calls Stop, which announces
//     its departure before shutting down, so the others take over at once.
//   - Set is a member set the caller maintains: the speaker's fallback when
//     memberlist cannot run (no Secret, the port cannot be bound), fed from
//     the Nodes' Ready condition.
//
// Members are node names: a speaker joins under the name of its node.
package membership
