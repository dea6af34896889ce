package doctor

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

func TestKubeProxy(t *testing.T) {
	cm := func(conf string) *corev1.ConfigMap {
		c := &corev1.ConfigMap{Data: map[string]string{}}
		c.Namespace, c.Name = "kube-system", "kube-proxy"
		if conf != "-" {
			c.Data[KubeProxyConfigKey] = conf
		}
		return c
	}
	for _, tt := range []struct {
		name string
		cm   *corev1.ConfigMap
		want []string
	}{
		{"ipvs without strictARP", cm("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: false\n"),
			[]string{"error kube-proxy-strict-arp ConfigMap/kube-system/kube-proxy|IPVS mode without strictARP"}},
		{"ipvs, strictARP unset", cm("mode: \"ipvs\"\n"), []string{"error kube-proxy-strict-arp"}},
		{"IPVS spelt in capitals", cm("mode: IPVS\n"), []string{"error kube-proxy-strict-arp"}},
		{"ipvs with strictARP", cm("mode: ipvs\nipvs:\n  strictARP: true\n"), nil},
		{"iptables", cm("mode: iptables\n"), nil},
		{"default mode", cm("kind: KubeProxyConfiguration\n"), nil},
		{"nftables", cm("mode: nftables\nipvs:\n  strictARP: false\n"), nil},
		{"no ConfigMap", nil, []string{"info kube-proxy-config|no ConfigMap kube-system/kube-proxy"}},
		{"no config.conf", cm("-"), []string{"info kube-proxy-config|has no key config.conf"}},
		{"not YAML", cm("mode: [ipvs\n"), []string{"warning kube-proxy-config|not a KubeProxyConfiguration"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(config.Objects{})
			in.KubeProxy = tt.cm
			match(t, only(t, checkKubeProxy, in), tt.want)
		})
	}
}

func TestL2Subnets(t *testing.T) {
	const lan = `{"eth0":["192.168.1.0/24"]}`
	const other = `{"eth0":["10.9.0.0/24"]}`
	objs := func(advs ...v1beta1.L2Advertisement) config.Objects {
		return config.Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("lan", "192.168.1.240-192.168.1.250")}, L2Advertisements: advs}
	}
	all := objs(l2("a", []string{"lan"}))
	for _, tt := range []struct {
		name  string
		objs  config.Objects
		nodes []corev1.Node
		want  []string
	}{
		{"every node has the subnet", all, []corev1.Node{node("n1", lan, nil, nil), node("n2", lan, nil, nil)}, nil},
		{"no node has it", all, []corev1.Node{node("n1", other, nil, nil), node("n2", other, nil, nil)},
			[]string{"error l2-subnet IPAddressPool/ironlb-system/lan|no node may announce pool \"lan\"|node n1 has no interface to answer on for 192.168.1.240-192.168.1.250 (its subnets: eth0 10.9.0.0/24)|node n2"}},
		{"one of two lacks it", all, []corev1.Node{node("n1", lan, nil, nil), node("n2", other, nil, nil)},
			[]string{"warning l2-subnet|1 of 2 nodes|node n2 has no interface"}},
		{"a range sticking out of the subnet", objs(l2("a", []string{"lan"})), nil, nil},
		{"unpublished nodes are info, not judged", all, []corev1.Node{node("n1", lan, nil, nil), node("n2", "", nil, nil)},
			[]string{"info l2-interfaces-unpublished Node/n2|no speaker has published this node's interfaces"}},
		{"only unpublished nodes", all, []corev1.Node{node("n1", "", nil, nil)},
			[]string{"info l2-interfaces-unpublished Node/n1"}},
		{"nodeSelectors leave the lacking node out", objs(l2("a", []string{"lan"}, sel("zone", "a"))),
			[]corev1.Node{node("n1", lan, map[string]string{"zone": "a"}, nil), node("n2", other, map[string]string{"zone": "b"}, nil)}, nil},
		{"excluded nodes are not judged", all,
			[]corev1.Node{node("n1", lan, nil, nil), node("n2", other, map[string]string{decide.LabelExcludeFromLoadBalancers: ""}, nil)}, nil},
		{"a named interface answers whatever its subnet", objs(v1beta1.L2Advertisement{
			ObjectMeta: l2("a", nil).ObjectMeta, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"lan"}, Interfaces: []string{"eth0"}}}),
			[]corev1.Node{node("n1", other, nil, nil)}, nil},
		{"a named interface the node lacks", objs(v1beta1.L2Advertisement{
			ObjectMeta: l2("a", nil).ObjectMeta, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"lan"}, Interfaces: []string{"bond0"}}}),
			[]corev1.Node{node("n1", lan, nil, nil)}, []string{"error l2-subnet"}},
		{"a pool without L2Advertisement is not judged", config.Objects{IPAddressPools: all.IPAddressPools},
			[]corev1.Node{node("n1", other, nil, nil)}, nil},
		{"an annotation that does not parse", all, []corev1.Node{node("n1", "{", nil, nil)},
			[]string{"warning l2-interfaces-unpublished Node/n1|not a JSON object"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			match(t, only(t, checkL2Subnets, input(tt.objs, tt.nodes...)), tt.want)
		})
	}
	// One end of a range outside the subnet.
	in := input(config.Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("wide", "192.168.1.250-192.168.2.5")},
		L2Advertisements: []v1beta1.L2Advertisement{l2("a", nil)}}, node("n1", `{"eth0":["192.168.1.0/24"]}`, nil, nil))
	match(t, only(t, checkL2Subnets, in), []string{"error l2-subnet|192.168.2.5 (of 192.168.1.250-192.168.2.5)"})
}

