package config_test

import (
	"testing"

	"github.com/ironlb/ironlb/internal/testenv"
)

// TestMain stops the control plane the API server tests share.
func TestMain(m *testing.M) { testenv.Main(m) }
