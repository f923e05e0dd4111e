package actors

import (
	"testing"
	"testing/synctest"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// twoStreams subscribes one actor to two requests and files every record
// under the request its batch names, checking the sender is that request.
type twoStreams struct {
	sup      *actor.PID
	ids      [2]string
	reqs     map[string]*actor.PID
	subs     map[uint64]string
	got      map[string][]model.Record
	done     chan map[string][]model.Record
	mixed    chan string
	finished int
}

func (a *twoStreams) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		for _, id := range a.ids {
			c.Request(a.sup, &Subscribe{ID: id, Owner: owner, Sink: c.Self()})
		}
	case *Subscribed:
		if _, dup := a.subs[m.Sub]; dup {
			a.mixed <- "two subscriptions with one id"
		}
		a.subs[m.Sub] = m.Snapshot.ID
		a.reqs[m.Snapshot.ID] = m.Request
		c.Request(m.Request, &Pull{Sub: m.Sub, Credits: 8})
	case *Batch:
		if a.subs[m.Sub] != m.Request {
			a.mixed <- "batch of " + m.Request + " under the subscription of " + a.subs[m.Sub]
		}
		if s := c.Sender(); s == nil || !s.Equal(a.reqs[m.Request]) {
			a.mixed <- "batch without its request as sender"
		}
		a.got[m.Request] = append(a.got[m.Request], m.Records...)
		if len(m.Records) > 0 && m.Records[len(m.Records)-1].Kind == model.KindEnd {
			a.finished++
			if a.finished == 2 {
				a.done <- a.got
			}
			return
		}
		c.Request(c.Sender(), &Pull{Sub: m.Sub})
	}
}

// TestOneActorTwoRequestsNeverMixed: an actor subscribed to two requests
// tells their streams apart by Batch.Request, the sender and the
// subscription id.
func TestOneActorTwoRequestsNeverMixed(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		// Each script right after its submit: the scripted provider hands
		// them out in the order the producers open their streams, which
		// two requests started together may do either way.
		a := h.submit(prompt("a"))
		sa := h.script()
		b := h.submit(prompt("b"))
		sb := h.script()
		actorState := &twoStreams{sup: h.eng.sup, ids: [2]string{a.ID, b.ID}, reqs: map[string]*actor.PID{},
			subs: map[uint64]string{}, got: map[string][]model.Record{}, done: make(chan map[string][]model.Record, 1), mixed: make(chan string, 16)}
		pid := h.eng.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return actorState }))
		defer h.eng.system.Root.Stop(pid)
		synctest.Wait()
		for i := range 5 {
			sa.Token("a")
			sb.Token("b")
			if i == 2 {
				synctest.Wait()
			}
		}
		sa.Finish(llm.FinishStop, nil)
		sb.Finish(llm.FinishStop, nil)
		got := <-actorState.done
		select {
		case m := <-actorState.mixed:
			t.Fatal(m)
		default:
		}
		if text(got[a.ID]) != "aaaaa" || text(got[b.ID]) != "bbbbb" {
			t.Fatalf("a read %q, b read %q", text(got[a.ID]), text(got[b.ID]))
		}
	})
}

// TestPullFromAnotherSenderIsIgnored: only the subscriber itself can pull
// or unsubscribe.
func TestPullFromAnotherSenderIsIgnored(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		h.script().Token("x")
		sub := h.subscribe(snap.ID, 0)
		root := h.eng.system.Root
		thief := root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*Batch); ok {
				t.Error("the thief received a batch")
			}
		}))
		defer root.Stop(thief)
		root.RequestWithCustomSender(sub.req, &Pull{Sub: sub.id, Credits: 4}, thief)
		root.RequestWithCustomSender(sub.req, &Unsubscribe{Sub: sub.id}, thief)
		synctest.Wait()
		if n := h.status(snap.ID).Subscribers; n != 1 {
			t.Fatalf("subscribers = %d after a foreign unsubscribe", n)
		}
	})
}
