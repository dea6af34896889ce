package controller

// The permissions the controller needs; `make generate` turns these markers
// into config/rbac/controller/role.yaml. Cluster-wide: Services (read, write
// status and the pool annotation), Namespaces (labels for pools'
// namespaceSelectors), Events, and the reviews that guard the metrics
// endpoint when it is served securely. In the ironlb namespace only: the
// configuration CRs and their status, Secrets (BGP passwords; creating the
// speakers' memberlist Secret when missing; creating and updating the
// accepted configuration record, by name), the legacy ConfigMap and the
// leader-election Lease. A legacy ConfigMap in another
// namespace (--config-map) needs a Role there too.
//
// The optional webhook (--webhook-port) needs more: update of its
// certificate Secret and get/update of its ValidatingWebhookConfiguration,
// both by name. They are not markers here, so an install without the
// webhook does not grant them: config/webhook/rbac.yaml and the chart's
// templates/webhook.yaml carry them.

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=services/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// +kubebuilder:rbac:groups=ironlb.io,namespace=ironlb-system,resources=ipaddresspools;l2advertisements;bgpadvertisements;bgppeers;bfdprofiles;communities,verbs=get;list;watch
// +kubebuilder:rbac:groups=ironlb.io,namespace=ironlb-system,resources=ipaddresspools/status;l2advertisements/status;bgpadvertisements/status;bgppeers/status;bfdprofiles/status;communities/status,verbs=get;patch
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets,verbs=create
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets,resourceNames=ironlb-accepted-config,verbs=update
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=ironlb-system,resources=leases,verbs=get;create;update
