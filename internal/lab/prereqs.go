package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// prerequisite is a program the lab runs and the Debian package that has it.
type prerequisite struct {
	program string // a name on $PATH, or an absolute path
	pkg     string
	why     string
}

var prerequisites = []prerequisite{
	{"ip", "iproute2", "network namespaces, veths, addresses"},
	{"sysctl", "procps", "forwarding and DAD settings in namespaces"},
	{"nft", "nftables", "kube-proxy's nftables mode"},
	{"conntrack", "conntrack", "kube-proxy's stale-flow cleanup"},
	{frrDir + "/zebra", "frr", "the router"},
	{frrDir + "/bgpd", "frr", "the router's BGP"},
	{frrDir + "/bfdd", "frr", "the router's BFD"},
	{"vtysh", "frr", "`ironlb lab router`"},
	{"curl", "curl", "the quick start's requests from the client"},
}

// ErrNotRoot is returned by commands that change namespaces when not run
// as root.
var ErrNotRoot = errors.New("the lab needs root: it creates network namespaces, veths and nftables rules, " +
	"and enters namespaces; run it with sudo (e.g. `sudo make lab` or `sudo bin/ironlb lab up`)")

// CheckRoot fails with ErrNotRoot unless the process runs as root.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	return nil
}

// CheckPrerequisites names every missing program, its Debian package and
// how to install them all.
func CheckPrerequisites() error {
	var missing []string
	pkgs := map[string]bool{}
	var pkgList []string
	for _, p := range prerequisites {
		if _, err := exec.LookPath(p.program); err == nil {
			continue
		}
		missing = append(missing, fmt.Sprintf("  %s (Debian package %s): %s", p.program, p.pkg, p.why))
		if !pkgs[p.pkg] {
			pkgs[p.pkg] = true
			pkgList = append(pkgList, p.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the lab is missing programs:\n%s\ninstall them with `hack/install-prereqs.sh all` (as root) "+
		"or `apt-get install %s`", strings.Join(missing, "\n"), strings.Join(pkgList, " "))
}
