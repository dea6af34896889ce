// Package crd embeds ironlb's CustomResourceDefinitions, the YAML that
// `make generate` writes to bases/, so a program can judge an object exactly
// as an API server with these CRDs installed does (internal/config checks
// files offline with them). The YAML stays the single source: this file only
// embeds it, and `make generate` never touches it.
package crd

import "embed"

// Bases holds bases/*.yaml, one CustomResourceDefinition per file.
//
//go:embed bases/*.yaml
var Bases embed.FS
