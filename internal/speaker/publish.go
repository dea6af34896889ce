package speaker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// publishInterfaces writes the node's interfaces into its subnets
// annotation, retrying until it succeeds; false when ctx ended first.
func (s *Speaker) publishInterfaces(ctx context.Context) bool {
	warned := false
	for {
		err := s.publishOnce(ctx)
		if err == nil {
			return true
		}
		if !warned {
			s.log.Warn("cannot publish this node's interfaces yet; retrying", "error", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

// publishOnce scans the interfaces and writes the annotation when it
// differs from the Node's.
func (s *Speaker) publishOnce(ctx context.Context) error {
	var ifs []decide.Interface
	err := s.opts.inNetNS(func() error {
		var err error
		ifs, err = s.scan()
		return err
	})
	if err != nil {
		return err
	}
	value := EncodeL2Subnets(ifs)
	var n corev1.Node
	if err := s.cache.Get(ctx, client.ObjectKey{Name: s.opts.NodeName}, &n); err != nil {
		return fmt.Errorf("reading Node %s: %w", s.opts.NodeName, err)
	}
	if cur, ok := n.Annotations[AnnotationL2Subnets]; ok && cur == value {
		return nil
	}
	if err := s.patchAnnotations(ctx, map[string]*string{AnnotationL2Subnets: &value}); err != nil {
		return err
	}
	s.log.Info("published this node's interfaces", "annotation", AnnotationL2Subnets, "interfaces", value)
	return nil
}

// unpublishInterfaces removes the subnets and members annotations: no
// speaker runs here now.
func (s *Speaker) unpublishInterfaces(ctx context.Context) error {
	return s.patchAnnotations(ctx, map[string]*string{AnnotationL2Subnets: nil, AnnotationMembers: nil})
}

// patchAnnotations sets annotations of this node, removing those whose
// value is nil, with a JSON merge patch.
func (s *Speaker) patchAnnotations(ctx context.Context, values map[string]*string) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": values},
	})
	if err != nil {
		return fmt.Errorf("encoding the annotation patch: %w", err)
	}
	n := &corev1.Node{}
	n.Name = s.opts.NodeName
	if err := s.client.Patch(ctx, n, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("writing the annotations of Node %s: %w", s.opts.NodeName, err)
	}
	return nil
}

// scanLoop publishes the interfaces again every InterfaceScanInterval, so
// added or removed addresses and interfaces reach every speaker.
func (s *Speaker) scanLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.InterfaceScanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.publishOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("publishing this node's interfaces", "error", err)
		}
	}
}
