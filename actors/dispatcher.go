package actors

import (
	"sync"
	"sync/atomic"
)

// defaultThroughput is how many messages a mailbox run handles before it
// yields the processor, proto.actor's own default.
const defaultThroughput = 300

// dispatchPool is the proto.actor Dispatcher of request actors: it runs
// their mailbox batches on a few long-lived goroutines. proto.actor's
// default starts a goroutine per batch, and a fresh goroutine's small
// stack is too small for a request's step path, so at a paced rate (one
// token per batch) every token paid a stack copy: 7–10 % of all CPU in
// the benchmark's profiles (docs/benchmarks.md). A worker grows its stack
// once and keeps it.
//
// Schedule never waits (rule 4): when no worker is idle it starts a
// goroutine, as the default dispatcher does, so one long batch never holds
// up another actor. After stop every batch gets its own goroutine.
type dispatchPool struct {
	work chan func()
	quit chan struct{}
	once sync.Once

	onWorker, onGoroutine atomic.Uint64
}

// newDispatchPool starts n workers; stop ends them.
func newDispatchPool(n int) *dispatchPool {
	p := &dispatchPool{work: make(chan func()), quit: make(chan struct{})}
	for range n {
		go p.worker()
	}
	return p
}

func (p *dispatchPool) worker() {
	for {
		select {
		case fn := <-p.work:
			fn()
		case <-p.quit:
			return
		}
	}
}

// Schedule hands fn to an idle worker, or to a new goroutine when none is
// idle. The channel is unbuffered, so a handover happens only to a worker
// already waiting: nothing queues behind a busy one.
func (p *dispatchPool) Schedule(fn func()) {
	select {
	case p.work <- fn:
		p.onWorker.Add(1)
	default:
		p.onGoroutine.Add(1)
		go fn()
	}
}

// Throughput is proto.actor's default.
func (p *dispatchPool) Throughput() int { return defaultThroughput }

// stop lets the workers end once their current batch is done. It is safe
// to call more than once.
func (p *dispatchPool) stop() { p.once.Do(func() { close(p.quit) }) }
