package cluster

import (
	"context"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster/wire"
	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
)

// gateway serves other nodes' commands on this node's requests. A read or
// a cancel is an Engine call on its own goroutine (bounded by the
// caller's timeout), whose answer is sent back; a subscribe spawns a
// proxy, the local subscriber that stands for the remote relay.
type gateway struct{ node *Node }

// listProxies asks the gateway for its live proxies (tests use it to
// make a blip).
type listProxies struct{ reply chan []*actor.PID }

func (g *gateway) Receive(c actor.Context) {
	n := g.node
	switch m := c.Message().(type) {
	case *listProxies:
		m.reply <- c.Children()
	case *wire.GetStatus:
		g.serve(c, m.Id, "status", m.TimeoutNs, func(ctx context.Context) (proto.Message, error) {
			s, err := n.eng.Status(ctx, m.Id, m.Owner)
			return snapshotToWire(&s), err
		})
	case *wire.GetLog:
		g.serve(c, m.Id, "log", m.TimeoutNs, func(ctx context.Context) (proto.Message, error) {
			l, err := n.eng.Log(ctx, m.Id, m.Owner)
			return logToWire(&l), err
		})
	case *wire.Cancel:
		g.serve(c, m.Id, "cancel", m.TimeoutNs, func(ctx context.Context) (proto.Message, error) {
			s, err := n.eng.Cancel(ctx, m.Id, m.Owner)
			return snapshotToWire(&s), err
		})
	case *wire.Delete:
		g.serve(c, m.Id, "delete", m.TimeoutNs, func(ctx context.Context) (proto.Message, error) {
			s, err := n.eng.Delete(ctx, m.Id, m.Owner)
			return snapshotToWire(&s), err
		})
	case *wire.Submit:
		spec, err := specFromWire(m)
		if err != nil {
			c.Respond(errorToWire(err, "submit", 0))
			return
		}
		g.serve(c, "", "submit", m.TimeoutNs, func(ctx context.Context) (proto.Message, error) {
			s, err := n.eng.SubmitHere(ctx, m.Owner, spec)
			return snapshotToWire(&s), err
		})
	case *wire.Subscribe:
		if c.Sender() == nil {
			return
		}
		if !n.Local(m.Id) {
			c.Respond(errorToWire(notFound(m.Id, "subscribe"), "subscribe", m.Ref))
			return
		}
		n.proxies.Add(1)
		relay := c.Sender()
		c.Spawn(actor.PropsFromProducer(func() actor.Actor { return &proxy{node: n, relay: relay, cmd: m} }))
	}
}

// serve answers one command from its own goroutine, so a slow engine
// call holds nothing else up; the caller gave its timeout, and nothing is
// sent once it has passed.
func (g *gateway) serve(c actor.Context, id, command string, timeoutNs int64, call func(context.Context) (proto.Message, error)) {
	sender := c.Sender()
	if sender == nil {
		return
	}
	n := g.node
	if id != "" && !n.Local(id) {
		c.Respond(errorToWire(notFound(id, command), command, 0))
		return
	}
	root := n.system.Root
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutNs))
		defer cancel()
		res, err := call(ctx)
		if ctx.Err() != nil {
			return // the caller stopped waiting
		}
		if err != nil {
			res = errorToWire(err, command, 0)
		}
		root.Send(sender, res)
	}()
}

// proxy is the owner-side subscriber for one remote relay: it carries
// the relay's Pull and Unsubscribe to the request as its own (the request
// takes them only from its subscriber) and the request's batches back.
// It detaches when the relay goes (its node died, or its reader gave up).
type proxy struct {
	node  *Node
	relay *actor.PID
	cmd   *wire.Subscribe
	req   *actor.PID
	sub   uint64
	final bool // the end went to the relay; waiting for its receipt
}

// finalReceiptWait bounds how long a proxy waits for the relay to confirm
// the final batch (a node that leaves waits for these receipts, so its
// readers on other nodes have their ends before it goes).
const finalReceiptWait = 5 * time.Second

func (p *proxy) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		c.Watch(p.relay)
		timeout := time.Duration(p.cmd.TimeoutNs)
		c.Request(p.node.eng.Supervisor(), &actors.Subscribe{ID: p.cmd.Id, Owner: p.cmd.Owner, After: p.cmd.After,
			Sink: c.Self(), Ref: p.cmd.Ref, Deadline: time.Now().Add(timeout)})
		c.SetReceiveTimeout(timeout)
	case *actor.ReceiveTimeout:
		// The command was dropped (its deadline passed), or the relay
		// never confirmed the end.
		if p.req == nil || p.final {
			c.Stop(c.Self())
		}
	case *actors.Subscribed:
		c.CancelReceiveTimeout()
		p.req, p.sub = m.Request, m.Sub
		self := c.Self()
		c.Send(p.relay, &wire.Subscribed{Sub: m.Sub, ProxyAddress: self.Address, ProxyId: self.Id,
			Snapshot: snapshotToWire(&m.Snapshot), Exhausted: m.Exhausted, Ref: m.Ref})
		if m.Exhausted {
			c.Stop(self)
			return
		}
		if p.cmd.Credits > 0 {
			c.Request(p.req, &actors.Pull{Sub: p.sub, Max: int(p.cmd.Max), Credits: int(p.cmd.Credits)})
		}
	case *actors.Error:
		c.Send(p.relay, errorToWire(m, "subscribe", p.cmd.Ref))
		c.Stop(c.Self())
	case *actor.DeadLetterResponse:
		c.Send(p.relay, errorToWire(notFound(p.cmd.Id, "subscribe"), "subscribe", p.cmd.Ref))
		c.Stop(c.Self())
	case *actors.Batch:
		b := &wire.Batch{Request: m.Request, Sub: m.Sub, Records: recordsToWire(m.Records), Closed: m.Closed}
		c.Send(p.relay, b)
		p.node.peer(p.relay.Address).Sent.Add(1)
		if m.Closed || (len(m.Records) > 0 && m.Records[len(m.Records)-1].End != nil) {
			p.final = true
			c.SetReceiveTimeout(finalReceiptWait)
		}
	case *wire.Pull:
		if p.req != nil {
			c.Request(p.req, &actors.Pull{Sub: p.sub, Max: int(m.Max), Credits: int(m.Credits)})
		}
	case *wire.Unsubscribe:
		p.detach(c)
	case *actor.Terminated:
		if m.Who.Equal(p.relay) {
			p.detach(c)
		}
	case *actor.Stopped:
		p.node.proxies.Done()
	}
}

func (p *proxy) detach(c actor.Context) {
	if p.req != nil {
		c.Request(p.req, &actors.Unsubscribe{Sub: p.sub})
	}
	c.Stop(c.Self())
}
