package speaker

// The permissions the speaker needs; `make generate` turns these markers
// into config/rbac/speaker/role.yaml. Cluster-wide: Nodes (read, and patch
// its own subnets annotation), Services and EndpointSlices (read; and
// patch the status of Services, for their ironlb.io/Announced condition),
// ServiceL2Statuses and ServiceBGPStatuses (write, in the Services'
// namespaces), Events, TokenReviews and SubjectAccessReviews (to decide
// who may read its secure /metrics). In the ironlb namespace only: the
// configuration CRs, Secrets (BGP passwords and the memberlist Secret),
// the legacy ConfigMap and the Leases of leaseFencing (one per fenced
// address). A legacy ConfigMap in another namespace (--config-map) needs
// a Role there too.

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services/status,verbs=patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=ironlb.io,resources=servicel2statuses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=ironlb.io,resources=servicel2statuses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ironlb.io,resources=servicebgpstatuses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=ironlb.io,resources=servicebgpstatuses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// +kubebuilder:rbac:groups=ironlb.io,namespace=ironlb-system,resources=ipaddresspools;l2advertisements;bgpadvertisements;bgppeers;bfdprofiles;communities,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=ironlb-system,resources=leases,verbs=get;create;update;delete
