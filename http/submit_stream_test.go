package http

import (
	stdhttp "net/http"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
)

// idFromLocation returns the request id a submit's Location names.
func idFromLocation(t *testing.T, resp *stdhttp.Response) string {
	t.Helper()
	id, ok := strings.CutPrefix(resp.Header.Get("Location"), "/v1/requests/")
	if !ok || id == "" {
		t.Fatalf("Location %q does not name a request", resp.Header.Get("Location"))
	}
	return id
}

// TestASubmitAnswersWithItsEventStream: a submit that accepts
// text/event-stream gets the request's events from the first, in the
// same round trip, with the request in Location; the stream can be
// resumed like any other.
func TestASubmitAnswersWithItsEventStream(t *testing.T) {
	e := newEnv(t)
	st, resp, data := e.openSubmit(`{"prompt":"p"}`)
	if st == nil {
		t.Fatalf("submit with Accept: text/event-stream: %d %s", resp.StatusCode, data)
	}
	id := idFromLocation(t, st.resp)
	s := e.script()
	s.Token("a")
	s.Token("b")
	s.Finish(llm.FinishStop, nil)
	evs := st.readToEnd()
	checkSeqs(t, evs, 1)
	if got := joinText(evs); got != "ab" {
		t.Fatalf("text %q, want ab", got)
	}
	wantEnd(t, evs, "done", "completed", "stop")
	if code, snap := e.status(id); code != stdhttp.StatusOK || snap.State.String() != "done" {
		t.Fatalf("status of %s: %d %+v", id, code, snap)
	}
	rest := e.mustOpen(id, "after=3").readToEnd()
	checkSeqs(t, rest, 4)
}

// TestASubmitStreamRefusesLikeASubmit: a body that is wrong gets the
// same JSON error whatever the client accepts, and a client that does
// not name text/event-stream gets the snapshot as before.
func TestASubmitStreamRefusesLikeASubmit(t *testing.T) {
	e := newEnv(t)
	st, resp, data := e.openSubmit(`{"prompt":""}`)
	if st != nil {
		t.Fatal("an empty prompt was streamed")
	}
	wantError(t, resp, data, stdhttp.StatusBadRequest, CodeInvalidRequest)
	for _, accept := range []string{"", "*/*", "application/json", "text/event-streamer"} {
		resp, data := e.do("POST", "/v1/requests", `{"prompt":"p"}`, "Accept", accept)
		if resp.StatusCode != stdhttp.StatusAccepted || !strings.Contains(string(data), `"state":"pending"`) && !strings.Contains(string(data), `"state":"streaming"`) {
			t.Fatalf("Accept %q: %d %s, want 202 and the snapshot", accept, resp.StatusCode, data)
		}
		e.script().Finish(llm.FinishStop, nil)
	}
}

// TestARetriedSubmitStreamStreamsTheSameRequest: a submit retried with
// its Idempotency-Key streams the request the first created, from the
// first event, marked as replayed.
func TestARetriedSubmitStreamStreamsTheSameRequest(t *testing.T) {
	e := newEnv(t)
	first, resp, data := e.openSubmit(`{"prompt":"p"}`, HeaderIdempotencyKey, "k-1")
	if first == nil {
		t.Fatalf("first submit: %d %s", resp.StatusCode, data)
	}
	s := e.script()
	s.Token("a")
	again, resp, data := e.openSubmit(`{"prompt":"p"}`, HeaderIdempotencyKey, "k-1")
	if again == nil {
		t.Fatalf("retry: %d %s", resp.StatusCode, data)
	}
	if a, b := idFromLocation(t, first.resp), idFromLocation(t, again.resp); a != b {
		t.Fatalf("the retry streams %s, the first %s", b, a)
	}
	if first.resp.Header.Get(HeaderIdempotentReplayed) != "" || again.resp.Header.Get(HeaderIdempotentReplayed) != "true" {
		t.Fatalf("Idempotent-Replayed: first %q, retry %q", first.resp.Header.Get(HeaderIdempotentReplayed), again.resp.Header.Get(HeaderIdempotentReplayed))
	}
	s.Token("b")
	s.Finish(llm.FinishStop, nil)
	for _, st := range []*stream{first, again} {
		evs := st.readToEnd()
		checkSeqs(t, evs, 1)
		if got := joinText(evs); got != "ab" {
			t.Fatalf("text %q, want ab", got)
		}
	}
}

// TestASubmitStreamParksUnderFewFrames: the submit's parsing is not
// under the stream it answers with.
func TestASubmitStreamParksUnderFewFrames(t *testing.T) {
	e := newEnv(t)
	st, resp, data := e.openSubmit(`{"prompt":"p"}`)
	if st == nil {
		t.Fatalf("submit: %d %s", resp.StatusCode, data)
	}
	frames := waitParked(t, "github.com/armistice-go/armistice/http.Pump")
	if len(frames) > maxParkedFrames {
		t.Errorf("a submit's stream parks under %d functions, want at most %d:\n  %s", len(frames), maxParkedFrames, strings.Join(frames, "\n  "))
	}
	t.Logf("parked under:\n  %s", strings.Join(frames, "\n  "))
	st.close()
}

func TestAcceptsEventStream(t *testing.T) {
	cases := []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"*/*"}, false},
		{[]string{"text/*"}, false},
		{[]string{"application/json"}, false},
		{[]string{"text/event-streamer"}, false},
		{[]string{"text/event-stream"}, true},
		{[]string{"TEXT/Event-Stream"}, true},
		{[]string{"application/json, text/event-stream;q=0.5"}, true},
		{[]string{"application/json", " text/event-stream ; charset=utf-8"}, true},
	}
	for _, c := range cases {
		r, _ := stdhttp.NewRequest("POST", "/v1/requests", nil)
		for _, v := range c.accept {
			r.Header.Add("Accept", v)
		}
		if got := acceptsEventStream(r); got != c.want {
			t.Errorf("Accept %q: %v, want %v", c.accept, got, c.want)
		}
	}
}
