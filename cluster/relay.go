package cluster

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster/wire"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// resubscribeEvery spaces a relay's attempts to reach an owner it lost
// the connection to while the owner is still a member.
const resubscribeEvery = 250 * time.Millisecond

type relayResult struct {
	sub *actors.Subscribed
	err error
}

// relayTick is a relay's poll while its owner is unreachable.
type relayTick struct{}

// relay is the local end of a subscription to another node's request:
// the Subscription sends it Pull and Unsubscribe as to a local request,
// and it hands the proxy's batches to the Subscription's channel. It
// counts the credit its reader granted, so a new proxy (after a blip) is
// granted the same, and it knows the cursor, so the reader sees every
// record once: after a blip it subscribes again from the cursor, and when
// membership drops the owner it hands over an end failed/node_lost.
type relay struct {
	node    *Node
	addr    string
	id      string
	owner   string
	cursor  uint64
	ch      chan actors.Batch
	result  chan relayResult
	timeout time.Duration

	proxy     *actor.PID
	sub       uint64
	credit    int
	absorb    int // credit granted with the subscribe, not yet asked for by the reader
	max       int
	tokens    int    // token records up to the cursor, or past tokensAt
	tokensAt  uint64 // the subscribe snapshot's LastSeq: tokens counts those after it
	answered  bool
	ended     bool
	lostSince time.Time
	lastTry   time.Time
}

func (r *relay) gatewayPID() *actor.PID { return actor.NewPID(r.addr, gatewayName) }

func (r *relay) subscribe(c actor.Context) {
	r.lastTry = time.Now()
	r.node.peer(r.addr).Sent.Add(1)
	sub := &wire.Subscribe{Id: r.id, Owner: r.owner, After: r.cursor, Ref: rand.Uint64(), TimeoutNs: int64(r.timeout)}
	if !r.answered {
		// The reader's first Pull grants the whole window: grant it now,
		// with the subscribe, and absorb that Pull when it comes.
		sub.Credits, sub.Max = int32(actors.PullWindow), int32(r.max)
		r.credit, r.absorb = actors.PullWindow, actors.PullWindow
	}
	c.Request(r.gatewayPID(), sub)
}

func (r *relay) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		r.subscribe(c)
	case *wire.Subscribed:
		if r.proxy != nil {
			c.Unwatch(r.proxy)
		}
		r.proxy, r.sub = actor.NewPID(m.ProxyAddress, m.ProxyId), m.Sub
		c.Watch(r.proxy)
		if !r.answered {
			r.answered = true
			snap := snapshotFromWire(m.Snapshot)
			r.tokens, r.tokensAt = snap.Tokens, snap.LastSeq
			r.result <- relayResult{sub: &actors.Subscribed{Sub: m.Sub, Request: c.Self(), Snapshot: *snap, Exhausted: m.Exhausted}}
			if m.Exhausted {
				c.Stop(c.Self())
			}
			return
		}
		r.lostSince = time.Time{}
		if r.credit > 0 {
			c.Request(r.proxy, &wire.Pull{Sub: r.sub, Max: int32(r.max), Credits: int32(r.credit)})
		}
	case *wire.Error:
		if !r.answered {
			r.result <- relayResult{err: errorFromWire(m)}
			c.Stop(c.Self())
			return
		}
		// Subscribing again found the request gone: the reader gets
		// ErrRequestGone.
		r.ended = true
		close(r.ch)
		c.Stop(c.Self())
	case *actors.Pull:
		n := max(1, m.Credits)
		absorbed := min(n, r.absorb)
		r.absorb -= absorbed
		n -= absorbed
		r.max = m.Max
		if n == 0 {
			return
		}
		r.credit += n
		if r.proxy != nil && r.lostSince.IsZero() {
			r.node.peer(r.addr).Sent.Add(1)
			c.Request(r.proxy, &wire.Pull{Sub: r.sub, Max: int32(m.Max), Credits: int32(n)})
		}
	case *actors.Unsubscribe:
		if r.proxy != nil {
			c.Request(r.proxy, &wire.Unsubscribe{Sub: r.sub})
		}
		r.ended = true
		c.Stop(c.Self())
	case *wire.Batch:
		if m.Sub != r.sub || r.ended {
			return // from a proxy replaced after a blip
		}
		r.deliver(c, m)
	case *actor.Terminated:
		if r.proxy != nil && m.Who.Equal(r.proxy) && !r.ended {
			r.lostSince = time.Now()
			r.tick(c)
		}
	case *relayTick:
		if r.ended || r.lostSince.IsZero() {
			return
		}
		r.tick(c)
	}
}

func (r *relay) deliver(c actor.Context, m *wire.Batch) {
	if !m.Closed {
		r.credit = max(0, r.credit-1)
	}
	recs := recordsFromWire(m.Records)
	for len(recs) > 0 && recs[0].Seq <= r.cursor {
		recs = recs[1:]
	}
	for i := range recs {
		switch recs[i].Kind {
		case model.KindToken:
			if recs[i].Seq > r.tokensAt {
				r.tokens++
			}
		case model.KindEnd:
			r.ended = true
		}
	}
	if len(recs) > 0 {
		r.cursor = recs[len(recs)-1].Seq
	}
	if len(recs) > 0 || m.Closed {
		r.put(actors.Batch{Request: r.id, Sub: m.Sub, Records: recs, Closed: m.Closed})
	}
	if r.ended || m.Closed {
		// The receipt: the proxy (and a node that leaves) waits for it.
		r.ended = true
		c.Request(r.proxy, &wire.Unsubscribe{Sub: r.sub})
		c.Stop(c.Self())
	}
}

// put hands a batch to the reader; the channel has room for every batch
// granted plus a final one, so it never waits.
func (r *relay) put(b actors.Batch) {
	select {
	case r.ch <- b:
	default:
		r.node.log.Error().Str("request_id", r.id).Msg("relay: a batch beyond the reader's credit was dropped")
	}
}

// tick decides, while the owner is unreachable, between waiting,
// subscribing again and ending the reader's stream as node_lost.
func (r *relay) tick(c actor.Context) {
	_, lost := r.node.lostAt(r.addr)
	switch {
	case lost || time.Since(r.lostSince) > r.node.cfg.Unreachable:
		r.ended = true
		end := lostEnd(r.cursor+1, r.tokens)
		if !lost {
			end.End.Message = fmt.Sprintf("the node that runs the request could not be reached for %s", r.node.cfg.Unreachable)
		}
		r.put(actors.Batch{Request: r.id, Sub: r.sub, Records: []model.Record{end}, Closed: true})
		c.Stop(c.Self())
		return
	case r.node.isMember(r.addr) && time.Since(r.lastTry) >= resubscribeEvery:
		r.subscribe(c)
	}
	self, root := c.Self(), r.node.system.Root
	time.AfterFunc(pollEvery, func() { root.Send(self, &relayTick{}) })
}
