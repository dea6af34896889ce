package doctor

import (
	"strings"

	"sigs.k8s.io/yaml"
)

// KubeProxyConfigKey is the key of the ConfigMap kube-system/kube-proxy
// that holds kube-proxy's KubeProxyConfiguration (kubeadm's layout).
const KubeProxyConfigKey = "config.conf"

// kubeProxyConfig is the part of a KubeProxyConfiguration
// (kubeproxy.config.k8s.io/v1alpha1) the check reads.
type kubeProxyConfig struct {
	Mode string `json:"mode"`
	IPVS struct {
		StrictARP bool `json:"strictARP"`
	} `json:"ipvs"`
}

// checkKubeProxy reports kube-proxy in IPVS mode without strictARP: it
// then puts every Service address on its kube-ipvs0 interface and every
// node answers ARP for every address, so layer 2 cannot pick one node.
func checkKubeProxy(c *checker) {
	obj := Object{Kind: "ConfigMap", Namespace: "kube-system", Name: "kube-proxy"}
	cm := c.in.KubeProxy
	if cm == nil {
		c.add(Info, "kube-proxy-config", obj,
			"there is no ConfigMap kube-system/kube-proxy, so kube-proxy's mode is unknown (it may be configured by flags or a file on the nodes, or not run at all)",
			"if kube-proxy runs in IPVS mode, make sure it runs with strictARP: true (--ipvs-strict-arp)")
		return
	}
	text, ok := cm.Data[KubeProxyConfigKey]
	if !ok {
		c.add(Info, "kube-proxy-config", obj,
			"the ConfigMap has no key "+KubeProxyConfigKey+", so kube-proxy's mode is unknown",
			"if kube-proxy runs in IPVS mode, make sure it runs with strictARP: true (--ipvs-strict-arp)")
		return
	}
	var kp kubeProxyConfig
	if err := yaml.Unmarshal([]byte(text), &kp); err != nil {
		c.add(Warning, "kube-proxy-config", obj,
			"key "+KubeProxyConfigKey+" is not a KubeProxyConfiguration: "+err.Error(),
			"check kube-proxy's configuration by hand: in IPVS mode it needs ipvs.strictARP: true")
		return
	}
	if strings.EqualFold(kp.Mode, "ipvs") && !kp.IPVS.StrictARP {
		c.add(Error, "kube-proxy-strict-arp", obj,
			"kube-proxy runs in IPVS mode without strictARP: every node answers ARP for every Service address, so layer 2 mode cannot choose one node and failover does not work",
			"set ipvs.strictARP: true in key "+KubeProxyConfigKey+" (kubectl -n kube-system edit configmap kube-proxy) and restart kube-proxy (kubectl -n kube-system rollout restart daemonset kube-proxy)")
	}
}
