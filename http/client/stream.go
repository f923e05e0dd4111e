package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sse "github.com/tmaxmax/go-sse"
)

// maxEventBytes bounds one SSE event; records are far smaller.
const maxEventBytes = 1 << 20

// errNoEnd: the server closed the stream before its end event.
var errNoEnd = errors.New("client: the stream ended before its end event")

// Event is one record of a request's log, as one SSE event.
type Event struct {
	// Name is the SSE event name: "state", "token", "end", or a kind this
	// client does not know ("reasoning", "tool_call", ...), passed through.
	Name string
	// Seq is the record's sequence number: 1, 2, ... without gaps.
	Seq uint64
	// Data is the event's JSON data, as received.
	Data json.RawMessage
	// State is the new state of a "state" event ("pending", "streaming").
	State string
	// Text is the text of a "token" event (and of any event whose data
	// has a "text" field).
	Text string
	// End is set on the "end" event: how the request ended.
	End *End
}

// End is the data of the end event: how the request ended.
type End struct {
	State   string `json:"state"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	Tokens  int    `json:"tokens"`
	Usage   *Usage `json:"usage,omitempty"`
}

// Decode unmarshals the event's data into v, for event kinds whose fields
// Event does not carry.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// record is the union of the fields of the known records.
type record struct {
	Seq   uint64 `json:"seq"`
	State string `json:"state"`
	Text  string `json:"text"`
	End
}

// Stream reads the request's event log after the cursor `after` (0: from
// the start) and yields its records, in order, each once, ending with
// exactly one "end" event, or with one error. A dropped or silent
// connection, a 429 or a 5xx is resumed from the last seq received (see
// the package documentation). Breaking out of the loop closes the stream;
// it does not cancel the request.
//
// When the cursor is already at or past the end of a finished request,
// the server has nothing left to send (204); Stream then yields one end
// event built from the request's snapshot (its Data is re-encoded).
func (c *Client) Stream(ctx context.Context, id string, after uint64) iter.Seq2[Event, error] {
	return c.stream(ctx, id, after, nil)
}

// SubmitAndStream submits r and streams the new request from its first
// event in one HTTP exchange, where Chat takes two: the submit asks for
// the event stream (Accept: text/event-stream) and the server answers
// with it, naming the request in Location (docs/api.md, "Answer as a
// stream, in the same round trip"). It returns once the server has
// answered, with the request's id (for Cancel or Status) and its events,
// which behave as Stream's: a dropped stream resumes from the last seq
// received. The submit is retried as Submit's is, with one
// Idempotency-Key. A server that answers the submit with its snapshot
// (202) instead is streamed with a second call, as Chat does.
//
// The answer's connection stays open until events has been ranged over to
// its end or the loop breaks; a caller that drops events without ranging
// over it must cancel ctx to close it.
func (c *Client) SubmitAndStream(ctx context.Context, r Request) (string, iter.Seq2[Event, error], error) {
	answerCtx, cancel := context.WithCancel(ctx)
	resp, err := c.submit(answerCtx, r, "text/event-stream")
	if err != nil {
		cancel()
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer drain(resp)
		snap, err := decodeSubmitted(resp)
		if err != nil {
			return "", nil, err
		}
		return snap.ID, c.Stream(ctx, snap.ID, 0), nil
	}
	id, ok := strings.CutPrefix(resp.Header.Get("Location"), "/v1/requests/")
	if id, _ = url.PathUnescape(id); !ok || id == "" {
		resp.Body.Close()
		cancel()
		return "", nil, fmt.Errorf("%w: the submit answered with its event stream but Location %q names no request", ErrProtocol, resp.Header.Get("Location"))
	}
	return id, c.stream(ctx, id, 0, &answer{resp: resp, cancel: cancel}), nil
}

// answer is an event stream the server has already answered with (a
// submit's), read by a stream's first attempt; cancel ends its exchange.
type answer struct {
	resp   *http.Response
	cancel context.CancelFunc
}

// stream reads the request's log after the cursor, starting with first
// when it is set.
func (c *Client) stream(ctx context.Context, id string, after uint64, first *answer) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		answered := first
		first = nil // a second range over the events reads them anew
		if answered != nil {
			defer answered.cancel()
		}
		s := &streamer{c: c, id: id, last: after, yield: yield, first: answered}
		for failures := 0; ; {
			err := s.attempt(ctx)
			if s.done {
				return
			}
			var t *transient
			if !errors.As(err, &t) || ctx.Err() != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(Event{}, err)
				return
			}
			if s.progressed {
				failures = 0
				s.progressed = false
			}
			if failures++; failures >= c.retry.MaxAttempts {
				yield(Event{}, fmt.Errorf("%w: stream %s after %d attempts: %w", ErrGaveUp, id, failures, t.err))
				return
			}
			if err := c.wait(ctx, "stream", failures, t.err); err != nil {
				yield(Event{}, err)
				return
			}
		}
	}
}

// transient marks a stream failure that a reconnect may cure.
type transient struct{ err error }

func (t *transient) Error() string { return t.err.Error() }
func (t *transient) Unwrap() error { return t.err }

// streamer is one Stream's progress.
type streamer struct {
	c          *Client
	id         string
	last       uint64 // the last seq yielded (or the cursor)
	yield      func(Event, error) bool
	progressed bool // a record arrived since the last failure
	done       bool // the end was yielded, or the consumer stopped
	first      *answer
}

// attempt makes one events request, or takes the answer the stream
// started with, and yields what it reads.
func (s *streamer) attempt(ctx context.Context) error {
	var resp *http.Response
	var cancel context.CancelFunc
	if s.first != nil {
		resp, cancel = s.first.resp, s.first.cancel
		s.first = nil
	} else {
		ctx, cancel = context.WithCancel(ctx)
		req, err := s.c.newRequest(ctx, http.MethodGet, requestPath(s.id, "/events"), nil)
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Accept", "text/event-stream")
		if s.last > 0 {
			req.Header.Set("Last-Event-ID", strconv.FormatUint(s.last, 10))
		}
		if resp, err = s.c.hc.Do(req); err != nil {
			cancel()
			return &transient{err}
		}
	}
	defer cancel()
	switch resp.StatusCode {
	case http.StatusOK:
		defer resp.Body.Close()
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
			return fmt.Errorf("%w: the events route answered %q, not text/event-stream", ErrProtocol, mt)
		}
		body := io.Reader(resp.Body)
		if idle := s.c.retry.IdleTimeout; idle > 0 {
			w := &idleWatch{body: resp.Body, idle: idle, timer: time.AfterFunc(idle, cancel)}
			defer w.timer.Stop()
			body = w
		}
		return s.read(body)
	case http.StatusNoContent:
		drain(resp)
		return s.endFromSnapshot(ctx)
	}
	e := s.c.apiError(resp)
	drain(resp)
	if e.retryable() {
		return &transient{e}
	}
	return e
}

// read yields the records of one event stream.
func (s *streamer) read(body io.Reader) error {
	for ev, err := range sse.Read(body, &sse.ReadConfig{MaxEventSize: maxEventBytes}) {
		if err != nil {
			return &transient{fmt.Errorf("client: stream broken: %w", err)}
		}
		if ev.Type == "error" {
			// An error after the response was committed; the log is
			// intact, so read it again.
			return &transient{fmt.Errorf("client: the server reported a stream error: %s", ev.Data)}
		}
		if ev.Data == "" {
			continue
		}
		var r record
		if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
			return fmt.Errorf("%w: event %q: %v", ErrProtocol, ev.Type, err)
		}
		if r.Seq == 0 {
			r.Seq, _ = strconv.ParseUint(ev.LastEventID, 10, 64)
		}
		switch {
		case r.Seq == 0:
			return fmt.Errorf("%w: event %q without a seq", ErrProtocol, ev.Type)
		case r.Seq <= s.last:
			continue // already yielded
		case r.Seq != s.last+1:
			return fmt.Errorf("%w: the stream skipped records %d to %d", ErrProtocol, s.last+1, r.Seq-1)
		}
		s.last, s.progressed = r.Seq, true
		out := Event{Name: ev.Type, Seq: r.Seq, Data: json.RawMessage(ev.Data), State: r.State, Text: r.Text}
		if ev.Type == "end" {
			end := r.End
			end.State = r.State // the outer State field shadows End's
			out.End = &end
		}
		if !s.yield(out, nil) || ev.Type == "end" {
			s.done = true
			return nil
		}
	}
	return &transient{errNoEnd}
}

// endFromSnapshot yields the end after a 204: the cursor was at or past
// the end record, so the snapshot tells how the request ended.
func (s *streamer) endFromSnapshot(ctx context.Context) error {
	snap, err := s.c.Status(ctx, s.id)
	if err != nil {
		return err
	}
	if snap.Status == "" {
		return fmt.Errorf("%w: the stream is over but the request is %s", ErrProtocol, snap.State)
	}
	end := End{State: snap.State, Status: snap.Status, Reason: snap.Reason, Message: snap.Message, Tokens: snap.Tokens, Usage: snap.Usage}
	data, err := json.Marshal(struct {
		Seq uint64 `json:"seq"`
		End
	}{snap.LastSeq, end})
	if err != nil {
		return err
	}
	s.done = true
	s.yield(Event{Name: "end", Seq: snap.LastSeq, Data: data, End: &end}, nil)
	return nil
}

// idleWatch cancels a stream on which nothing arrived for a while; the
// blocked Read then fails and the stream is resumed.
type idleWatch struct {
	body  io.Reader
	idle  time.Duration
	timer *time.Timer
}

func (w *idleWatch) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	if n > 0 {
		w.timer.Reset(w.idle)
	}
	return n, err
}
