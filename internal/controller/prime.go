package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// primeListPage is the page size of the start-up list of Services.
const primeListPage = 500

// primer runs once the controller leads: before any address is allocated
// it builds the configuration and records in the allocator every address
// that managed Services already show in their status, so that a restart or
// a change of leader changes no address. Services whose address is no
// longer valid are allocated afresh by the Service controller afterwards
// (with an IPChanged Event). Then it closes primed, which releases the
// reconcilers.
//
// The Services are listed from the API server, not from the cache: after a
// change of leader the cache may not yet hold the last statuses the
// previous leader wrote, and an address missing from the allocator could
// be handed out twice.
type primer struct {
	live    client.Reader // reads from the API server
	cache   cache.Informers
	objects []client.Object // the kinds the configuration is read from
	source  *configSource
	book    *addressBook
	service *serviceReconciler
	primed  chan struct{}
	log     *slog.Logger
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: only the
// leader allocates.
func (p *primer) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable.
func (p *primer) Start(ctx context.Context) error {
	start := time.Now()
	if err := retry(ctx, p.log, "syncing the caches", p.warmUp); err != nil {
		return nil //nolint:nilerr // the manager is stopping
	}
	if err := retry(ctx, p.log, "building the configuration", p.source.sync); err != nil {
		return nil //nolint:nilerr // the manager is stopping
	}
	var services []corev1.Service
	err := retry(ctx, p.log, "listing Services", func(ctx context.Context) error {
		var err error
		services, err = p.listServices(ctx)
		return err
	})
	if err != nil {
		return nil //nolint:nilerr // the manager is stopping
	}
	kept, dropped := p.assign(ctx, services)
	p.log.Info("recorded the addresses Services held",
		"kept", kept, "toReallocate", dropped, "services", len(services), "duration", time.Since(start))
	close(p.primed)
	<-ctx.Done()
	return nil
}

// warmUp starts the informers of the configuration kinds at once and waits
// until they have synced (one after the other, each first read would wait
// for its own).
func (p *primer) warmUp(ctx context.Context) error {
	errs := make([]error, len(p.objects))
	var wg sync.WaitGroup
	for i, o := range p.objects {
		wg.Go(func() {
			if _, err := p.cache.GetInformer(ctx, o); err != nil {
				errs[i] = fmt.Errorf("starting the informer of %T: %w", o, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// assign records the addresses of managed Services, the oldest Service
// first, so that when two claim one address the older keeps it.
func (p *primer) assign(ctx context.Context, services []corev1.Service) (kept, dropped int) {
	slices.SortFunc(services, func(a, b corev1.Service) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	labels := map[string]map[string]string{}
	for i := range services {
		svc := &services[i]
		ips := ingressIPs(svc)
		if !p.service.manages(svc) || len(ips) == 0 {
			continue
		}
		nsLabels, ok := labels[svc.Namespace]
		if !ok {
			nsLabels = p.service.namespaceLabels(ctx, svc.Namespace)
			labels[svc.Namespace] = nsLabels
		}
		in, err := serviceInput(svc, nsLabels)
		if err != nil {
			dropped++ // the Service controller reports the bad request
			continue
		}
		if err := p.book.assign(in, ips); err != nil {
			p.log.Info("a Service's address is no longer valid; it gets a new one",
				"service", in.Key, "ips", addrList(ips), "reason", err.Error())
			dropped++
			continue
		}
		kept++
	}
	return kept, dropped
}

// listServices lists every Service from the API server, page by page.
func (p *primer) listServices(ctx context.Context) ([]corev1.Service, error) {
	var out []corev1.Service
	opts := []client.ListOption{client.Limit(primeListPage)}
	for {
		var list corev1.ServiceList
		if err := p.live.List(ctx, &list, opts...); err != nil {
			return nil, fmt.Errorf("listing Services: %w", err)
		}
		out = append(out, list.Items...)
		if list.Continue == "" {
			return out, nil
		}
		opts = []client.ListOption{client.Limit(primeListPage), client.Continue(list.Continue)}
	}
}

// retry calls f until it succeeds, backing off from 200 ms to 30 s. It
// returns an error only when ctx ends first.
func retry(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) error {
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 30 * time.Second}
	return wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		if err := f(ctx); err != nil {
			log.Error("start-up step failed; retrying", "step", what, "error", err)
			return false, nil
		}
		return true, nil
	})
}

// whenPrimed waits until primed is closed. It returns false when ctx ends
// first: the manager is stopping, and the reconciler returns quietly.
func whenPrimed(ctx context.Context, primed <-chan struct{}) bool {
	select {
	case <-primed:
		return true
	case <-ctx.Done():
		return false
	}
}

// unlessStopping returns err, or nil when ctx has ended: a request cut
// short because the manager is stopping is no failure to report.
func unlessStopping(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
