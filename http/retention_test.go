package http

import (
	"strings"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
)

// TestRetentionOverHTTP: past MaxRetained the oldest unread request is
// evicted and answers 410 expired; the metrics show the budget at work.
func TestRetentionOverHTTP(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxRetained = 1 }))
	var ids []string
	for range 2 {
		snap := e.submit(`{"prompt":"hi"}`)
		ids = append(ids, snap.ID)
		s := e.script()
		s.Token("a")
		s.Finish(llm.FinishStop, nil)
		e.waitEnd(snap.ID)
	}
	resp, data := e.do("GET", "/v1/requests/"+ids[0], "")
	if resp.StatusCode != 410 || !strings.Contains(string(data), `"code":"expired"`) {
		t.Fatalf("the evicted request: %d %s; want 410 expired", resp.StatusCode, data)
	}
	if code, _ := e.status(ids[1]); code != 200 {
		t.Fatalf("the retained request: %d", code)
	}
	_, data = e.do("GET", "/metrics", "")
	for _, want := range []string{
		"armistice_retained_requests 1\n",
		`armistice_evictions_total{reason="unread"} 1`,
		`armistice_evictions_total{reason="read"} 0`,
		"armistice_retained_bytes ",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// waitEnd polls the status until the request has ended.
func (e *env) waitEnd(id string) {
	e.t.Helper()
	for range 10000 {
		if _, st := e.status(id); st.State.Terminal() {
			return
		}
	}
	e.t.Fatalf("%s did not end", id)
}
