// Package doctor finds what keeps ironlb from working in a cluster: the
// mistakes operators make before anything works (kube-proxy in IPVS mode
// without strictARP, pools in no node's subnet, pools overlapping the node
// or Service network, a second load balancer) and what ironlb itself
// reports (invalid configuration, BGP sessions down, Services without an
// address or not announced).
//
// Check is a pure function of an Input, gathered live from a cluster or
// read from files (Files) by the caller: no client, no I/O, no clock
// but Input.Now. Each check is a function of its own file, table-tested
// with fake objects; a check whose inputs were not gathered does not run
// and is named in Report.NotChecked, so an offline run on a few files
// never reports what it could not see.
package doctor
