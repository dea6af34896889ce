#!/usr/bin/env bash
# Regenerate every generated file: deepcopy (api/), CRD YAML (config/crd/bases)
# and RBAC (config/rbac/<component>/role.yaml, one per component). controller-gen
# is pinned in go.mod's tool directive.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"

if [[ -d api ]]; then
	go tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
	go tool controller-gen crd:allowDangerousTypes=false paths=./api/... output:crd:artifacts:config=config/crd/bases
fi
# One role per component, from the +kubebuilder:rbac markers of its package.
if compgen -G 'internal/controller/*.go' >/dev/null; then
	go tool controller-gen rbac:roleName=ironlb-controller paths=./internal/controller/... output:rbac:artifacts:config=config/rbac/controller
fi
if compgen -G 'internal/speaker/*.go' >/dev/null; then
	go tool controller-gen rbac:roleName=ironlb-speaker paths=./internal/speaker/... output:rbac:artifacts:config=config/rbac/speaker
fi
hack/render-manifests.sh
