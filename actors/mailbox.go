package actors

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// mailbox is the mailbox of the engine's actors (the supervisor and every
// request): proto.actor's default mailbox (actor.Unbounded), run for run,
// except that it hands its dispatcher the same run function every time.
// The default binds the method value m.processMessages at every schedule,
// a 16-byte allocation per mailbox run; at a paced rate every token is a
// run of its own, so that was the one allocation left on a paced token's
// trip from the producer to the reader (TestAPacedTokensTripAllocatesNothing,
// BenchmarkPacedToken). Its two queues are rings under one mutex where
// the default has a lock-free queue for system messages and a ring under
// a mutex for user messages: the engine's system messages are few (start,
// stop, watch), and the mutex is held only to push or pop one message.
//
// It has no mailbox middlewares: the engine configures none. A nil
// message is invoked like any other; the default takes it for an empty
// queue while its count says one waits, and its run spins.
type mailbox struct {
	mu     sync.Mutex
	user   ring
	system ring

	status       atomic.Int32 // mailboxIdle or mailboxRunning
	userMessages atomic.Int32
	sysMessages  atomic.Int32
	suspended    atomic.Bool

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	run        func() // processMessages, bound once
}

const (
	mailboxIdle int32 = iota
	mailboxRunning
)

// newMailbox is an actor.MailboxProducer.
func newMailbox() actor.Mailbox {
	m := &mailbox{}
	m.run = m.processMessages
	return m
}

// PostUserMessage queues a message for the actor. Like the default, a
// MessageBatch (bare or in an envelope) is posted message by message and
// then itself.
func (m *mailbox) PostUserMessage(message any) {
	if batch, ok := message.(actor.MessageBatch); ok {
		for _, msg := range batch.GetMessages() {
			m.PostUserMessage(msg)
		}
	}
	if env, ok := message.(*actor.MessageEnvelope); ok {
		if batch, ok := env.Message.(actor.MessageBatch); ok {
			for _, msg := range batch.GetMessages() {
				m.PostUserMessage(msg)
			}
		}
	}
	m.mu.Lock()
	m.user.push(message)
	m.mu.Unlock()
	m.userMessages.Add(1)
	m.schedule()
}

// PostSystemMessage queues a system message; they go before user messages.
func (m *mailbox) PostSystemMessage(message any) {
	m.mu.Lock()
	m.system.push(message)
	m.mu.Unlock()
	m.sysMessages.Add(1)
	m.schedule()
}

func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker = invoker
	m.dispatcher = dispatcher
}

func (m *mailbox) Start() {}

func (m *mailbox) UserMessageCount() int { return int(m.userMessages.Load()) }

func (m *mailbox) schedule() {
	if m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
		m.dispatcher.Schedule(m.run)
	}
}

// processMessages is one mailbox run, the default's: it runs until both
// queues are empty (or the mailbox is suspended), then goes idle, and runs
// again if a message came in between.
func (m *mailbox) processMessages() {
	for {
		m.drain()
		m.status.Store(mailboxIdle)
		sys, user := m.sysMessages.Load(), m.userMessages.Load()
		if sys == 0 && (m.suspended.Load() || user == 0) {
			return
		}
		if !m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
			return // a post scheduled a run of its own
		}
	}
}

// drain invokes the queued messages, system messages first, yielding the
// processor every Throughput messages; a panic goes to the actor's
// supervision (EscalateFailure) with the message that caused it.
func (m *mailbox) drain() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	i, throughput := 0, m.dispatcher.Throughput()
	for {
		if i > throughput {
			i = 0
			runtime.Gosched()
		}
		i++
		var ok bool
		if msg, ok = m.pop(&m.system); ok {
			m.sysMessages.Add(-1)
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
			}
			continue
		}
		if m.suspended.Load() {
			return
		}
		if msg, ok = m.pop(&m.user); !ok {
			return
		}
		m.userMessages.Add(-1)
		m.invoker.InvokeUserMessage(msg)
	}
}

func (m *mailbox) pop(q *ring) (any, bool) {
	m.mu.Lock()
	msg, ok := q.pop()
	m.mu.Unlock()
	return msg, ok
}

// ring is a FIFO queue of messages in a power-of-two ring that grows as
// needed and is reused as it empties.
type ring struct {
	buf  []any
	head int
	n    int
}

func (q *ring) push(v any) {
	if q.n == len(q.buf) {
		grown := make([]any, max(8, 2*len(q.buf)))
		for i := range q.n {
			grown[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = v
	q.n++
}

// pop returns the oldest message; ok is false when the queue is empty
// (a message may be nil, so nil cannot say "empty").
func (q *ring) pop() (v any, ok bool) {
	if q.n == 0 {
		return nil, false
	}
	v = q.buf[q.head]
	q.buf[q.head] = nil // let the message go
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return v, true
}
