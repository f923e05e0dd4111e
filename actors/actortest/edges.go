package actortest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// ErrUpstreamClosed is what a scripted upstream stream returns once the
// world tore it down.
var ErrUpstreamClosed = errors.New("actortest: upstream closed")

// UpStep is one move of a scripted upstream stream.
type UpStep struct {
	Text   string
	Finish llm.FinishReason
	Usage  *llm.Usage
	Err    error // the stream fails (wrapped with llm.ErrUpstream)
	Cut    bool  // the stream ends without a finish reason
	Panic  any   // Recv panics
}

func (s UpStep) String() string {
	switch {
	case s.Panic != nil:
		return fmt.Sprintf("panic(%v)", s.Panic)
	case s.Err != nil:
		return "error"
	case s.Cut:
		return "cut"
	case s.Finish != llm.FinishNone:
		return "finish(" + string(s.Finish) + ")"
	}
	return fmt.Sprintf("token(%q)", s.Text)
}

// Tokens returns one step per text, then a stop finish.
func Tokens(texts ...string) []UpStep {
	steps := make([]UpStep, 0, len(texts)+1)
	for _, t := range texts {
		steps = append(steps, UpStep{Text: t})
	}
	return append(steps, UpStep{Finish: llm.FinishStop})
}

// Upstream is an llm.Provider whose streams are schedule participants:
// each step of a stream (a token, the finish, an error, a cut, a panic)
// happens only when the strategy chooses it, so the timing of the model
// against cancels, disconnects and timers is explored like message order.
// Streams are named by their request's first message, so give each
// request its own prompt.
type Upstream struct {
	w      *World
	script func(llm.Request) []UpStep

	mu      sync.Mutex
	streams []*upStream
	played  []Played
}

// Played is one step an upstream stream took, and when (virtual time).
type Played struct {
	Stream string
	Step   UpStep
	At     time.Time
}

type upStream struct {
	name    string
	ctx     context.Context
	steps   []UpStep
	ch      chan UpStep
	closed  chan struct{}
	once    sync.Once
	mu      sync.Mutex
	next    int
	waiting bool
	after   error // what Recv returns from now on
}

// NewUpstream returns a provider whose every stream plays steps, and
// registers it with the world.
func NewUpstream(w *World, steps ...UpStep) *Upstream {
	return NewUpstreamFunc(w, func(llm.Request) []UpStep { return steps })
}

// NewUpstreamFunc is NewUpstream with a script per request.
func NewUpstreamFunc(w *World, script func(llm.Request) []UpStep) *Upstream {
	u := &Upstream{w: w, script: script}
	w.Participant("upstream", u.moves)
	w.OnTeardown(u.closeAll)
	return u
}

// Name implements llm.Provider.
func (u *Upstream) Name() string { return "actortest" }

// Stream implements llm.Provider.
func (u *Upstream) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	name := ""
	if len(req.Messages) > 0 {
		name = req.Messages[0].Content
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 1
	for _, s := range u.streams {
		if s.name == name || (len(s.name) > len(name) && s.name[:len(name)] == name && s.name[len(name)] == '#') {
			n++
		}
	}
	if n > 1 {
		name = fmt.Sprintf("%s#%d", name, n)
	}
	s := &upStream{name: name, ctx: ctx, steps: u.script(req), ch: make(chan UpStep), closed: make(chan struct{})}
	u.streams = append(u.streams, s)
	return s, nil
}

// Opened reports how many streams were opened.
func (u *Upstream) Opened() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.streams)
}

// Played returns the steps the streams took so far, in order.
func (u *Upstream) Played() []Played {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.played)
}

// Cancelled reports whether the named stream's context was cancelled
// (the engine aborted the upstream call).
func (u *Upstream) Cancelled(name string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range u.streams {
		if s.name == name {
			return s.ctx.Err() != nil
		}
	}
	return false
}

func (u *Upstream) moves() []Move {
	u.mu.Lock()
	streams := slices.Clone(u.streams)
	u.mu.Unlock()
	slices.SortFunc(streams, func(a, b *upStream) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	var moves []Move
	for _, s := range streams {
		s.mu.Lock()
		ready := s.waiting && s.next < len(s.steps) && s.ctx.Err() == nil
		var step UpStep
		if ready {
			step = s.steps[s.next]
		}
		s.mu.Unlock()
		if !ready {
			continue
		}
		s := s
		moves = append(moves, Move{Name: "upstream " + s.name + " " + step.String(), Do: func() {
			s.mu.Lock()
			s.next++
			s.mu.Unlock()
			u.mu.Lock()
			u.played = append(u.played, Played{Stream: s.name, Step: step, At: time.Now()})
			u.mu.Unlock()
			select {
			case s.ch <- step:
			case <-s.closed:
			}
		}})
	}
	return moves
}

func (u *Upstream) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range u.streams {
		s.once.Do(func() { close(s.closed) })
	}
}

