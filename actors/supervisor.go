package actors

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
)

// stopOnPanic is the supervisor's strategy: a crashed request is stopped,
// never restarted, because a restart would replay the LLM call (rule 9).
var stopOnPanic = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })

// SupervisorProps returns the props of a supervisor, for embedding
// Armistice in an existing actor system: spawn it (as a child of your own
// actor, or from the root) and talk to it with the messages of this
// package. The config is validated here.
func SupervisorProps(cfg Config) (*actor.Props, error) {
	props, _, err := supervisorProps(cfg)
	return props, err
}

// supervisorProps is SupervisorProps, also returning the worker pool
// (nil when cfg.Workers is 0).
func supervisorProps(cfg Config) (*actor.Props, *dispatchPool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.withSlog()
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	opts := []actor.PropsOption{actor.WithSupervisor(stopOnPanic), actor.WithMailbox(newMailbox)}
	var pool *dispatchPool
	if cfg.Workers > 0 {
		pool = newDispatchPool()
		opts = append(opts, actor.WithDispatcher(pool))
	}
	return actor.PropsFromProducer(func() actor.Actor { return newSupervisor(&cfg, pool) }, opts...), pool, nil
}

type phase uint8

const (
	phaseQueued phase = iota
	phaseActive
	phaseFinished
)

type entry struct {
	id    string
	owner string
	pid   *actor.PID
	phase phase
	// ref is the Ref of the Submit that created it, for Withdraw;
	// replayed is set once a submit with its idempotency key was answered
	// with it (it is somebody's answer then, and no longer withdrawn).
	ref      uint64
	replayed bool
	// idem is its idempotency key and spec hash, when it has one.
	idem     *idemKey
	specHash [sha256.Size]byte
	// retained is set while it counts toward retention (finished, not yet
	// forgotten): bytes is what it holds; pickedUp that its end was read.
	retained bool
	bytes    int64
	pickedUp bool
	// finishSeq orders the retained requests by finish (retentionOrder).
	finishSeq uint64
	// keepsInput: it was submitted with KeepInput, so it keeps its input
	// after its end. base is the retained request whose input texts its
	// input shares (Spec.SharesInput) while that one is registered, and
	// shared their size: bytes leaves them out while base is set.
	// dependents are the requests whose base it is.
	keepsInput bool
	base       *entry
	shared     int64
	dependents []*entry
}

// idemKey names an idempotent submit.
type idemKey struct{ owner, key string }

// tenantCount is one owner's share of admission and retention.
type tenantCount struct {
	active, queued int
	retained       int
	retainedBytes  int64
}

// refKey names a Submit by its owner and Ref.
type refKey struct {
	owner string
	ref   uint64
}

// supervisor is the only owner of the id→PID table and of admission
// (rule 1): no mutex, no janitor. It learns that a request ended through
// finished, and that its actor is gone through Terminated.
type supervisor struct {
	cfg    *Config
	logger zerolog.Logger

	byID  map[string]*entry
	byPID map[string]*entry
	// byRef finds the request a Submit created, for Withdraw.
	byRef map[refKey]*entry
	// byIdem finds the request a submit with an idempotency key created.
	byIdem map[idemKey]*entry
	// tenants holds each owner's counts; an owner with none is removed.
	tenants map[string]*tenantCount
	// lastServed is the owner QueueFair admitted last.
	lastServed string

	// order holds the retained requests in the order they finished, for
	// eviction; retained and retainedBytes are their totals.
	order         retentionOrder
	retained      int
	retainedBytes int64
	evictedRead   uint64
	evictedUnread uint64
	// expired remembers the ids retention evicted unread, with their
	// owners, so they answer ErrExpired instead of ErrNotFound; bounded
	// by expiredOrder (oldest first, from expiredHead on).
	expired      map[string]string
	expiredOrder []string
	expiredHead  int

	// queue is FIFO; entries that left it (cancelled, timed out) stay as
	// tombstones until promotion or compaction skips them.
	queue      []*entry
	tombstones int
	active     int
	queued     int

	// avgRun is a moving average of streaming time, for retry-after hints.
	avgRun time.Duration

	draining     bool
	drainWaiters []*actor.PID
	drainTimer   scheduler.CancelFunc

	// pool runs this supervisor's and its requests' mailboxes (nil when
	// Config.Workers is 0). Its workers run from Started to Stopped (or
	// Restarting); the runs before and after get goroutines of their own.
	pool *dispatchPool
}

