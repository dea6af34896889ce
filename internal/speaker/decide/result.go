package decide

import (
	"net/netip"
	"slices"
)

// Announcement is what Self announces for one Service.
type Announcement struct {
	// IPs are the Service's addresses Self answers for, sorted.
	IPs []netip.Addr
	// Interfaces are the interfaces Self answers on for any of them,
	// sorted.
	Interfaces []string
}

// ByInterface returns, per interface, the addresses Self answers for on
// it (sorted): exactly what each layer 2 responder of this node must
// answer. Interfaces with nothing to answer are absent.
func (r Result) ByInterface() map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for i := range r.IPs {
		ip := &r.IPs[i]
		if ip.Node != r.Self || r.Self == "" {
			continue
		}
		for _, ifc := range ip.Interfaces {
			out[ifc] = append(out[ifc], ip.Addr) // r.IPs is sorted
		}
	}
	return out
}

// Services returns what Self announces, per Service key; Services with
// no address announced by Self are absent.
func (r Result) Services() map[string]Announcement {
	out := map[string]Announcement{}
	for i := range r.IPs {
		ip := &r.IPs[i]
		if ip.Node != r.Self || r.Self == "" {
			continue
		}
		for _, key := range ip.Services {
			a := out[key]
			a.IPs = append(a.IPs, ip.Addr)
			for _, ifc := range ip.Interfaces {
				if !slices.Contains(a.Interfaces, ifc) {
					a.Interfaces = append(a.Interfaces, ifc)
				}
			}
			out[key] = a
		}
	}
	for key, a := range out {
		slices.Sort(a.Interfaces)
		out[key] = a
	}
	return out
}

// Winners returns the elected node of every address that has one.
func (r Result) Winners() map[netip.Addr]string {
	out := make(map[netip.Addr]string, len(r.IPs))
	for i := range r.IPs {
		if r.IPs[i].Node != "" {
			out[r.IPs[i].Addr] = r.IPs[i].Node
		}
	}
	return out
}
