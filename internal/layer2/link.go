package layer2

import (
	"errors"
	"time"
)

// watchLink polls the link state until Close, keeps Ready's answer
// current, and announces every address again when the link comes back up
// (neighbours may have moved to another node meanwhile, and frames sent
// while it was down were lost).
func (i *Interface) watchLink() {
	defer i.wg.Done()
	t := time.NewTicker(i.poll)
	defer t.Stop()
	for {
		select {
		case <-i.ctx.Done():
			return
		case <-t.C:
		}
		now := i.readLink()
		if errors.Is(now, errInterfaceGone) {
			i.setFinalHealth(now)
			i.log.Error("interface deleted or replaced; answers stopped — close this responder and create a new one")
			return
		}
		prev, ok := i.setHealth(now)
		switch {
		case !ok:
			return // a final state: nothing more to watch
		case prev != nil && now == nil:
			i.log.Info("link up; announcing addresses again")
			if err := i.Reannounce(i.ctx); err != nil && !errors.Is(err, ErrClosed) {
				i.log.Warn("announcing addresses after link up", "error", err)
			}
		case prev == nil && now != nil:
			i.log.Warn("link down; answers resume when it is up", "reason", now)
		}
	}
}

// readLink returns nil when the link is up, else why it is not.
func (i *Interface) readLink() error {
	up, err := i.socks.ctl.linkUp()
	if err != nil {
		return err
	}
	if !up {
		return errLinkDown
	}
	return nil
}