func newSupervisor(cfg *Config, pool *dispatchPool) *supervisor {
	return &supervisor{
		cfg:     cfg,
		pool:    pool,
		logger:  cfg.Logger.With().Str("component", "supervisor").Logger(),
		byID:    make(map[string]*entry),
		byPID:   make(map[string]*entry),
		byRef:   make(map[refKey]*entry),
		byIdem:  make(map[idemKey]*entry),
		tenants: make(map[string]*tenantCount),
		expired: make(map[string]string),
	}
}

func (s *supervisor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *Submit:
		s.submit(c, m)
	case *GetStatus:
		if e := s.lookup(c, m.ID, m.Owner, "status", m.Ref, m.Deadline); e != nil {
			c.RequestWithCustomSender(e.pid, &statusQuery{position: s.position(e), ref: m.Ref}, c.Sender())
		}
	case *GetLog:
		if e := s.lookup(c, m.ID, m.Owner, "log", m.Ref, m.Deadline); e != nil {
			c.RequestWithCustomSender(e.pid, &logQuery{position: s.position(e), ref: m.Ref}, c.Sender())
		}
	case *Cancel:
		if e := s.lookup(c, m.ID, m.Owner, "cancel", m.Ref, m.Deadline); e != nil {
			c.Forward(e.pid)
		}
	case *Subscribe:
		// The request checks the deadline again when the command arrives.
		if e := s.lookup(c, m.ID, m.Owner, "subscribe", m.Ref, m.Deadline); e != nil {
			c.Forward(e.pid)
		}
	case *Delete:
		if e := s.lookup(c, m.ID, m.Owner, "delete", m.Ref, m.Deadline); e != nil {
			if e.phase != phaseFinished {
				c.Respond(&Error{Err: fmt.Errorf("%w: %q is still running; cancel it first", ErrNotFinished, m.ID), Command: "delete", Ref: m.Ref})
				return
			}
			// Forget the id now, so that no command after the answer
			// finds it; byPID stays until Terminated.
			s.forget(e)
			c.RequestWithCustomSender(e.pid, &deleteNow{ref: m.Ref}, c.Sender())
			s.evict(c, e.owner) // the requests sharing its input count it now
		}
	case *Withdraw:
		s.withdraw(c, m)
	case *finished:
		if e := s.byID[m.id]; e != nil {
			s.release(c, e, m.ran)
			e.shared = m.shared
			bytes := m.bytes
			if e.base != nil {
				bytes -= m.shared // counted with its base
			}
			s.retain(c, e, bytes)
		}
	case *pickedUp:
		if e := s.byID[m.id]; e != nil {
			s.markPickedUp(e)
		}
	case *retire:
		if e := s.byID[m.id]; e != nil {
			s.forget(e) // byPID stays until Terminated
			c.Poison(e.pid)
			s.evict(c, e.owner) // the requests sharing its input count it now
		}
	case *actor.Terminated:
		if e := s.byPID[m.Who.Id]; e != nil {
			if e.phase != phaseFinished {
				s.release(c, e, 0) // it stopped without telling us; free its place anyway
			}
			delete(s.byPID, m.Who.Id)
			if s.byID[e.id] == e {
				s.forget(e)
				s.evict(c, e.owner)
			}
		}
	case *Drain:
		s.drain(c, m)
	case *drainDeadline:
		s.drainTimer = nil
		// In id order, not map order, so a schedule replays exactly.
		for _, id := range slices.Sorted(maps.Keys(s.byID)) {
			if e := s.byID[id]; e.phase == phaseActive && !mutant("drain-no-shutdown") {
				c.Send(e.pid, &shutdownNow{})
			}
		}
	case *panicNow:
		panic(m.value) // tests only: what a parent's restart does to us
	case *GetStats:
		st := &Stats{Registered: len(s.byID), Active: s.active, Queued: s.queued, Draining: s.draining, Workers: s.cfg.Workers,
			Retained: s.retained, RetainedBytes: s.retainedBytes, EvictedRead: s.evictedRead, EvictedUnread: s.evictedUnread}
		if s.pool != nil {
			st.MailboxRunsOnWorkers, st.MailboxRunsOnGoroutines = s.pool.onWorker.Load(), s.pool.onGoroutine.Load()
		}
		c.Respond(st)
	case *actor.Started:
		if s.pool != nil {
			s.pool.start(s.cfg.Workers)
		}
	case *actor.Stopped, *actor.Restarting:
		if s.drainTimer != nil {
			s.drainTimer()
		}
		if s.pool != nil {
			// On Stopped the requests are gone already; on Restarting
			// they are stopped next, their last runs on goroutines of
			// their own.
			s.pool.stop()
		}
	}
}

