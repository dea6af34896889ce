// Package netnstest builds small throwaway networks of Linux network
// namespaces for tests that need real packets: one namespace "lan" holding
// a bridge, and one namespace per host joined to it by a veth whose bridge
// end lives in "lan". No interface or address is ever created in the root
// namespace, so the machine's own network is never touched.
//
// Every namespace name starts with a prefix unique to the test run
// (<prefix>-<pid>-<random>-), and [New] registers a t.Cleanup that deletes
// them all. Namespaces left behind by a run that was killed are swept by the
// next [New] with the same prefix (their PID no longer exists).
//
// [Require] decides whether a test can run at all: it skips the test when a
// prerequisite (root, a program) is missing, or fails it under CI (the
// environment variable CI set to a true value, testkit.InCI), so continuous
// integration never passes by skipping.
//
// Hosts get addresses from the network's IPv4 and IPv6 prefixes (by
// default 10.201.0.0/24 and fd00:201::/64, private test ranges) at their
// index, and the MAC address 02:00:00:00:<net>:<index>, where <net> is the
// network's Options.MACByte. Duplicate address detection is disabled before
// each host's veth exists, so IPv6 addresses are usable at once.
//
// Code that must create sockets inside a host runs in [Host.Do]: a fresh,
// locked OS thread switched into the namespace, thrown away afterwards.
// Sockets keep the namespace they were created in for their whole life, so
// goroutines may use them from any thread later.
//
// The package needs Linux and root; it only runs `ip` and `sysctl` and the
// setns system call.
package netnstest
