# syntax=docker/dockerfile:1
# ironlb's image for those who build with Docker (BuildKit):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse --short HEAD) \
#     -t registry.example.com/ironlb:v0.1.0 --push .
#
# `make image` builds the same image without Docker (hack/image.sh,
# internal/image): the static binary at /ironlb, user 65532, no shell.
# This file is not exercised by the project's tests (no Docker daemon there).

ARG GO_VERSION=1.26.8

# Build on the builder's own platform and cross-compile: no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/ironlb/ironlb/internal/version.Version=${VERSION} -X github.com/ironlb/ironlb/internal/version.Commit=${COMMIT}" \
      -o /out/ironlb ./cmd/ironlb

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532), no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="ironlb" \
      org.opencontainers.image.description="Network load balancer for bare-metal Kubernetes clusters (controller and speaker)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="https://github.com/ironlb/ironlb"
COPY --from=build /out/ironlb /ironlb
USER 65532:65532
ENTRYPOINT ["/ironlb"]