func (s *supervisor) submit(c actor.Context, m *Submit) {
	fail := func(err error) { c.Respond(&Error{Err: err, Command: "submit", Ref: m.Ref}) }
	if expired(m.Deadline) {
		s.logger.Debug().Msg("submit dropped: its deadline passed on the way")
		return
	}
	if s.draining {
		fail(ErrShuttingDown)
		return
	}
	if err := m.Spec.validate(); err != nil {
		fail(err)
		return
	}
	var idem *idemKey
	var hash [sha256.Size]byte
	if m.Spec.IdempotencyKey != "" {
		idem = &idemKey{m.Owner, m.Spec.IdempotencyKey}
		hash = specHash(m.Spec)
		if e := s.byIdem[*idem]; e != nil {
			if e.specHash != hash {
				fail(fmt.Errorf("%w: key %q", ErrIdempotencyConflict, m.Spec.IdempotencyKey))
				return
			}
			e.replayed = true
			c.RequestWithCustomSender(e.pid, &statusQuery{position: s.position(e), ref: m.Ref, replayed: true}, c.Sender())
			return
		}
	}
	t := s.tenant(m.Owner)
	admitNow := s.active < s.cfg.MaxActive && s.underActiveCap(t)
	if !admitNow && (s.queued >= s.cfg.MaxQueued || (s.cfg.MaxQueuedPerTenant > 0 && t.queued >= s.cfg.MaxQueuedPerTenant)) {
		s.dropTenantIfIdle(m.Owner)
		fail(&QueueFullError{RetryAfter: s.retryAfter()})
		return
	}
	id := s.cfg.NewID()
	if _, taken := s.byID[id]; taken {
		s.dropTenantIfIdle(m.Owner)
		fail(fmt.Errorf("%w: id %q already in use", ErrInvalidRequest, id))
		return
	}
	props := actor.PropsFromProducer(func() actor.Actor { return newRequestActor(s.cfg, id, m.Owner, m.Spec) }, actor.WithMailbox(newMailbox))
	if s.pool != nil {
		props.Configure(actor.WithDispatcher(s.pool))
	}
	pid, err := c.SpawnNamed(props, id)
	if err != nil {
		s.dropTenantIfIdle(m.Owner)
		fail(fmt.Errorf("%w: spawn: %w", ErrInternal, err))
		return
	}
	e := &entry{id: id, owner: m.Owner, pid: pid, phase: phaseQueued, ref: m.Ref, idem: idem, specHash: hash, keepsInput: m.Spec.KeepInput}
	if sh := m.Spec.SharesInput; sh.Count > 0 && e.keepsInput {
		if b := s.byID[sh.ID]; b != nil && b.owner == m.Owner && b.keepsInput {
			e.base = b
			b.dependents = append(b.dependents, e)
		}
	}
	s.byID[id] = e
	s.byPID[pid.Id] = e
	if m.Ref != 0 {
		s.byRef[refKey{m.Owner, m.Ref}] = e
	}
	if idem != nil {
		s.byIdem[*idem] = e
	}
	if admitNow {
		e.phase = phaseActive
		s.active++
		t.active++
	} else {
		s.queue = append(s.queue, e)
		s.queued++
		t.queued++
	}
	// The answer comes from the request itself (its snapshot as
	// accepted, state pending), and only after the id is registered,
	// so a status right after submit never says not found.
	q := &statusQuery{position: s.position(e), ref: m.Ref}
	if m.ch != nil {
		// The request attaches the subscriber as it answers, and admit
		// comes after the answer: the subscriber is there before the
		// first record.
		q.attach = &Subscribe{ID: id, Owner: m.Owner, Ref: m.Ref, ch: m.ch, credits: pullWindow}
	}
	c.RequestWithCustomSender(pid, q, c.Sender())
	if admitNow {
		c.Send(pid, &admit{})
	}
}

