package actors

import (
	"sync"
	"sync/atomic"
)

// defaultThroughput is how many messages a mailbox run handles before it
// yields the processor, proto.actor's own default.
const defaultThroughput = 300

// dispatchPool is the proto.actor Dispatcher of the supervisor and its
// request actors: it runs their mailbox runs on a few long-lived
// goroutines. proto.actor's default starts a goroutine per run, and a
// fresh goroutine's small stack is too small for a request's step path or
// the supervisor's admission, so at a paced rate (one token per run) every
// token paid a stack copy: 7–10 % of all CPU in the benchmark's profiles
// (docs/benchmarks.md). A worker grows its stack once and keeps it.
//
// Schedule never waits (rule 4): when no worker is idle it starts a
// goroutine, as the default dispatcher does, so one long run never holds
// up another actor. Before start and after stop every run gets its own
// goroutine.
type dispatchPool struct {
	work chan func()

	mu    sync.Mutex
	users int           // supervisors running on this pool
	quit  chan struct{} // closed when the last user stops

	onWorker, onGoroutine atomic.Uint64
}

func newDispatchPool() *dispatchPool {
	return &dispatchPool{work: make(chan func())}
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
// lets the workers end once their current run is done.
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