func (s *upStream) Recv() (llm.Chunk, error) {
	if s.after != nil {
		return llm.Chunk{}, s.after
	}
	s.mu.Lock()
	s.waiting = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.waiting = false
		s.mu.Unlock()
	}()
	select {
	case st := <-s.ch:
		switch {
		case st.Panic != nil:
			s.after = fmt.Errorf("%w: panicked earlier", llm.ErrUpstream)
			panic(st.Panic)
		case st.Err != nil:
			s.after = fmt.Errorf("%w: %w", llm.ErrUpstream, st.Err)
			return llm.Chunk{}, s.after
		case st.Cut:
			s.after = io.EOF
			return llm.Chunk{}, io.EOF
		case st.Finish != llm.FinishNone:
			s.after = io.EOF
		}
		return llm.Chunk{Text: st.Text, FinishReason: st.Finish, Usage: st.Usage}, nil
	case <-s.ctx.Done():
		return llm.Chunk{}, s.ctx.Err()
	case <-s.closed:
		return llm.Chunk{}, ErrUpstreamClosed
	}
}

func (s *upStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// ClientOp is one step of a scripted client.
type ClientOp struct {
	kind string
	n    int
}

// The client's steps.
var (
	// Submit submits the client's request.
	Submit = ClientOp{kind: "submit"}
	// Attach subscribes from the client's cursor (0 at first, so a later
	// Attach is a resume) and reads until the end.
	Attach = ClientOp{kind: "attach"}
	// Detach unsubscribes (the client goes away politely).
	Detach = ClientOp{kind: "detach"}
	// Vanish stops the client actor without unsubscribing (a dropped
	// connection: the request learns of it through its watch).
	Vanish = ClientOp{kind: "vanish"}
	// CancelOp cancels the request.
	CancelOp = ClientOp{kind: "cancel"}
)

// AttachRead subscribes from the cursor and stops pulling after n
// records (a slow reader); a later ReadMore resumes.
func AttachRead(n int) ClientOp { return ClientOp{kind: "attach", n: n} }

// ReadMore pulls again until the end.
var ReadMore = ClientOp{kind: "read"}

func (o ClientOp) String() string {
	if o.n > 0 {
		return fmt.Sprintf("%s(%d)", o.kind, o.n)
	}
	return o.kind
}

// Client is a scripted Armistice client, an actor whose script steps are
// schedule participants: each step becomes possible when the previous one
// finished, and the strategy decides when it happens. It checks what it
// receives as it receives it (no gap, no duplicate, nothing after the
// end).
type Client struct {
	Name string
	// ID is the request id once submitted.
	ID string

	w     *World
	sup   *actor.PID
	owner string
	spec  actors.Spec
	pull  int
	ops   []ClientOp
	next  int
	busy  bool // the current op waits for an answer
	pid   *actor.PID

	records    []model.Record
	cursor     uint64
	attached   bool
	reading    bool
	quota      int
	sub        uint64
	req        *actor.PID
	ended      bool
	pulling    bool
	waiting    string // the op whose answer is awaited
	vanished   bool
	follow     *Client
	violations []string
	replies    []Reply
}

// Reply is an answer the client received to one of its commands.
type Reply struct {
	Op      string // "submit", "attach", "cancel"
	Message any    // *actors.Snapshot, *actors.Error
}

// NewClient spawns a client actor that talks to the supervisor sup as
// owner, submitting spec (if its script has Submit) and then following
// ops. It pulls at most 2 records at a time, so that deliveries interleave
// with everything else.
func NewClient(w *World, name string, sup *actor.PID, owner string, spec actors.Spec, ops ...ClientOp) *Client {
	c := &Client{Name: name, w: w, sup: sup, owner: owner, spec: spec, ops: ops, pull: 2}
	pid, err := w.SpawnNamed(actor.PropsFromFunc(c.receive), "client-"+name)
	if err != nil {
		w.Fail("spawn client %s: %v", name, err)
	}
	c.pid = pid
	w.Participant("client "+name, c.moves)
	return c
}

// UseRequest makes the client act on an existing request (no Submit).
func (c *Client) UseRequest(id string) { c.ID = id }

// Follow makes the client act on other's request, once other submitted it.
func (c *Client) Follow(other *Client) { c.follow = other }

// Attached reports whether the client is subscribed (it attached and has
// neither detached nor vanished).
func (c *Client) Attached() bool { return c.attached && !c.vanished }

// Records returns what the client received, in seq order.
func (c *Client) Records() []model.Record { return slices.Clone(c.records) }

// Ended reports whether the client received the end record.
func (c *Client) Ended() bool { return c.ended }

// End returns the end record's payload, if received.
func (c *Client) End() *model.End {
	if !c.ended {
		return nil
	}
	return c.records[len(c.records)-1].End
}

// Replies returns the answers to the client's commands (submit, cancel,
// subscribe errors), in order.
func (c *Client) Replies() []Reply { return slices.Clone(c.replies) }

// Done reports whether the client finished its script.
func (c *Client) Done() bool { return c.next == len(c.ops) && !c.busy }

// Check returns the first violation the client saw.
func (c *Client) Check() error {
	if len(c.violations) > 0 {
		return errors.New(c.Name + ": " + c.violations[0])
	}
	return nil
}

type clientOpMsg struct{ op ClientOp }

func (c *Client) moves() []Move {
	if c.ID == "" && c.follow != nil {
		c.ID = c.follow.ID
	}
	if c.busy || c.next >= len(c.ops) {
		return nil
	}
	op := c.ops[c.next]
	if op.kind != "submit" && c.ID == "" {
		return nil
	}
	return []Move{{Name: "client " + c.Name + " " + op.String(), Do: func() {
		c.next++
		c.busy = true
		if op.kind == "vanish" {
			c.busy = false
			c.vanished = true
			c.w.Root.Stop(c.pid)
			return
		}
		c.w.Root.Send(c.pid, &clientOpMsg{op: op})
	}}}
}

func (c *Client) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *clientOpMsg:
		c.perform(ctx, m.op)
	case *actors.Snapshot:
		c.replies = append(c.replies, Reply{Op: c.waiting, Message: m})
		if c.ID == "" {
			c.ID = m.ID
		}
		c.busy = false
	case *actors.Error:
		c.replies = append(c.replies, Reply{Op: c.waiting, Message: m})
		c.busy = false
	case *actors.Subscribed:
		c.busy = false
		if m.Exhausted {
			return
		}
		c.attached, c.sub, c.req = true, m.Sub, m.Request
		c.pullMore(ctx)
	case *actors.Batch:
		if !c.attached || m.Sub != c.sub {
			return // an answer to a subscription the client already left
		}
		if !m.Closed {
			c.pulling = false
		}
		c.accept(m)
		if c.quota > 0 {
			c.quota -= len(m.Records)
			if c.quota <= 0 {
				c.reading = false
			}
		}
		if !m.Closed {
			c.pullMore(ctx)
		}
	}
}

