package client_test

import (
	"errors"
	"io"
	stdhttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/armistice-go/armistice/http/client"
)

// SubmitAndStream creates the request and reads its answer in one HTTP
// exchange: the events from the first to the end, and the id that names
// the request.
func TestSubmitAndStreamTakesOneExchange(t *testing.T) {
	s := startServer(t, serverOptions{tokens: 20})
	c := newClient(t, s.url, nil)
	id, events, err := c.SubmitAndStream(t.Context(), client.Request{Prompt: "Tell me a story", MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, events)
	if err != nil {
		t.Fatal(err)
	}
	text := checkOnce(t, evs, 1)
	if evs[0].Name != "state" || evs[0].State != "pending" || text == "" {
		t.Fatalf("first event %+v, text %q", evs[0], text)
	}
	if end := evs[len(evs)-1].End; end == nil || end.Status != "completed" || end.Tokens != 10 {
		t.Fatalf("end %+v", end)
	}
	exchanges := s.rec.seen()
	if len(exchanges) != 1 || exchanges[0].method != stdhttp.MethodPost || exchanges[0].status != stdhttp.StatusOK || exchanges[0].idempotencyKey == "" {
		t.Fatalf("exchanges %+v, want one POST answered 200 with its stream", exchanges)
	}
	final, err := c.Status(t.Context(), id)
	if err != nil || final.Status != "completed" || final.LastSeq != evs[len(evs)-1].Seq {
		t.Fatalf("Status(%q) = %+v, %v", id, final, err)
	}
}

// A submit's stream that drops resumes from the last seq with GET
// .../events, like any stream: every record once, the same text as an
// undisturbed read.
func TestSubmitAndStreamResumesAfterADrop(t *testing.T) {
	s := startServer(t, serverOptions{tokens: 300})
	cut := &cutter{next: &stdhttp.Transport{}, after: 1500, left: 2}
	t.Cleanup(cut.next.(*stdhttp.Transport).CloseIdleConnections)
	c := newClientWith(t, s.url, &stdhttp.Client{Transport: cut}, &sleeps{})
	id, events, err := c.SubmitAndStream(t.Context(), client.Request{Prompt: "Tell me a long story"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, events)
	if err != nil {
		t.Fatal(err)
	}
	got := checkOnce(t, evs, 1)
	var gets []seen
	for _, x := range s.rec.seen() {
		if x.method == stdhttp.MethodGet {
			gets = append(gets, x)
		}
	}
	if len(gets) != 2 || gets[0].path != "/v1/requests/"+id+"/events" || gets[0].lastEventID == "" {
		t.Fatalf("resumes %+v, want 2 GETs of %s's events with Last-Event-ID", gets, id)
	}
	again, err := collect(t, newClient(t, s.url, nil).Stream(t.Context(), id, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := checkOnce(t, again, 1); got != want {
		t.Fatalf("resumed text differs:\n got %q\nwant %q", got, want)
	}
}

// A submit whose connection fails before the answer is sent again with
// the same Idempotency-Key (the server answers a retry with the request
// the first attempt created, if it did), by Submit and SubmitAndStream.
func TestASubmitWhoseConnectionFailedIsRetriedWithItsKey(t *testing.T) {
	s := startServer(t, serverOptions{tokens: 5})
	var mu sync.Mutex
	posted := map[string][]string{} // Accept → the keys of its POSTs; the first of each is dropped
	front := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		mu.Lock()
		accept := r.Header.Get("Accept")
		drop := r.Method == stdhttp.MethodPost && len(posted[accept]) == 0
		if r.Method == stdhttp.MethodPost {
			posted[accept] = append(posted[accept], r.Header.Get("Idempotency-Key"))
		}
		mu.Unlock()
		if drop {
			conn, _, err := w.(stdhttp.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		r.URL.Host, r.URL.Scheme, r.RequestURI = strings.TrimPrefix(s.url, "http://"), "http", ""
		resp, err := stdhttp.DefaultTransport.RoundTrip(r)
		if err != nil {
			stdhttp.Error(w, err.Error(), stdhttp.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			w.(stdhttp.Flusher).Flush()
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(front.Close)
	t.Cleanup(stdhttp.DefaultTransport.(*stdhttp.Transport).CloseIdleConnections)
	c := newClient(t, front.URL, &sleeps{})

	snap, err := c.Submit(t.Context(), client.Request{Prompt: "plain"})
	if err != nil {
		t.Fatalf("Submit after a dropped connection: %v", err)
	}
	id, events, err := c.SubmitAndStream(t.Context(), client.Request{Prompt: "streamed"})
	if err != nil {
		t.Fatalf("SubmitAndStream after a dropped connection: %v", err)
	}
	if _, err := collect(t, events); err != nil {
		t.Fatal(err)
	}
	// Each submit was sent twice with one key (net/http's transport itself
	// resends a request with an Idempotency-Key whose reused connection
	// broke; the client does on a fresh one), and reached the server once.
	mu.Lock()
	for accept, keys := range posted {
		if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
			t.Errorf("Accept %q: keys of the POSTs %q, want the same key twice", accept, keys)
		}
	}
	mu.Unlock()
	var keys []string
	for _, x := range s.rec.seen() {
		if x.method == stdhttp.MethodPost {
			keys = append(keys, x.idempotencyKey)
		}
	}
	if len(keys) != 2 || keys[0] == "" || keys[1] == "" || keys[0] == keys[1] {
		t.Fatalf("keys the server saw %q, want one per submit", keys)
	}
	if snap.ID == "" || id == "" || snap.ID == id {
		t.Fatalf("ids %q and %q", snap.ID, id)
	}
}

// A server that answers a submit with its snapshot (202) although the
// client asked for the stream is read with a second call.
func TestSubmitAndStreamFallsBackToTwoCalls(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch {
		case r.Method == stdhttp.MethodPost && r.URL.Path == "/v1/requests":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(stdhttp.StatusAccepted)
			io.WriteString(w, `{"id":"r-1","state":"pending","last_seq":1}`)
		case r.URL.Path == "/v1/requests/r-1/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "id: 1\nevent: state\ndata: {\"seq\":1,\"state\":\"pending\"}\n\n"+
				"id: 2\nevent: token\ndata: {\"seq\":2,\"text\":\"hi\"}\n\n"+
				"id: 3\nevent: end\ndata: {\"seq\":3,\"state\":\"done\",\"status\":\"completed\",\"reason\":\"stop\",\"tokens\":1}\n\n")
		default:
			stdhttp.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, nil)
	id, events, err := c.SubmitAndStream(t.Context(), client.Request{Prompt: "p"})
	if err != nil || id != "r-1" {
		t.Fatalf("SubmitAndStream = %q, %v", id, err)
	}
	evs, err := collect(t, events)
	if err != nil {
		t.Fatal(err)
	}
	if text := checkOnce(t, evs, 1); text != "hi" {
		t.Fatalf("text %q", text)
	}
	if len(calls) != 2 {
		t.Fatalf("calls %q", calls)
	}
}

// A stream answer whose Location names no request is a protocol error,
// and its connection is closed.
func TestSubmitAndStreamWantsLocation(t *testing.T) {
	srv := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 1\nevent: state\ndata: {\"seq\":1,\"state\":\"pending\"}\n\n")
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, nil)
	if _, _, err := c.SubmitAndStream(t.Context(), client.Request{Prompt: "p"}); !errors.Is(err, client.ErrProtocol) {
		t.Fatalf("err %v, want ErrProtocol", err)
	}
}