func TestPoolOverlaps(t *testing.T) {
	objs := config.Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("p", "10.0.0.0/28", "fd00::/120")}}
	for _, tt := range []struct {
		name  string
		nodes []corev1.Node
		cidrs []string
		want  []string
	}{
		{"apart", []corev1.Node{node("n1", "", nil, []string{"10.0.1.1", "fd00:1::1"}, "10.244.0.0/24")}, []string{"10.96.0.0/16"}, nil},
		{"a node's InternalIP", []corev1.Node{node("n1", "", nil, []string{"10.0.0.5"})}, nil,
			[]string{"error pool-overlaps-node-address IPAddressPool/ironlb-system/p|holds 10.0.0.5, the InternalIP of node n1"}},
		{"a node's ExternalIP", []corev1.Node{externalIP(node("n1", "", nil, nil), "10.0.0.1")}, nil,
			[]string{"error pool-overlaps-node-address|holds 10.0.0.1, the ExternalIP of node n1"}},
		{"an IPv6 node address", []corev1.Node{node("n1", "", nil, []string{"fd00::7"})}, nil,
			[]string{"error pool-overlaps-node-address|fd00::7"}},
		{"a Pod CIDR", []corev1.Node{node("n1", "", nil, nil, "10.0.0.0/16")}, nil,
			[]string{"error pool-overlaps-pod-cidr|overlaps 10.0.0.0/16, the Pod CIDR of node n1"}},
		{"the Service CIDR", nil, []string{"10.0.0.8/29"},
			[]string{"error pool-overlaps-service-cidr|overlaps 10.0.0.8/29, a Service CIDR of the cluster (ServiceCIDR kubernetes)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(objs, tt.nodes...)
			if tt.cidrs == nil {
				tt.cidrs = []string{"10.96.0.0/16", "fd00:96::/108"}
			}
			in.ServiceCIDRs = append(in.ServiceCIDRs, serviceCIDR("kubernetes", tt.cidrs...))
			got := only(t, checkPoolOverlaps, in)
			got = append(got, only(t, checkServiceCIDR, in)...)
			match(t, got, tt.want)
		})
	}
	t.Run("no ServiceCIDR objects", func(t *testing.T) {
		match(t, only(t, checkServiceCIDR, input(objs)), []string{"info service-cidr-unknown|--service-cluster-ip-range"})
		match(t, only(t, checkServiceCIDR, input(config.Objects{})), nil)
	})
}

func TestConfigProblems(t *testing.T) {
	objs := config.Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", "10.0.0.0/24"), pool("b", "10.0.0.128/25"), pool("c", "10.1.0.9-10.1.0.1")}}
	got := only(t, checkConfig, input(objs))
	match(t, got, []string{
		"error config-invalid IPAddressPool/ironlb-system/b|overlap",
		"error config-invalid IPAddressPool/ironlb-system/c|spec.addresses[0] \"10.1.0.9-10.1.0.1\"",
	})
	in := input(config.Objects{})
	in.ConfigProblems = []config.FieldError{{Kind: "document", Source: "x.yaml document 1", Message: "not valid YAML"}}
	match(t, only(t, checkConfig, in), []string{"error config-invalid document: (x.yaml document 1) not valid YAML"})
}
