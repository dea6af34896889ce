//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ironlb/ironlb/internal/lab"
)

// promAPI is a client of Prometheus's HTTP API.
type promAPI struct{ base string }

// get calls the API and decodes the data of a successful answer into out.
func (a promAPI) get(ctx context.Context, path string, params url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// GET: some endpoints (targets, label values) take no POST.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s: %s: %w (%q)", path, resp.Status, err, b)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s: %s", path, env.ErrorType, env.Error)
	}
	return json.Unmarshal(env.Data, out)
}

func (a promAPI) ready(ctx context.Context) error {
	return lab.GetOK(ctx, a.base+"/-/ready")
}

// instant evaluates expr now and returns how many series (1 for a
// scalar) it gave.
func (a promAPI) instant(ctx context.Context, expr string) (int, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := a.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return 0, err
	}
	if data.ResultType == "scalar" || data.ResultType == "string" {
		return 1, nil
	}
	var series []json.RawMessage
	if err := json.Unmarshal(data.Result, &series); err != nil {
		return 0, fmt.Errorf("%s: %s result: %w", expr, data.ResultType, err)
	}
	return len(series), nil
}

// value evaluates expr, which must give one series, and returns its value;
// no series is 0.
func (a promAPI) value(ctx context.Context, expr string) (float64, error) {
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := a.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return 0, err
	}
	if len(data.Result) == 0 {
		return 0, nil
	}
	var v float64
	s, _ := data.Result[0].Value[1].(string)
	if _, err := fmt.Sscan(s, &v); err != nil {
		return 0, fmt.Errorf("%s: value %v: %w", expr, data.Result[0].Value, err)
	}
	return v, nil
}

// metricNames is every metric name Prometheus has stored.
func (a promAPI) metricNames(ctx context.Context) (map[string]bool, error) {
	var names []string
	if err := a.get(ctx, "/api/v1/label/__name__/values", url.Values{}, &names); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// selectorNames parses expr with Prometheus's own parser
// (/api/v1/parse_query) and returns the metric names of its vector and
// matrix selectors.
func (a promAPI) selectorNames(ctx context.Context, expr string) ([]string, error) {
	var ast any
	if err := a.get(ctx, "/api/v1/parse_query", url.Values{"query": {expr}}, &ast); err != nil {
		return nil, err
	}
	var names []string
	var walk func(any)
	walk = func(n any) {
		switch v := n.(type) {
		case map[string]any:
			if typ, _ := v["type"].(string); typ == "vectorSelector" || typ == "matrixSelector" {
				if name, _ := v["name"].(string); name != "" && !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(ast)
	if len(names) == 0 {
		return nil, fmt.Errorf("no metric selector in %q", expr)
	}
	return names, nil
}

// active lists the names of the alerts active now: firing, or pending
// (their expression holds, their `for` has not passed yet).
func (a promAPI) active(ctx context.Context) ([]string, error) {
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := a.get(ctx, "/api/v1/alerts", url.Values{}, &data); err != nil {
		return nil, err
	}
	var out []string
	for _, al := range data.Alerts {
		if al.State == "firing" || al.State == "pending" {
			out = append(out, al.Labels["alertname"])
		}
	}
	return out, nil
}