// lookup finds a request visible to owner, or answers not found. Another
// owner's request gets the same answer as an unknown id. A command past
// its deadline finds nothing and gets no answer.
func (s *supervisor) lookup(c actor.Context, id, owner, command string, ref uint64, deadline time.Time) *entry {
	if expired(deadline) {
		s.logger.Debug().Str("command", command).Msg("command dropped: its deadline passed on the way")
		return nil
	}
	e := s.byID[id]
	if e == nil || e.owner != owner {
		err := fmt.Errorf("%w: %q", ErrNotFound, id)
		if o, ok := s.expired[id]; ok && o == owner {
			err = fmt.Errorf("%w: %q was evicted before its end was read", ErrExpired, id)
		}
		c.Respond(&Error{Err: err, Command: command, Ref: ref})
		return nil
	}
	return e
}

// forget removes e from the tables that commands look it up in, and from
// retention.
func (s *supervisor) forget(e *entry) {
	if s.byID[e.id] == e {
		delete(s.byID, e.id)
	}
	if e.ref != 0 {
		if k := (refKey{e.owner, e.ref}); s.byRef[k] == e {
			delete(s.byRef, k)
		}
	}
	if e.idem != nil && s.byIdem[*e.idem] == e {
		delete(s.byIdem, *e.idem)
	}
	if e.retained {
		e.retained = false
		s.order.remove(e)
		s.retained--
		s.retainedBytes -= e.bytes
		t := s.tenant(e.owner)
		t.retained--
		t.retainedBytes -= e.bytes
		s.dropTenantIfIdle(e.owner)
	}
	s.unshare(e)
}

// unshare unlinks a forgotten request from the requests sharing its
// input, which now count the shared texts they still hold, and from its
// own base.
func (s *supervisor) unshare(e *entry) {
	for _, d := range e.dependents {
		if d.base != e {
			continue
		}
		d.base = nil
		if d.retained {
			d.bytes += d.shared
			s.retainedBytes += d.shared
			s.tenant(d.owner).retainedBytes += d.shared
		}
	}
	e.dependents = nil
	if b := e.base; b != nil {
		e.base = nil
		if i := slices.Index(b.dependents, e); i >= 0 {
			b.dependents = slices.Delete(b.dependents, i, i+1)
		}
	}
}

// withdraw undoes a Submit or a Subscribe whose caller stopped waiting
// for the answer.
func (s *supervisor) withdraw(c actor.Context, m *Withdraw) {
	if m.Ref == 0 {
		return
	}
	if m.ID != "" {
		if e := s.byID[m.ID]; e != nil && e.owner == m.Owner {
			c.Send(e.pid, &withdrawSub{ref: m.Ref})
		}
		return
	}
	e := s.byRef[refKey{m.Owner, m.Ref}]
	if e == nil || s.byID[e.id] != e || e.replayed {
		return
	}
	s.logger.Debug().Str("req_id", e.id).Msg("submit withdrawn: its caller gave up")
	s.forget(e)
	if e.phase != phaseFinished {
		s.release(c, e, 0)
	}
	c.Poison(e.pid)
}

// release frees the slot or queue place of a request that ended, then
// promotes from the queue.
func (s *supervisor) release(c actor.Context, e *entry, ran time.Duration) {
	t := s.tenant(e.owner)
	switch e.phase {
	case phaseActive:
		if !mutant("slot-not-released") {
			s.active--
			t.active--
		}
		if ran > 0 {
			if s.avgRun == 0 {
				s.avgRun = ran
			} else {
				s.avgRun += (ran - s.avgRun) / 8
			}
		}
	case phaseQueued:
		s.queued--
		t.queued--
		s.tombstones++
	}
	e.phase = phaseFinished
	s.dropTenantIfIdle(e.owner)
	s.promote(c)
	s.compact()
	s.checkDrained(c)
}

