package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// State is a BFD session state as carried in the Sta field (RFC 5880 §4.1).
type State uint8

// Session states.
const (
	StateAdminDown State = 0
	StateDown      State = 1
	StateInit      State = 2
	StateUp        State = 3
)

func (s State) String() string {
	switch s {
	case StateAdminDown:
		return "AdminDown"
	case StateDown:
		return "Down"
	case StateInit:
		return "Init"
	case StateUp:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Diag is a BFD diagnostic code (RFC 5880 §4.1): why the sender's session
// last left Up.
type Diag uint8

// Diagnostic codes.
const (
	DiagNone                    Diag = 0
	DiagControlDetectionExpired Diag = 1
	DiagEchoFailed              Diag = 2
	DiagNeighborSignaledDown    Diag = 3
	DiagForwardingPlaneReset    Diag = 4
	DiagPathDown                Diag = 5
	DiagConcatenatedPathDown    Diag = 6
	DiagAdministrativelyDown    Diag = 7
	DiagReverseConcatPathDown   Diag = 8
)

var diagNames = [...]string{
	"None", "ControlDetectionTimeExpired", "EchoFunctionFailed",
	"NeighborSignaledSessionDown", "ForwardingPlaneReset", "PathDown",
	"ConcatenatedPathDown", "AdministrativelyDown", "ReverseConcatenatedPathDown",
}

func (d Diag) String() string {
	if int(d) < len(diagNames) {
		return diagNames[d]
	}
	return fmt.Sprintf("Diag(%d)", uint8(d))
}

// ControlLen is the length of a control packet without authentication.
const ControlLen = 24

// Control is a BFD control packet (RFC 5880 §4.1) without an authentication
// section. Intervals travel in microseconds; Encode truncates finer values.
type Control struct {
	Diag  Diag
	State State
	// Flags.
	Poll, Final, ControlPlaneIndependent, Demand bool
	DetectMult                                   uint8
	MyDiscriminator, YourDiscriminator           uint32
	DesiredMinTx, RequiredMinRx                  time.Duration
	RequiredMinEchoRx                            time.Duration
}

const (
	flagPoll      = 0x20
	flagFinal     = 0x10
	flagCPI       = 0x08
	flagAuth      = 0x04
	flagDemand    = 0x02
	flagMultipoin = 0x01
)

// Errors returned by DecodeControl; every one means "discard the packet".
var (
	ErrShort         = errors.New("bfd: packet shorter than 24 bytes")
	ErrVersion       = errors.New("bfd: version is not 1")
	ErrLength        = errors.New("bfd: length field out of bounds")
	ErrDetectMult    = errors.New("bfd: detect multiplier is 0")
	ErrMultipoint    = errors.New("bfd: multipoint bit set")
	ErrMyDiscr       = errors.New("bfd: my discriminator is 0")
	ErrYourDiscr     = errors.New("bfd: your discriminator is 0 while state is not Down or AdminDown")
	ErrAuthNotInUse  = errors.New("bfd: authentication bit set but no authentication is configured")
	errIntervalRange = errors.New("bfd: interval does not fit 32 bits of microseconds")
)

// DecodeControl parses b (a whole UDP payload) and applies the reception
// checks of RFC 5880 §6.8.6 that need no session: version, length bounds,
// detect multiplier, multipoint, discriminators and the A bit (ironlb does
// not do authentication, so every packet with A set is dropped).
func DecodeControl(b []byte) (Control, error) {
	var c Control
	if len(b) < ControlLen {
		return c, ErrShort
	}
	if b[0]>>5 != 1 {
		return c, ErrVersion
	}
	if l := int(b[3]); l < ControlLen || l > len(b) {
		return c, ErrLength
	}
	flags := b[1]
	if flags&flagAuth != 0 {
		return c, ErrAuthNotInUse
	}
	if flags&flagMultipoin != 0 {
		return c, ErrMultipoint
	}
	c.Diag = Diag(b[0] & 0x1f)
	c.State = State(b[1] >> 6)
	c.Poll = flags&flagPoll != 0
	c.Final = flags&flagFinal != 0
	c.ControlPlaneIndependent = flags&flagCPI != 0
	c.Demand = flags&flagDemand != 0
	c.DetectMult = b[2]
	if c.DetectMult == 0 {
		return c, ErrDetectMult
	}
	c.MyDiscriminator = binary.BigEndian.Uint32(b[4:])
	c.YourDiscriminator = binary.BigEndian.Uint32(b[8:])
	if c.MyDiscriminator == 0 {
		return c, ErrMyDiscr
	}
	if c.YourDiscriminator == 0 && c.State != StateDown && c.State != StateAdminDown {
		return c, ErrYourDiscr
	}
	c.DesiredMinTx = usToDuration(binary.BigEndian.Uint32(b[12:]))
	c.RequiredMinRx = usToDuration(binary.BigEndian.Uint32(b[16:]))
	c.RequiredMinEchoRx = usToDuration(binary.BigEndian.Uint32(b[20:]))
	return c, nil
}

// AppendControl appends the 24-byte encoding of c to b. It fails only when
// an interval is negative or exceeds 2^32-1 µs.
func AppendControl(b []byte, c Control) ([]byte, error) {
	var tx, rx, echo uint32
	var err error
	if tx, err = durationToUs(c.DesiredMinTx); err != nil {
		return b, fmt.Errorf("bfd: desired min TX: %w", err)
	}
	if rx, err = durationToUs(c.RequiredMinRx); err != nil {
		return b, fmt.Errorf("bfd: required min RX: %w", err)
	}
	if echo, err = durationToUs(c.RequiredMinEchoRx); err != nil {
		return b, fmt.Errorf("bfd: required min echo RX: %w", err)
	}
	flags := byte(c.State&3) << 6
	for _, f := range []struct {
		on  bool
		bit byte
	}{{c.Poll, flagPoll}, {c.Final, flagFinal}, {c.ControlPlaneIndependent, flagCPI}, {c.Demand, flagDemand}} {
		if f.on {
			flags |= f.bit
		}
	}
	b = append(b, 1<<5|byte(c.Diag&0x1f), flags, c.DetectMult, ControlLen)
	b = binary.BigEndian.AppendUint32(b, c.MyDiscriminator)
	b = binary.BigEndian.AppendUint32(b, c.YourDiscriminator)
	b = binary.BigEndian.AppendUint32(b, tx)
	b = binary.BigEndian.AppendUint32(b, rx)
	b = binary.BigEndian.AppendUint32(b, echo)
	return b, nil
}

func usToDuration(us uint32) time.Duration { return time.Duration(us) * time.Microsecond }

func durationToUs(d time.Duration) (uint32, error) {
	us := d / time.Microsecond
	if us < 0 || us > 1<<32-1 {
		return 0, errIntervalRange
	}
	return uint32(us), nil
}