// pullMore keeps one Pull outstanding while the client reads.
func (c *Client) pullMore(ctx actor.Context) {
	if c.attached && c.reading && !c.pulling && !c.ended {
		c.pulling = true
		ctx.Request(c.req, &actors.Pull{Sub: c.sub, Max: c.pull})
	}
}

func (c *Client) perform(ctx actor.Context, op ClientOp) {
	c.waiting = op.kind
	switch op.kind {
	case "submit":
		ctx.Request(c.sup, &actors.Submit{Owner: c.owner, Spec: c.spec})
	case "attach":
		c.reading, c.quota = true, op.n
		ctx.Request(c.sup, &actors.Subscribe{ID: c.ID, Owner: c.owner, After: c.cursor, Sink: ctx.Self()})
	case "read":
		c.busy = false
		c.reading, c.quota = true, 0
		c.pullMore(ctx)
	case "detach":
		c.busy = false
		if c.attached {
			ctx.Request(c.req, &actors.Unsubscribe{Sub: c.sub})
			c.attached, c.reading, c.pulling = false, false, false
		}
	case "cancel":
		ctx.Request(c.sup, &actors.Cancel{ID: c.ID, Owner: c.owner})
	}
}

// accept checks and keeps a delivery.
func (c *Client) accept(b *actors.Batch) {
	for _, r := range b.Records {
		if r.Seq <= c.cursor {
			if !b.Closed { // only a stopping request's final batch may repeat
				c.violations = append(c.violations, fmt.Sprintf("duplicate record %v (cursor %d)", r, c.cursor))
			}
			continue
		}
		if c.ended {
			c.violations = append(c.violations, fmt.Sprintf("record %v after the end", r))
			continue
		}
		if r.Seq != c.cursor+1 {
			c.violations = append(c.violations, fmt.Sprintf("gap: record %v after cursor %d", r, c.cursor))
		}
		c.cursor = r.Seq
		c.records = append(c.records, r)
		if r.Kind == model.KindEnd {
			c.ended = true
		}
	}
}

// Agree checks that every client saw the same record at every seq they
// both saw (two readers of one request see one log).
func Agree(clients ...*Client) error {
	seen := map[uint64]string{}
	for _, c := range clients {
		for _, r := range c.records {
			s := r.String()
			if prev, ok := seen[r.Seq]; ok && prev != s {
				return fmt.Errorf("clients disagree at seq %d: %s vs %s", r.Seq, prev, s)
			}
			seen[r.Seq] = s
		}
	}
	return nil
}
