package speaker

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
)

// The speaker builds its own Snapshot from the same objects as the
// controller, read by the same configread.Read — including the accepted
// configuration record the controller writes, which is Build's Previous —
// with the same pure config.Build, so both agree on pools and
// advertisements without talking to each other, whenever either started.
// Problems are the controller's to report (conditions, Events); the
// speaker only uses the result.

// builtConfig is what buildConfig returns.
type builtConfig struct {
	snapshot *config.Snapshot
	// generation is that of the accepted record built on.
	generation int64
	// recordErr says why the record exists but cannot be read.
	recordErr error
}

// buildConfig reads the configuration from the cache and builds a
// Snapshot on the accepted record.
func buildConfig(ctx context.Context, r client.Reader, namespace string, cm types.NamespacedName) (builtConfig, error) {
	read, err := configread.Read(ctx, r, namespace, cm)
	if err != nil {
		return builtConfig{}, err
	}
	return builtConfig{snapshot: config.Build(read.Input).Snapshot, generation: read.Accepted.Generation, recordErr: read.AcceptedErr}, nil
}