func (s *supervisor) promote(c actor.Context) {
	for s.active < s.cfg.MaxActive {
		e := s.nextToAdmit()
		if e == nil {
			break
		}
		t := s.tenant(e.owner)
		e.phase = phaseActive
		s.queued--
		t.queued--
		s.active++
		t.active++
		s.tombstones++ // it stays in the queue until trimmed or compacted
		s.lastServed = e.owner
		c.Send(e.pid, &admit{})
	}
	// Trim what left the queue from its front.
	for len(s.queue) > 0 && s.queue[0].phase != phaseQueued {
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.tombstones--
	}
}

// nextToAdmit picks the queued request to admit next, or nil when none
// may be (the queue is empty, or every waiting owner is at its cap).
func (s *supervisor) nextToAdmit() *entry {
	if s.cfg.QueuePolicy != QueueFair {
		for _, e := range s.queue {
			if e.phase == phaseQueued && s.underActiveCap(s.tenants[e.owner]) {
				return e
			}
		}
		return nil
	}
	// Fair: the first owner after the last served, by name and round the
	// circle, that has an admissible request; its oldest one.
	var first, next *entry
	for _, e := range s.queue {
		if e.phase != phaseQueued || !s.underActiveCap(s.tenants[e.owner]) {
			continue
		}
		if first == nil || e.owner < first.owner {
			first = e
		}
		if e.owner > s.lastServed && (next == nil || e.owner < next.owner) {
			next = e
		}
	}
	if next != nil {
		return next
	}
	return first
}

// tenant returns owner's counts, creating them.
func (s *supervisor) tenant(owner string) *tenantCount {
	t := s.tenants[owner]
	if t == nil {
		t = &tenantCount{}
		s.tenants[owner] = t
	}
	return t
}

// dropTenantIfIdle forgets an owner with nothing counted, so the map does
// not grow with every owner ever seen.
func (s *supervisor) dropTenantIfIdle(owner string) {
	if t := s.tenants[owner]; t != nil && *t == (tenantCount{}) {
		delete(s.tenants, owner)
	}
}

func (s *supervisor) underActiveCap(t *tenantCount) bool {
	return s.cfg.MaxActivePerTenant == 0 || t == nil || t.active < s.cfg.MaxActivePerTenant
}

// retain counts a request that just finished toward retention, then
// evicts what is over the budget.
func (s *supervisor) retain(c actor.Context, e *entry, bytes int64) {
	if e.retained || s.byID[e.id] != e {
		return
	}
	e.retained, e.bytes = true, bytes
	s.retained++
	s.retainedBytes += bytes
	t := s.tenant(e.owner)
	t.retained++
	t.retainedBytes += bytes
	s.order.add(e)
	s.evict(c, e.owner)
}

// markPickedUp records that e's end was read.
func (s *supervisor) markPickedUp(e *entry) {
	if e.pickedUp {
		return
	}
	e.pickedUp = true
	if e.retained {
		s.order.pickedUp(e)
	}
}

// evict forgets finished requests while retention is over a bound:
// engine-wide, or owner's. The oldest whose end was read go first, then
// the oldest unread ones.
func (s *supervisor) evict(c actor.Context, owner string) {
	for {
		t := s.tenants[owner]
		tenantOver := t != nil && ((s.cfg.MaxRetainedPerTenant > 0 && t.retained > s.cfg.MaxRetainedPerTenant) ||
			(s.cfg.MaxRetainedBytesPerTenant > 0 && t.retainedBytes > s.cfg.MaxRetainedBytesPerTenant))
		over := s.retained > s.cfg.MaxRetained || s.retainedBytes > s.cfg.MaxRetainedBytes
		if !over && !tenantOver {
			return
		}
		// Engine-wide when the engine is over its bound, else among the
		// owner's (only the owner is over).
		victim := s.order.victim(owner, !over)
		if victim == nil {
			return
		}
		if victim.pickedUp {
			s.evictedRead++
		} else {
			s.evictedUnread++
			s.rememberExpired(victim)
		}
		s.logger.Debug().Str("req_id", victim.id).Bool("read", victim.pickedUp).Msg("evicted to stay within the retention budget")
		s.forget(victim)
		c.Poison(victim.pid)
	}
}

