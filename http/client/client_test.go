package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	stdhttp "net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/client"
)

func TestChatStreamsOneAnswerToItsEnd(t *testing.T) {
	s := startServer(t, serverOptions{tokens: 20})
	c := newClient(t, s.url, nil)
	snap, events, err := c.Chat(t.Context(), client.Request{Prompt: "Tell me a story", MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	if snap.ID == "" || snap.State != "pending" {
		t.Fatalf("submit snapshot %+v", snap)
	}
	evs, err := collect(t, events)
	if err != nil {
		t.Fatal(err)
	}
	text := checkOnce(t, evs, 1)
	end := evs[len(evs)-1].End
	if end == nil || end.Status != "completed" || end.Reason != "length" || end.Tokens != 10 {
		t.Fatalf("end %+v", end)
	}
	if evs[0].Name != "state" || evs[0].State != "pending" {
		t.Fatalf("first event %+v", evs[0])
	}
	if text == "" {
		t.Fatal("no text")
	}
	final, err := c.Status(t.Context(), snap.ID)
	if err != nil || final.Status != "completed" || final.Tokens != 10 || final.LastSeq != evs[len(evs)-1].Seq {
		t.Fatalf("Status = %+v, %v", final, err)
	}
}

// A stream cut three times mid-way resumes by itself from the last seq:
// every record arrives once, and the text equals an undisturbed read.
func TestStreamResumesAfterDroppedConnections(t *testing.T) {
	s := startServer(t, serverOptions{tokens: 300})
	cut := &cutter{next: &stdhttp.Transport{}, after: 1500, left: 3}
	t.Cleanup(cut.next.(*stdhttp.Transport).CloseIdleConnections)
	var retries []client.Retry
	sl := &sleeps{}
	c := newClientWith(t, s.url, &stdhttp.Client{Transport: cut}, sl, client.WithOnRetry(func(r client.Retry) { retries = append(retries, r) }))
	snap, err := c.Submit(t.Context(), client.Request{Prompt: "Tell me a long story"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, c.Stream(t.Context(), snap.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := checkOnce(t, evs, 1)
	if len(retries) != 3 || len(sl.get()) != 3 {
		t.Fatalf("retries %+v, waits %v; want 3 of each", retries, sl.get())
	}
	for _, r := range retries {
		if r.Op != "stream" || !errors.Is(r.Err, errCut) {
			t.Fatalf("retry %+v", r)
		}
	}
	// Each reconnect asked for the records after the last one received.
	var ids []string
	for _, x := range s.rec.seen() {
		if strings.HasSuffix(x.path, "/events") {
			ids = append(ids, x.lastEventID)
		}
	}
	if len(ids) != 4 || ids[0] != "" {
		t.Fatalf("Last-Event-ID sent: %q", ids)
	}
	for i, id := range ids[1:] {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || n == 0 || (i > 0 && n <= mustUint(ids[i])) {
			t.Fatalf("Last-Event-ID sent: %q", ids)
		}
	}
	plain := newClient(t, s.url, nil)
	again, err := collect(t, plain.Stream(t.Context(), snap.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := checkOnce(t, again, 1); got != want {
		t.Fatalf("resumed text differs:\n got %q\nwant %q", got, want)
	}
}

func mustUint(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }

// Resuming from a cursor gives the records after it, and a cursor at the
// end gives one end event rebuilt from the snapshot.
func TestStreamFromACursor(t *testing.T) {
	s := startServer(t, serverOptions{tokens: 5})
	c := newClient(t, s.url, nil)
	snap, all, err := c.Chat(t.Context(), client.Request{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, all)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := collect(t, c.Stream(t.Context(), snap.ID, 3))
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, tail, 4)
	if len(tail) != len(evs)-3 {
		t.Fatalf("%d events after 3, want %d", len(tail), len(evs)-3)
	}
	last := evs[len(evs)-1]
	end, err := collect(t, c.Stream(t.Context(), snap.ID, last.Seq))
	if err != nil {
		t.Fatal(err)
	}
	if len(end) != 1 || end[0].Name != "end" || end[0].Seq != last.Seq || end[0].End == nil ||
		!reflect.DeepEqual(end[0].End, last.End) {
		t.Fatalf("after the end: %+v, want %+v", end, last)
	}
}

// A submit refused 429 waits what Retry-After says, then succeeds; every
// attempt carries the same Idempotency-Key.
func TestSubmitHonoursRetryAfter(t *testing.T) {
	s := startServer(t, serverOptions{rate: 1, tokens: 1000, engine: func(c *actors.Config) { c.MaxActive, c.MaxQueued = 1, 0 }})
	sl := &sleeps{}
	c := newClient(t, s.url, sl)
	busy, err := c.Submit(t.Context(), client.Request{Prompt: "take the only slot"})
	if err != nil {
		t.Fatal(err)
	}
	sl.hook = func(i int) {
		if i > 0 {
			return
		}
		// Free the slot: cancel the busy request and read it to its end.
		if _, err := c.Cancel(t.Context(), busy.ID); err != nil {
			t.Error(err)
		}
		for range c.Stream(t.Context(), busy.ID, 0) {
		}
	}
	snap, err := c.Submit(t.Context(), client.Request{Prompt: "second"})
	if err != nil {
		t.Fatalf("Submit after 429: %v (waits %v)", err, sl.get())
	}
	var posts []seen
	for _, x := range s.rec.seen() {
		if x.method == stdhttp.MethodPost && x.path == "/v1/requests" && x.body == `{"prompt":"second"}` {
			posts = append(posts, x)
		}
	}
	waits := sl.get()
	if len(posts) < 2 || posts[0].status != 429 || posts[len(posts)-1].status != 202 || len(waits) != len(posts)-1 {
		t.Fatalf("posts %+v, waits %v", posts, waits)
	}
	for i, p := range posts {
		if p.idempotencyKey == "" || p.idempotencyKey != posts[0].idempotencyKey {
			t.Fatalf("attempt %d: Idempotency-Key %q, first %q", i, p.idempotencyKey, posts[0].idempotencyKey)
		}
		if i < len(waits) {
			secs, err := strconv.Atoi(p.retryAfter)
			if err != nil || waits[i] != time.Duration(secs)*time.Second {
				t.Fatalf("attempt %d: Retry-After %q, waited %v", i, p.retryAfter, waits[i])
			}
		}
	}
	if snap.ID == "" {
		t.Fatal("no id")
	}
	// A new submit has a new key.
	if _, err := c.Cancel(t.Context(), snap.ID); err != nil {
		t.Fatal(err)
	}
}

// A stream refused 429 (too many subscribers) waits Retry-After, then
// attaches and reads to the end.
func TestStreamHonoursRetryAfter(t *testing.T) {
	s := startServer(t, serverOptions{rate: 1000, tokens: 50, engine: func(c *actors.Config) { c.MaxSubscribers = 1 }})
	sl := &sleeps{}
	c := newClient(t, s.url, sl)
	snap, err := c.Submit(t.Context(), client.Request{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	// Another viewer holds the only subscription until the first wait.
	other, cancelOther := context.WithCancel(t.Context())
	req, _ := stdhttp.NewRequestWithContext(other, stdhttp.MethodGet, s.url+"/v1/requests/"+snap.ID+"/events", nil)
	tr := &stdhttp.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("viewer: %v %v", resp, err)
	}
	drained := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); resp.Body.Close(); close(drained) }()
	sl.hook = func(int) {
		cancelOther()
		<-drained
		// The server detaches the viewer's subscription on its own time:
		// ask until it has (each Status is a round trip, not a sleep).
		deadline := time.Now().Add(waitLimit)
		for time.Now().Before(deadline) {
			if st, err := c.Status(t.Context(), snap.ID); err != nil || st.Subscribers == 0 {
				return
			}
		}
	}
	evs, err := collect(t, c.Stream(t.Context(), snap.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, evs, 1)
	waits := sl.get()
	if len(waits) == 0 {
		t.Fatal("never refused")
	}
	for _, w := range waits {
		if w != time.Second {
			t.Fatalf("waits %v, want 1s each (Retry-After: 1)", waits)
		}
	}
}

func TestTypedErrors(t *testing.T) {
	s := startServer(t, serverOptions{tokens: 3, http: func(c *armhttp.Config) { c.APIKeys = map[string]string{"k": "alice"} }})
	ctx := t.Context()
	c := newClient(t, s.url, nil, client.WithAPIKey("k"))

	_, err := newClient(t, s.url, nil).Submit(ctx, client.Request{Prompt: "hi"})
	wantErr(t, "no key", err, client.ErrUnauthorized, 401, "unauthorized")
	_, err = newClient(t, s.url, nil, client.WithAPIKey("wrong")).Status(ctx, "x")
	wantErr(t, "wrong key", err, client.ErrUnauthorized, 401, "unauthorized")

	_, err = c.Status(ctx, "no-such-id")
	wantErr(t, "status", err, client.ErrNotFound, 404, "not_found")
	_, err = c.Cancel(ctx, "no-such-id")
	wantErr(t, "cancel", err, client.ErrNotFound, 404, "not_found")
	_, err = collect(t, c.Stream(ctx, "no-such-id", 0))
	wantErr(t, "stream", err, client.ErrNotFound, 404, "not_found")

	_, err = c.Submit(ctx, client.Request{Prompt: "  "})
	wantErr(t, "blank prompt", err, client.ErrInvalidRequest, 400, "invalid_request")

	snap, events, err := c.Chat(ctx, client.Request{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, events); err != nil {
		t.Fatal(err)
	}
	_, err = c.Cancel(ctx, snap.ID)
	e := wantErr(t, "cancel after the end", err, client.ErrAlreadyFinished, 409, "already_finished")
	if e.Snapshot == nil || e.Snapshot.ID != snap.ID || e.Snapshot.Status != "completed" {
		t.Fatalf("already_finished carries %+v", e.Snapshot)
	}
	if errors.Is(err, client.ErrNotFound) {
		t.Fatal("already_finished is ErrNotFound")
	}
	_, err = collect(t, c.Stream(ctx, snap.ID, 1<<40))
	if err != nil {
		t.Fatalf("a cursor past the end of a finished request: %v", err)
	}
}

func wantErr(t *testing.T, what string, err, sentinel error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || !errors.Is(err, sentinel) || e.Status != status || e.Code != code || e.Message == "" {
		t.Fatalf("%s: error %#v, want %v (%d %s)", what, err, sentinel, status, code)
	}
	return e
}

// Fields the client does not know yet travel in Extra.
func TestRequestExtraFields(t *testing.T) {
	r := client.Request{Prompt: "hi", Extra: map[string]any{"temperature": 0.5, "reasoning": map[string]string{"effort": "low"}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"prompt":"hi","reasoning":{"effort":"low"},"temperature":0.5}` {
		t.Fatalf("body %s", b)
	}
	_, err = json.Marshal(client.Request{Prompt: "hi", Extra: map[string]any{"prompt": "again"}})
	if err == nil || !strings.Contains(err.Error(), "prompt") {
		t.Fatalf("a repeated field: %v", err)
	}
	// The server refuses a field it does not know: it was sent.
	s := startServer(t, serverOptions{tokens: 3})
	_, err = newClient(t, s.url, nil).Submit(t.Context(), client.Request{Prompt: "hi", Extra: map[string]any{"no_such_setting": 1}})
	wantErr(t, "unknown field", err, client.ErrInvalidRequest, 400, "invalid_request")
}

// Event kinds the client does not know are passed through with their
// name and raw data.
func TestUnknownEventsPassThrough(t *testing.T) {
	h := stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": ping\n\nid: 1\nevent: state\ndata: {\"seq\":1,\"state\":\"streaming\"}\n\n"+
			"id: 2\nevent: reasoning\ndata: {\"seq\":2,\"text\":\"hmm\"}\n\n"+
			"id: 3\nevent: tool_call\ndata: {\"seq\":3,\"index\":0,\"name\":\"f\"}\n\n"+
			"id: 4\nevent: end\ndata: {\"seq\":4,\"state\":\"done\",\"status\":\"completed\",\"reason\":\"stop\",\"tokens\":0}\n\n")
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := newClient(t, srv.URL, nil)
	evs, err := collect(t, c.Stream(t.Context(), "r", 0))
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, evs, 1)
	if evs[1].Name != "reasoning" || evs[1].Text != "hmm" || evs[2].Name != "tool_call" || string(evs[2].Data) != `{"seq":3,"index":0,"name":"f"}` {
		t.Fatalf("events %+v", evs)
	}
	var call struct{ Name string }
	if err := evs[2].Decode(&call); err != nil || call.Name != "f" {
		t.Fatalf("Decode: %+v %v", call, err)
	}
}

// A server that stays unreachable makes the stream give up after
// MaxAttempts, with backoff between attempts.
func TestStreamGivesUp(t *testing.T) {
	srv := httptest.NewServer(stdhttp.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	sl := &sleeps{}
	p := client.DefaultRetryPolicy()
	p.MaxAttempts, p.Rand, p.Sleep = 4, func() float64 { return 0 }, sl.sleep
	c, err := client.New(url, client.WithRetry(p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	_, err = collect(t, c.Stream(t.Context(), "r", 0))
	if !errors.Is(err, client.ErrGaveUp) {
		t.Fatalf("err %v, want ErrGaveUp", err)
	}
	ms := time.Millisecond
	if got := sl.get(); len(got) != 3 || got[0] != 50*ms || got[1] != 100*ms || got[2] != 200*ms {
		t.Fatalf("waits %v, want 50ms 100ms 200ms", got)
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "::"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// Stopping the iteration early closes the stream.
func TestStreamBreakEarly(t *testing.T) {
	s := startServer(t, serverOptions{rate: 100, tokens: 1000})
	c := newClient(t, s.url, nil)
	snap, events, err := c.Chat(t.Context(), client.Request{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range events {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name == "token" {
			break
		}
	}
	got, err := c.Cancel(t.Context(), snap.ID)
	if err != nil || got.State != "cancelled" {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
}

// Which submit answers are retried: 429 always, 503 only when it says
// when to come back (shutting_down does not), nothing else.
// A submit (plain, or asking for its event stream) is retried only when
// the answer says a retry may pass, with one Idempotency-Key; the error
// answer comes back typed, before any stream.
func TestSubmitRetriesOnlyWhatMayPass(t *testing.T) {
	submits := map[string]func(*client.Client) error{
		"Submit": func(c *client.Client) error {
			_, err := c.Submit(t.Context(), client.Request{Prompt: "p"})
			return err
		},
		"SubmitAndStream": func(c *client.Client) error {
			_, events, err := c.SubmitAndStream(t.Context(), client.Request{Prompt: "p"})
			if events != nil {
				t.Error("SubmitAndStream returned events with its error")
			}
			return err
		},
	}
	for _, tc := range []struct {
		status     int
		retryAfter string
		posts      int
	}{
		{429, "", 4},
		{429, "1", 4},
		{503, "1", 4},
		{503, "", 1},
		{500, "1", 1},
		{400, "", 1},
	} {
		for name, submit := range submits {
			var mu sync.Mutex
			var keys []string
			srv := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, `{"error":{"code":"x","message":"y"}}`)
			}))
			err := submit(newClient(t, srv.URL, &sleeps{}))
			srv.Close()
			var e *client.Error
			if !errors.As(err, &e) || e.Status != tc.status || len(keys) != tc.posts {
				t.Errorf("%s, %d with Retry-After %q: %d posts, err %v; want %d posts", name, tc.status, tc.retryAfter, len(keys), err, tc.posts)
			}
			for _, k := range keys {
				if k == "" || k != keys[0] {
					t.Errorf("%s, %d: Idempotency-Keys %q, want one key", name, tc.status, keys)
				}
			}
		}
	}
}
