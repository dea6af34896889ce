#!/usr/bin/env bash
# Regenerate every generated file: deepcopy (api/), CRD YAML (config/crd/bases)
# and RBAC (config/rbac). controller-gen is pinned in go.mod's tool directive.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(repo_root)"

if [[ -d api ]]; then
	go tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
	go tool controller-gen crd:allowDangerousTypes=false paths=./api/... output:crd:artifacts:config=config/crd/bases
fi
if compgen -G 'internal/controller/*.go' >/dev/null || compgen -G 'internal/speaker/*.go' >/dev/null; then
	go tool controller-gen rbac:roleName=ironlb paths=./internal/... output:rbac:artifacts:config=config/rbac
fi
