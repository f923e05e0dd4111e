package actors

import (
	"sync"
	"sync/atomic"
)

// defaultThroughput is how many messages a mailbox run handles before it
// yields the processor, proto.actor's own default.
const defaultThroughput = 300

// dispatchBacklog is how many mailbox runs may wait for a free worker
// before Schedule gives a run a goroutine of its own.
const dispatchBacklog = 1024

// dispatchPool is the proto.actor Dispatcher of the supervisor and its
// request actors: it runs their mailbox runs on a few long-lived
// goroutines. proto.actor's default starts a goroutine per run, and a
// fresh goroutine's small stack is too small for a request's step path or
// the supervisor's admission, so at a paced rate (one token per run) every
// token paid a stack copy: 7–10 % of all CPU in the benchmark's profiles
// (docs/benchmarks.md). A worker grows its stack once and keeps it.
//
// Schedule never waits (rule 4). A run goes to an idle worker when there
// is one; otherwise it waits in a bounded backlog that the workers take
// from as they finish their current run. Under saturation every worker
// is busy (runnable, waiting for a core) most of the time, and giving
// each run a goroutine of its own then cost a stack copy per token again
// (half of the request actors' CPU at 1,000 streams); a worker that gets
// a core takes one waiting run after another instead. Runs never block
// (rule 4), so a busy worker is free again within a run's CPU time; when
// the backlog is full a run still gets a goroutine of its own, so no run
// waits behind more than the backlog. Before start and after stop every
// run gets its own goroutine; runs still waiting at the last stop are run
// by the leaving workers.
type dispatchPool struct {
	work chan func() // buffered: the backlog; an idle worker takes a run at once

	// mu orders Schedule against the last stop, so no run is left in the
	// backlog after the workers leave: Schedule holds it for reading.
	mu    sync.RWMutex
	users int           // supervisors running on this pool
	quit  chan struct{} // closed when the last user stops

	onWorker, onGoroutine atomic.Uint64
}

func newDispatchPool() *dispatchPool { return newDispatchPoolWithBacklog(dispatchBacklog) }

func newDispatchPoolWithBacklog(backlog int) *dispatchPool {
	return &dispatchPool{work: make(chan func(), backlog)}
}

// start is called by each supervisor as it starts: the first starts n
// workers. Every start is matched by a stop.
func (p *dispatchPool) start(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users++
	if p.users > 1 {
		return
	}
	p.quit = make(chan struct{})
	for range n {
		go p.worker(p.quit)
	}
}

// stop is called by each supervisor as it stops (or restarts): the last
// lets the workers end once they have run what waits in the backlog.
func (p *dispatchPool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == 0 {
		return
	}
	p.users--
	if p.users == 0 {
		close(p.quit)
	}
}

func (p *dispatchPool) worker(quit <-chan struct{}) {
	for {
		select {
		case fn := <-p.work:
			fn()
		case <-quit:
			// Nothing joins the backlog once quit is closed; run what waits.
			for {
				select {
				case fn := <-p.work:
					fn()
				default:
					return
				}
			}
		}
	}
}

// Schedule hands fn to an idle worker, or queues it for the next free
// one, or, with the backlog full or no workers running, starts a
// goroutine for it.
func (p *dispatchPool) Schedule(fn func()) {
	p.mu.RLock()
	if p.users > 0 {
		select {
		case p.work <- fn:
			p.mu.RUnlock()
			p.onWorker.Add(1)
			return
		default:
		}
	}
	p.mu.RUnlock()
	p.onGoroutine.Add(1)
	go fn()
}

// Throughput is proto.actor's default.
func (p *dispatchPool) Throughput() int { return defaultThroughput }