// rememberExpired keeps the ids evicted unread, at most MaxRetained of
// them, so a late reader learns the result is gone rather than unknown.
func (s *supervisor) rememberExpired(e *entry) {
	s.expired[e.id] = e.owner
	s.expiredOrder = append(s.expiredOrder, e.id)
	for len(s.expiredOrder)-s.expiredHead > s.cfg.MaxRetained {
		delete(s.expired, s.expiredOrder[s.expiredHead])
		s.expiredOrder[s.expiredHead] = ""
		s.expiredHead++
	}
	// Drop the forgotten front once it is half the slice: amortized
	// constant time, where copying the rest for each id forgotten cost a
	// copy of MaxRetained ids per evicting request.
	if s.expiredHead > 64 && 2*s.expiredHead > len(s.expiredOrder) {
		s.expiredOrder = append(make([]string, 0, 2*(len(s.expiredOrder)-s.expiredHead)), s.expiredOrder[s.expiredHead:]...)
		s.expiredHead = 0
	}
}

// specHash identifies a spec for idempotency: the same key must come with
// the same request.
func specHash(spec Spec) [sha256.Size]byte {
	spec.IdempotencyKey, spec.TraceID = "", ""
	b, err := json.Marshal(spec)
	if err != nil {
		b = fmt.Appendf(nil, "%#v", spec)
	}
	return sha256.Sum256(b)
}

// compact drops tombstones once they outnumber live entries, so a queue
// that is cancelled from but never promoted from does not grow.
func (s *supervisor) compact() {
	if s.tombstones < 64 || s.tombstones <= s.queued {
		return
	}
	live := make([]*entry, 0, s.queued)
	for _, e := range s.queue {
		if e.phase == phaseQueued {
			live = append(live, e)
		}
	}
	s.queue, s.tombstones = live, 0
}

// position is the 1-based place of e in the queue, 0 when not queued.
func (s *supervisor) position(e *entry) int {
	if e.phase != phaseQueued {
		return 0
	}
	n := 0
	for _, q := range s.queue {
		if q.phase == phaseQueued {
			n++
		}
		if q == e {
			return n
		}
	}
	return 0
}

// retryAfter estimates when a queue place frees up: the average streaming
// time per wave of MaxActive requests ahead, between 1 s and 5 min.
func (s *supervisor) retryAfter() time.Duration {
	avg := s.avgRun
	if avg <= 0 {
		avg = time.Second
	}
	waves := s.queued/s.cfg.MaxActive + 1
	d := min(max(avg*time.Duration(waves), time.Second), 5*time.Minute)
	return d.Round(time.Second)
}

func (s *supervisor) drain(c actor.Context, m *Drain) {
	if c.Sender() != nil {
		s.drainWaiters = append(s.drainWaiters, c.Sender())
	}
	if !s.draining {
		s.draining = true
		s.logger.Info().Int("active", s.active).Int("queued", s.queued).Stringer("grace", m.Grace).Msg("draining")
		// Queued requests have not started: end them now so their
		// clients can go elsewhere, instead of starting work that the
		// grace would cut.
		for _, e := range s.queue {
			if e.phase == phaseQueued {
				c.Send(e.pid, &shutdownNow{})
			}
		}
		if m.Grace > 0 && s.active > 0 {
			s.drainTimer = scheduler.NewTimerScheduler(c.ActorSystem().Root).SendOnce(m.Grace, c.Self(), &drainDeadline{})
		} else {
			c.Send(c.Self(), &drainDeadline{})
		}
	}
	s.checkDrained(c)
}

func (s *supervisor) checkDrained(c actor.Context) {
	if !s.draining || s.active > 0 || s.queued > 0 || len(s.drainWaiters) == 0 {
		return
	}
	if s.drainTimer != nil {
		s.drainTimer()
		s.drainTimer = nil
	}
	for _, w := range s.drainWaiters {
		c.Send(w, &Drained{})
	}
	s.drainWaiters = nil
	s.logger.Info().Msg("drained")
}
