package layer2

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/mdlayher/packet"
)

// readBufferSize holds any frame up to a 9000-byte MTU; the frames
// answered are far smaller, and a truncated one fails validation.
const readBufferSize = 9216

// readRetryDelay paces retries after an unexpected read error.
const readRetryDelay = 100 * time.Millisecond

// writeTimeout bounds a frame write. Writes to a packet socket return at
// once unless the socket's send buffer is full (frames stuck in a stalled
// transmit queue); then the frame is dropped rather than holding mu and
// with it SetAddresses.
const writeTimeout = 100 * time.Millisecond

// serve reads frames from c and hands each to handle until Close.
func (i *Interface) serve(f family, c frameConn, handle func([]byte)) {
	defer i.wg.Done()
	buf := make([]byte, readBufferSize)
	for {
		n, _, err := c.ReadFrom(buf)
		if err == nil {
			handle(buf[:n])
			continue
		}
		if i.ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, syscall.ENETDOWN):
			// The link went down: the kernel resumes delivery when it
			// comes back up, and the link watcher reports the state.
			continue
		case errors.Is(err, net.ErrClosed):
			i.setFinalHealth(fmt.Errorf("%s socket closed unexpectedly: %w", f, err))
			i.log.Error("socket closed; answers stopped", "family", f.String(), "error", err)
			return
		}
		i.counters.of(f).ReceiveErrors.Add(1)
		i.log.Warn("reading frames", "family", f.String(), "error", err)
		t := time.NewTimer(readRetryDelay)
		select {
		case <-i.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// send writes frame to the Ethernet address dst on the family's socket and
// counts it as an answer or, when gratuitous, an announcement, in the
// family's counters and in ac, the counters of the address it is about.
// Callers hold mu for reading, so nothing is sent for an address being
// removed.
func (i *Interface) send(f family, frame []byte, dst net.HardwareAddr, gratuitous bool, ac *AddressCounters) error {
	if err := i.write(f, frame, dst); err != nil {
		return err
	}
	ctr := i.counters.of(f)
	if gratuitous {
		ctr.GratuitousSent.Add(1)
		ac.GratuitousSent.Add(1)
	} else {
		ctr.ResponsesSent.Add(1)
		ac.ResponsesSent.Add(1)
	}
	return nil
}

// write writes frame to the Ethernet address dst on the family's socket,
// counting a failure.
func (i *Interface) write(f family, frame []byte, dst net.HardwareAddr) error {
	c := i.socks.arp
	if f == familyNDP {
		c = i.socks.ndp
	}
	err := c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err == nil {
		_, err = c.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
	}
	if err != nil {
		i.counters.of(f).SendErrors.Add(1)
		return fmt.Errorf("layer2: interface %q: writing %s frame to %s: %w", i.name, f, dst, err)
	}
	return nil
}
