# ironlb — the two commands a newcomer needs are `make lab` and `make test`.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO       ?= go
PKG      := github.com/ironlb/ironlb
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
BIN      := bin/ironlb
FUZZTIME ?= 10s
# Pinned tools: controller-gen through go.mod's tool directive; helm,
# kustomize, golangci-lint and gotestsum through hack/tools/go.mod (kept apart
# so their dependencies never move ours), built by hack/build-tools.sh.
# go test timeouts, one place for every script and target:
include hack/test-timeouts.env

.PHONY: build
build: ## Build bin/ironlb
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ironlb

.PHONY: image
image: ## OCI image tarball bin/ironlb-image.tar (linux/amd64 + linux/arm64), built without Docker
	VERSION=$(VERSION) COMMIT=$(COMMIT) hack/image.sh

.PHONY: generate
generate: ## Regenerate deepcopy, CRD YAML and RBAC
	hack/generate.sh

.PHONY: verify-generate
verify-generate: ## Fail when a generated file is stale
	hack/verify-generate.sh

.PHONY: lint
lint: ## gofmt, go vet, golangci-lint (pinned)
	hack/lint.sh

.PHONY: unit
unit: ## Unit tests with the race detector
	$(GO) test -race -count=1 -timeout $(UNIT_TIMEOUT) ./...

.PHONY: tools
tools: ## Build the pinned tools (helm, kustomize, golangci-lint, gotestsum) into the cache
	hack/build-tools.sh

.PHONY: fuzz
fuzz: ## A short run of every fuzz target (FUZZTIME each)
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

.PHONY: test
test: ## Everything CI runs: prerequisites, generated files, lint, unit, fuzz and e2e tests
	hack/test.sh

.PHONY: bench
bench: ## Benchmarks and measured figures (tables); record them in docs/performance.md
	hack/bench.sh

.PHONY: compare
compare: ## MetalLB v0.16.2 and ironlb side by side in the lab: one table of figures and ratios (root)
	hack/compare.sh

.PHONY: lab
lab: build ## Bring up the local lab and run the quick start (root)
	hack/lab.sh

.PHONY: e2e
e2e: build ## End-to-end tests on a lab of their own (root)
	hack/build-k8s.sh --all
	hack/lab-images.sh
	hack/build-metallb.sh
	hack/build-prometheus.sh
	go test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v ./test/e2e/
	IRONLB_E2E_IP_FAMILY=ipv6 go test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v -run '^TestBGP$$' ./test/e2e/

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
