package actors

import (
	"context"

	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Peers reaches the requests other nodes own, in cluster mode (package
// cluster implements it). An Engine with peers carries a command for an
// id that does not name its own node to that node, and adopts a remote
// subscription as a local one; one-node engines have none.
type Peers interface {
	// Local reports whether id names this node (or no node at all).
	Local(id string) bool
	// Ask carries msg (*GetStatus, *GetLog, *Cancel or *Delete) to the
	// node that owns id and waits at most timeout (and never past ctx)
	// for its answer: *Snapshot, *LogSnapshot or an error (an *Error for
	// what the owner refused).
	Ask(ctx context.Context, id string, msg any, timeout time.Duration) (any, error)
	// Subscribe attaches to id's log on its node after the cursor after.
	// The batches arrive on ch, whose room the caller sized as for a
	// local subscription, at most max records each; Pull and Unsubscribe
	// go to relay, a local process that carries them to the owner.
	Subscribe(ctx context.Context, id, owner string, after uint64, max int, ch chan Batch, timeout time.Duration) (relay *actor.PID, sub *Subscribed, err error)
	// KeyHome reports whether this node is where owner's submits with
	// this idempotency key are admitted (so that a retry through any node
	// finds the first request).
	KeyHome(owner, key string) bool
	// Submit carries a keyed submit to its home node, which admits it
	// with Engine.SubmitHere, and waits at most timeout for the answer.
	Submit(ctx context.Context, owner string, spec Spec, timeout time.Duration) (Snapshot, error)
}

type peersBox struct{ p Peers }

// SetPeers makes the engine reach other nodes' requests through p (nil:
// one node again). Call it before serving.
func (e *Engine) SetPeers(p Peers) { e.peers.Store(&peersBox{p}) }

// remote returns the peers that own id, or nil when this node does.
func (e *Engine) remote(id string) Peers {
	b := e.peers.Load()
	if b == nil || b.p == nil || b.p.Local(id) {
		return nil
	}
	return b.p
}

// askRemote is ask for a command on another node's request.
func (e *Engine) askRemote(ctx context.Context, p Peers, id string, msg any) (any, error) {
	timeout, err := e.callTimeout(ctx, 0)
	if err != nil {
		return nil, err
	}
	res, err := p.Ask(ctx, id, msg, timeout)
	if err != nil {
		return nil, err
	}
	if r, ok := res.(*Error); ok {
		return nil, r
	}
	return res, nil
}

// subscribeRemote is Subscribe for another node's request.
func (e *Engine) subscribeRemote(ctx context.Context, p Peers, id, owner string, after uint64) (*Subscription, error) {
	timeout, err := e.callTimeout(ctx, 0)
	if err != nil {
		return nil, err
	}
	ch := make(chan Batch, pullWindow+1)
	relay, sub, err := p.Subscribe(ctx, id, owner, after, e.cfg.BatchSize, ch, timeout)
	if err != nil {
		return nil, err
	}
	s := &Subscription{root: e.system.Root, req: relay, id: sub.Sub, ch: ch, cursor: after, snapshot: sub.Snapshot, max: e.cfg.BatchSize}
	if sub.Exhausted {
		s.exhausted, s.done, s.detached = true, true, true
	}
	return s, nil
}

// callTimeout is how long a call may wait: AskTimeout (+extra), never
// past ctx's deadline.
func (e *Engine) callTimeout(ctx context.Context, extra time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if e.closed.Load() {
		return 0, ErrClosed
	}
	timeout := e.cfg.AskTimeout + extra
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
		if timeout <= 0 {
			return 0, context.DeadlineExceeded
		}
	}
	return timeout, nil
}

// PullWindow is how many batches a Subscription grants ahead of its
// reading; a Peers relay's channel must hold PullWindow+1 batches.
const PullWindow = pullWindow
