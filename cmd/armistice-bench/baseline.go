package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/labstack/echo/v4"
)

// The baseline is the seed's design with its fixes, as the post-mortem in
// docs (shared/design/seed-story.md) describes it, and nothing more:
//
//   - a manager: a mutex-guarded map[id]*seedRequest;
//   - one worker goroutine per request, which streams the provider's
//     chunks into a buffered channel read by the SSE handler;
//   - fix 1: every send selects on the request's context (sendEvent), so
//     a worker never blocks forever on a reader that left;
//   - fix 2: the worker's deferred cleanup reads the state under the lock
//     and skips the delete while the result has not been picked up (a
//     cancelled request, or one nobody attached to yet); a janitor removes
//     those after the pickup window;
//   - fix 3: the "last gasp": after a cancel, the final status is sent
//     without blocking and ignoring the context, best effort;
//   - the cancel is recorded under the lock before the context is
//     cancelled (catalogue item 5); only the worker closes the channel
//     (items 11 and 22); a client disconnect cancels the request, as in
//     the seed.
//
// It speaks the same API shape and SSE format as Armistice (submit, then
// events, cancel), and uses the same llm.Provider to reach the upstream,
// so a comparison measures the relay design, not the plumbing.

type seedState uint8

const (
	seedPending seedState = iota
	seedStreaming
	seedCancelled
	seedDone
	seedFailed
)

func (s seedState) String() string {
	switch s {
	case seedPending:
		return "pending"
	case seedStreaming:
		return "streaming"
	case seedCancelled:
		return "cancelled"
	case seedDone:
		return "completed"
	}
	return "failed"
}

// seedEvent is what the worker sends the handler: a token, or the final
// status (final true).
type seedEvent struct {
	text   string
	final  bool
	status seedState
	reason string
}

type seedRequest struct {
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	events chan seedEvent // closed by the worker only

	// Guarded by the manager's mutex.
	state       seedState
	reason      string
	attached    bool
	finished    bool // the worker returned
	cancelledAt time.Time
	tokens      int
}

// seedConfig sizes the baseline.
type seedConfig struct {
	// Buffer is the capacity of each request's channel.
	Buffer int
	// Pickup is how long an unclaimed result (cancelled, or never
	// attached to) stays for pickup (the seed: 1 s).
	Pickup time.Duration
	// JanitorEvery is the janitor's tick (the seed: 2 min).
	JanitorEvery time.Duration
}

func defaultSeedConfig() seedConfig {
	return seedConfig{Buffer: 64, Pickup: time.Second, JanitorEvery: 2 * time.Minute}
}

type seedManager struct {
	cfg      seedConfig
	provider llm.Provider
	nextID   atomic.Uint64

	mu   sync.Mutex
	reqs map[string]*seedRequest

	workers sync.WaitGroup
	stop    chan struct{}
	stopped sync.WaitGroup

	// workerDone, when set, is called as each worker returns (tests).
	workerDone func(id string)
}

func newSeedManager(p llm.Provider, cfg seedConfig) *seedManager {
	m := &seedManager{cfg: cfg, provider: p, reqs: map[string]*seedRequest{}, stop: make(chan struct{})}
	m.stopped.Add(1)
	go m.janitor()
	return m
}

// Len is the number of requests in the map.
func (m *seedManager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reqs)
}

// Close cancels every request, waits for the workers and stops the
// janitor.
func (m *seedManager) Close() {
	m.mu.Lock()
	for _, r := range m.reqs {
		if r.state == seedPending || r.state == seedStreaming {
			r.state, r.reason, r.cancelledAt = seedCancelled, "shutdown", time.Now()
		}
		r.cancel()
	}
	m.mu.Unlock()
	m.workers.Wait()
	close(m.stop)
	m.stopped.Wait()
	m.mu.Lock()
	clear(m.reqs)
	m.mu.Unlock()
}

func (m *seedManager) janitor() {
	defer m.stopped.Done()
	t := time.NewTicker(m.cfg.JanitorEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			m.sweep(now)
		}
	}
}

