package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// barWidth is the number of cells of a usage bar.
const barWidth = 10

// Options tune Render.
type Options struct {
	// Color marks states in ANSI colours (for a terminal).
	Color bool
	// Now is the time ages are computed from.
	Now time.Time
}

// Render writes st as three tables: pools with a usage bar per family,
// Services with their addresses and announcers, and BGP sessions.
func Render(w io.Writer, st *Status, o Options) error {
	// Writes to a tabwriter.Writer fail only at Flush, which is checked.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "POOL\tIPv4\tIPv6\tVALID")
	for _, p := range st.Pools {
		cols := map[string]string{"IPv4": "-", "IPv6": "-"}
		for _, f := range p.Families {
			cols[f.Family] = usage(f)
		}
		valid := o.paint(green, "yes")
		if !p.Valid {
			valid = o.paint(red, "no: "+p.Problem)
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, cols["IPv4"], cols["IPv6"], valid)
	}
	if len(st.Pools) == 0 {
		_, _ = fmt.Fprintln(tw, "(none)\t\t\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "SERVICE\tADDRESSES\tPOOL\tMODE\tANNOUNCED BY")
	for _, s := range st.Services {
		addrs := strings.Join(s.Addresses, ", ")
		if addrs == "" {
			addrs = "<pending>"
		}
		by := announcers(s)
		if len(s.Problems) > 0 {
			by = o.paint(red, strings.Join(s.Problems, "; "))
		}
		_, _ = fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Name, addrs, orDash(s.Pool), s.Mode(), by)
	}
	if len(st.Services) == 0 {
		_, _ = fmt.Fprintln(tw, "(none)\t\t\t\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(st.Sessions) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "NODE\tBGP PEER\tADDRESS\tSINCE\tSTATE")
	for _, s := range st.Sessions {
		// Coloured cells go last: tabwriter counts the colour codes.
		state := o.paint(green, s.State)
		if !s.Up {
			state = o.paint(red, "down (now "+s.State+")")
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Node, s.Peer, s.Address, age(o.Now, s.Since), state)
	}
	return tw.Flush()
}

// usage is "[####------] 4/10" for a family: assigned of assigned+available.
func usage(f FamilyUsage) string {
	total := f.Assigned + f.Available
	filled := 0
	if total > 0 {
		filled = int((f.Assigned*barWidth + total - 1) / total) // any use shows
	}
	return fmt.Sprintf("[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), f.Assigned, total)
}

// announcers says who announces s: the layer 2 nodes with their
// interfaces, the BGP nodes with their peers.
func announcers(s Service) string {
	var parts []string
	for _, a := range s.Layer2 {
		parts = append(parts, withDetails(a))
	}
	for _, a := range s.BGP {
		parts = append(parts, withDetails(a))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func withDetails(a Announcer) string {
	if len(a.Details) == 0 {
		return a.Node
	}
	return a.Node + " (" + strings.Join(a.Details, " ") + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age is a short rendering of how long ago t was, like kubectl's.
func age(now, t time.Time) string {
	if t.IsZero() || now.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// ANSI colours.
const (
	red   = "31"
	green = "32"
)

func (o Options) paint(color, s string) string {
	if !o.Color {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}
