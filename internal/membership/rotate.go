package membership

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// rotateCheck is how often a rotation in progress is looked at again when
// no member changes: a safety net, as every step another member takes
// arrives as a metadata update.
const rotateCheck = time.Second

// metaTimeout bounds the wait for a metadata update to go out.
const metaTimeout = time.Second

// keyDelegate publishes the member's key state as its metadata; the rest of
// memberlist's Delegate is unused.
type keyDelegate struct{ g *Gossip }

func (d *keyDelegate) NodeMeta(limit int) []byte {
	m := d.g.keyState().encode()
	if len(m) > limit {
		// Cannot happen with the few keys a rotation holds (19 bytes
		// each); publishing nothing only holds rotations back.
		return nil
	}
	return m
}
func (d *keyDelegate) NotifyMsg([]byte)                  {}
func (d *keyDelegate) GetBroadcasts(_, _ int) [][]byte   { return nil }
func (d *keyDelegate) LocalState(bool) []byte            { return nil }
func (d *keyDelegate) MergeRemoteState(_ []byte, _ bool) {}

// keyState returns this member's keys as fingerprints.
func (g *Gossip) keyState() keyState {
	primary := fingerprint(g.keyring.GetPrimaryKey())
	var installed []string
	for _, k := range g.keyring.GetKeys() {
		installed = append(installed, fingerprint(k))
	}
	return keyState{primary: primary, installed: installed}
}

// KeyStatus is a member's gossip keys, by fingerprint.
type KeyStatus struct {
	// Primary encrypts what this member sends.
	Primary string
	// Installed decrypt what it receives; Primary is among them. More than
	// one means a rotation is in progress.
	Installed []string
	// Wanted is the key SetKey asked for last; the rotation is over when
	// it is the only one installed.
	Wanted string
}

// Keys returns this member's keys; the zero KeyStatus without encryption.
func (g *Gossip) Keys() KeyStatus {
	if g.keyring == nil {
		return KeyStatus{}
	}
	st := g.keyState()
	g.keysMu.Lock()
	defer g.keysMu.Unlock()
	return KeyStatus{Primary: st.primary, Installed: st.installed, Wanted: g.wanted}
}

// KeyFingerprint returns the fingerprint Keys reports for key.
func KeyFingerprint(key []byte) string { return fingerprint(key) }

// SetKey rotates the gossip to key (from SecretKey) without cutting any
// member off: the key is accepted at once, used to encrypt once every
// other member accepts it, and the old keys are dropped once every other
// member encrypts with it (nextKeyStep). Asking for the key in use, or
// for the one a rotation is heading to, does nothing. It fails when the
// member runs without encryption or the key has a wrong length.
func (g *Gossip) SetKey(key []byte) error {
	if g.keyring == nil {
		return errors.New("membership: the gossip runs without encryption; a key cannot be set")
	}
	if err := memberlist.ValidateKey(key); err != nil {
		return fmt.Errorf("membership: the gossip key: %w", err)
	}
	fp := fingerprint(key)
	g.keysMu.Lock()
	if g.wanted == fp {
		g.keysMu.Unlock()
		return nil
	}
	g.wanted = fp
	g.keys[fp] = key
	g.keysMu.Unlock()
	if err := g.keyring.AddKey(key); err != nil {
		return fmt.Errorf("membership: installing the gossip key: %w", err)
	}
	g.log.Info("memberlist key rotation: the new key is accepted; it will encrypt once every member accepts it",
		"key", fp)
	g.publishKeys()
	notifier(g.keyKick).notify()
	return nil
}

// publishKeys sends this member's new key state to the others.
func (g *Gossip) publishKeys() {
	if err := g.ml.UpdateNode(metaTimeout); err != nil {
		g.log.Warn("memberlist key rotation: publishing this member's keys", "error", err)
	}
}

// rotateLoop takes the rotation's next step whenever a member changes.
func (g *Gossip) rotateLoop() {
	t := time.NewTicker(rotateCheck)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-g.keyKick:
		case <-t.C:
		}
		g.rotateStep()
	}
}

// rotateStep applies nextKeyStep to the members memberlist holds now.
func (g *Gossip) rotateStep() {
	self := g.keyState()
	g.keysMu.Lock()
	wanted := g.wanted
	g.keysMu.Unlock()
	if self.primary == wanted && len(self.installed) == 1 {
		return
	}
	var others []keyState
	g.events.mu.Lock()
	for name, ks := range g.events.keys {
		if name != g.name {
			others = append(others, ks)
		}
	}
	g.events.mu.Unlock()
	step := nextKeyStep(self, wanted, others)
	g.keysMu.Lock()
	defer g.keysMu.Unlock()
	switch {
	case step.use != "":
		if err := g.keyring.UseKey(g.keys[step.use]); err != nil {
			g.log.Error("memberlist key rotation: encrypting with the new key", "key", step.use, "error", err)
			return
		}
		g.log.Info("memberlist key rotation: every member accepts the new key; encrypting with it", "key", step.use)
	case len(step.remove) > 0:
		for _, fp := range step.remove {
			if err := g.keyring.RemoveKey(g.keys[fp]); err != nil {
				g.log.Error("memberlist key rotation: dropping an old key", "key", fp, "error", err)
				return
			}
			delete(g.keys, fp)
		}
		g.log.Info("memberlist key rotation done: every member encrypts with the new key; the old ones are no longer accepted",
			"key", wanted, "dropped", step.remove)
	default:
		return
	}
	go g.publishKeys() // not under keysMu: it waits for the broadcast
}

// countWrongKey counts a message no installed key could decrypt.
func (g *Gossip) countWrongKey() { g.wrongKeys.Add(1) }

// WrongKeyMessages returns how many messages (packets and streams) were
// dropped because no installed key could decrypt them, or they came
// unencrypted: a speaker with another memberlist Secret, or something else
// talking to the memberlist port.
func (g *Gossip) WrongKeyMessages() uint64 { return g.wrongKeys.Load() }