// sweep removes finished results whose pickup window has passed.
func (m *seedManager) sweep(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.reqs {
		if r.finished && !r.cancelledAt.IsZero() && now.Sub(r.cancelledAt) >= m.cfg.Pickup {
			delete(m.reqs, id)
		}
	}
}

// submit registers a request and starts its worker.
func (m *seedManager) submit(req llm.Request) *seedRequest {
	ctx, cancel := context.WithCancel(context.Background())
	r := &seedRequest{
		id:     "seed-" + strconv.FormatUint(m.nextID.Add(1), 10),
		ctx:    ctx,
		cancel: cancel,
		events: make(chan seedEvent, m.cfg.Buffer),
	}
	m.mu.Lock()
	m.reqs[r.id] = r
	m.mu.Unlock()
	m.workers.Add(1)
	go m.work(r, req)
	return r
}

// sendEvent is fix 1: a send that gives up once the request is cancelled.
func sendEvent(ctx context.Context, ch chan<- seedEvent, ev seedEvent) bool {
	select {
	case ch <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// lastGasp is fix 3: the final status, without blocking and without
// looking at the context. Best effort: with a full buffer it is lost.
func lastGasp(ch chan<- seedEvent, ev seedEvent) {
	select {
	case ch <- ev:
	default:
	}
}

func (m *seedManager) work(r *seedRequest, req llm.Request) {
	defer m.workers.Done()
	if m.workerDone != nil {
		defer m.workerDone(r.id)
	}
	defer r.cancel()      // release the context's resources
	defer m.cleanup(r)    // fix 2, runs after the channel is closed
	defer close(r.events) // only the worker closes the channel
	if !m.transition(r, seedPending, seedStreaming, "") {
		lastGasp(r.events, m.final(r))
		return
	}
	end := func(st seedState, reason string) {
		if m.transition(r, seedStreaming, st, reason) {
			sendEvent(r.ctx, r.events, seedEvent{final: true, status: st, reason: reason})
			return
		}
		// Cancelled meanwhile: the cancel was recorded first.
		lastGasp(r.events, m.final(r))
	}
	stream, err := m.provider.Stream(r.ctx, req)
	if err != nil {
		end(seedFailed, "upstream_error")
		return
	}
	defer stream.Close()
	finished := false
	for {
		ch, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			if finished {
				end(seedDone, "stop")
			} else {
				end(seedFailed, "upstream_error")
			}
			return
		case err != nil:
			end(seedFailed, "upstream_error")
			return
		}
		if ch.Text != "" && !finished {
			if !sendEvent(r.ctx, r.events, seedEvent{text: ch.Text}) {
				lastGasp(r.events, m.final(r))
				return
			}
		}
		if ch.FinishReason != llm.FinishNone {
			finished = true
		}
	}
}

// transition moves r from one state to another under the lock.
func (m *seedManager) transition(r *seedRequest, from, to seedState, reason string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.state != from {
		return false
	}
	r.state, r.reason = to, reason
	return true
}

func (m *seedManager) final(r *seedRequest) seedEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return seedEvent{final: true, status: r.state, reason: r.reason}
}

// cleanup is fix 2: the entry goes at once unless its result still has to
// be picked up; then the janitor removes it after the pickup window.
func (m *seedManager) cleanup(r *seedRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.finished = true
	if r.state == seedCancelled || !r.attached {
		if r.cancelledAt.IsZero() {
			r.cancelledAt = time.Now()
		}
		return
	}
	delete(m.reqs, r.id)
}

// cancelRequest records the cancel, then cancels the context. It reports
// the state the request was in.
func (m *seedManager) cancelRequest(id, reason string) (seedState, bool) {
	m.mu.Lock()
	r := m.reqs[id]
	if r == nil {
		m.mu.Unlock()
		return 0, false
	}
	st := r.state
	if st == seedPending || st == seedStreaming {
		r.state, r.reason, r.cancelledAt = seedCancelled, reason, time.Now()
		st = seedCancelled
	}
	m.mu.Unlock()
	if st == seedCancelled {
		r.cancel()
	}
	return st, true
}

