package controller

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// bulkWorkers is how many Services a test creates at once.
const bulkWorkers = 16

// createServices creates n Services named prefix-0000, ... (see
// createNamed) and returns their names.
func (h *harness) createServices(prefix string, n int) []string {
	h.t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	h.createNamed(names, nil)
	return names
}

// createNamed creates the named Services with bulkWorkers requests in
// flight, calling before (if set) just before each request.
func (h *harness) createNamed(names []string, before func(string)) {
	h.t.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	for range bulkWorkers {
		wg.Go(func() {
			for name := range work {
				if before != nil {
					before(name)
				}
				if err := h.c.Create(h.t.Context(), h.newService(name)); err != nil {
					h.t.Errorf("creating Service %s: %v", name, err)
				}
			}
		})
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
}

// svcState is what a test compares of a Service across a restart.
type svcState struct {
	IPs             string
	ResourceVersion string
}

// serviceStates reads every Service of the app namespace.
func (h *harness) serviceStates() map[string]svcState {
	h.t.Helper()
	var list corev1.ServiceList
	if err := h.c.List(h.t.Context(), &list, client.InNamespace(h.app)); err != nil {
		h.t.Fatalf("listing Services: %v", err)
	}
	out := make(map[string]svcState, len(list.Items))
	for i := range list.Items {
		s := &list.Items[i]
		out[s.Name] = svcState{IPs: strings.Join(ips(s), ","), ResourceVersion: s.ResourceVersion}
	}
	return out
}

// waitAllAllocated waits until every named Service has an address and
// returns the states.
func (h *harness) waitAllAllocated(names []string) map[string]svcState {
	h.t.Helper()
	var st map[string]svcState
	h.eventually(fmt.Sprintf("%d Services to get an address", len(names)), func() (bool, string) {
		st = h.serviceStates()
		missing := 0
		for _, n := range names {
			if st[n].IPs == "" {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d still without", missing)
	})
	return st
}

// checkUnique fails the test when two Services show the same address
// (the tests that use it never share addresses).
func checkUnique(t *testing.T, st map[string]svcState) {
	t.Helper()
	holder := map[string]string{}
	for name, s := range st {
		if s.IPs == "" {
			continue
		}
		for ip := range strings.SplitSeq(s.IPs, ",") {
			if other, ok := holder[ip]; ok {
				t.Errorf("address %s is held by both %s and %s", ip, other, name)
			}
			holder[ip] = name
		}
	}
}

// seenSet records the Services a controller has reconciled.
type seenSet struct {
	mu   sync.Mutex
	keys map[types.NamespacedName]struct{}
}

func (s *seenSet) add(k types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[types.NamespacedName]struct{}{}
	}
	s.keys[k] = struct{}{}
}

// missing counts the names of namespace ns not yet seen.
func (s *seenSet) missing(ns string, names []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, name := range names {
		if _, ok := s.keys[types.NamespacedName{Namespace: ns, Name: name}]; !ok {
			n++
		}
	}
	return n
}