// attach claims the request's channel for one reader.
func (m *seedManager) attach(id string) (*seedRequest, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reqs[id]
	switch {
	case r == nil:
		return nil, http.StatusNotFound
	case r.attached:
		return nil, http.StatusConflict
	}
	r.attached = true
	if r.finished && r.state != seedCancelled {
		// Completed before anyone attached: the channel still holds the
		// answer; nothing else will read it, so the entry can go.
		delete(m.reqs, id)
	}
	return r, 0
}

// seedServer is the baseline's HTTP front: echo, as Armistice uses.
type seedServer struct {
	m    *seedManager
	echo *echo.Echo
	srv  *http.Server
	ln   net.Listener
	url  string
	done sync.WaitGroup
}

func newSeedServer(p llm.Provider, cfg seedConfig) (*seedServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &seedServer{m: newSeedManager(p, cfg), ln: ln, url: "http://" + ln.Addr().String()}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/v1/requests", s.submit)
	e.GET("/v1/requests/:id/events", s.events)
	e.POST("/v1/requests/:id/cancel", s.cancel)
	s.echo = e
	s.srv = &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second, ErrorLog: quietLog()}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *seedServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.m.Close() // ends every stream, so Shutdown need not wait for them
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	s.done.Wait()
}

type seedSubmit struct {
	Prompt string `json:"prompt"`
	Model  string `json:"model"`
}

func (s *seedServer) submit(c echo.Context) error {
	var body seedSubmit
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, 1<<20)).Decode(&body); err != nil || body.Prompt == "" {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "bad request"})
	}
	r := s.m.submit(llm.Request{Model: body.Model, Messages: []llm.Message{{Role: llm.RoleUser, Content: body.Prompt}}})
	return c.JSON(http.StatusAccepted, map[string]string{"id": r.id, "state": "pending"})
}

func (s *seedServer) cancel(c echo.Context) error {
	st, ok := s.m.cancelRequest(c.Param("id"), "client_cancel")
	switch {
	case !ok:
		return c.JSON(http.StatusNotFound, map[string]string{"error": "request not found"})
	case st != seedCancelled:
		return c.JSON(http.StatusConflict, map[string]string{"status": "already finished", "state": st.String()})
	}
	return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id"), "status": "cancelled"})
}

// events relays the channel as SSE, flushing once the channel is drained.
func (s *seedServer) events(c echo.Context) error {
	r, code := s.m.attach(c.Param("id"))
	if r == nil {
		return c.JSON(code, map[string]string{"error": http.StatusText(code)})
	}
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Flush()
	ctx := c.Request().Context()
	var seq uint64
	buf := make([]byte, 0, 4096)
	for {
		var ev seedEvent
		var ok bool
		select {
		case ev, ok = <-r.events:
		case <-ctx.Done():
			// The client left: in the seed, a disconnect cancels.
			s.m.cancelRequest(r.id, "client_disconnected")
			return nil
		}
		if !ok {
			return nil // the worker ended without a final status (lost gasp)
		}
		b := buf[:0]
		final := false
		for {
			seq++
			b = appendSeedEvent(b, seq, ev)
			final = ev.final
			if final {
				break
			}
			select {
			case ev, ok = <-r.events:
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if _, err := w.Write(b); err != nil {
			s.m.cancelRequest(r.id, "client_disconnected")
			return nil
		}
		w.Flush()
		if cap(b) <= 64<<10 {
			buf = b
		}
		if final {
			return nil
		}
	}
}

func appendSeedEvent(b []byte, seq uint64, ev seedEvent) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, seq, 10)
	if ev.final {
		b = append(b, "\nevent: end\ndata: {\"seq\":"...)
		b = strconv.AppendUint(b, seq, 10)
		b = append(b, `,"status":"`...)
		b = append(b, ev.status.String()...)
		b = append(b, `","reason":"`...)
		b = append(b, ev.reason...)
		return append(b, "\"}\n\n"...)
	}
	b = append(b, "\nevent: token\ndata: {\"seq\":"...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"text":`...)
	b = strconv.AppendQuote(b, ev.text)
	return append(b, "}\n\n"...)
}
