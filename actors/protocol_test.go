package actors

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// sinkActor subscribes with its own PID, pulls batch after batch and
// reports each record on out.
type sinkActor struct {
	sup, req *actor.PID
	id       string
	sub      uint64
	out      chan<- model.Record
}

func (a *sinkActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		c.Request(a.sup, &Subscribe{ID: a.id, Owner: owner, Sink: c.Self()})
	case *Subscribed:
		a.req, a.sub = m.Request, m.Sub
		c.Request(a.req, &Pull{Sub: a.sub, Max: 2})
	case *Batch:
		for _, r := range m.Records {
			a.out <- r
		}
		if last := m.Records[len(m.Records)-1]; last.Kind == model.KindEnd {
			c.Request(a.req, &Unsubscribe{Sub: a.sub})
			return
		}
		c.Request(a.req, &Pull{Sub: a.sub, Max: 2})
	}
}

// The supervisor embedded as the child of a user's actor, driven purely by
// messages, with an actor as the subscriber.
func TestMessageProtocolFromActors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := scripted.New()
		h := newHarness(t, prov, nil) // only for its system and config
		defer h.close()
		props, err := SupervisorProps(h.eng.cfg)
		if err != nil {
			t.Fatal(err)
		}
		supc := make(chan *actor.PID, 1)
		host := actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*actor.Started); ok {
				supc <- c.Spawn(props) // Armistice as a child of the user's actor
			}
		})
		root := h.eng.system.Root
		hostPID := root.Spawn(host)
		defer root.Stop(hostPID)
		sup := <-supc

		res, err := root.RequestFuture(sup, &Submit{Owner: owner, Spec: prompt("p")}, time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		snap := res.(*Snapshot)
		out := make(chan model.Record, 64)
		sink := root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &sinkActor{sup: sup, id: snap.ID, out: out} }))
		defer root.Stop(sink)
		s, _ := prov.Next(h.ctx)
		for _, w := range []string{"a", "b", "c"} {
			s.Token(w)
		}
		s.Finish(llm.FinishStop, nil)
		var recs []model.Record
		for r := range out {
			recs = append(recs, r)
			if r.Kind == model.KindEnd {
				break
			}
		}
		if text(recs) != "abc" {
			t.Fatalf("sink read %v", recs)
		}
		wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
		for i, r := range recs {
			if r.Seq != uint64(i+1) {
				t.Fatalf("gap or duplicate at %d: %v", i, recs)
			}
		}
		res, _ = root.RequestFuture(sup, &GetStatus{ID: snap.ID, Owner: owner}, time.Second).Result()
		if got := res.(*Snapshot).Subscribers; got != 0 {
			t.Fatalf("subscribers after Unsubscribe = %d", got)
		}
	})
}

// A subscriber actor that stops without unsubscribing is detached through
// its watch; with on_disconnect=cancel that cancels the request.
func TestStoppedSinkActorIsDetached(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		spec := prompt("p")
		spec.OnDisconnect = model.OnDisconnectCancel
		snap := h.submit(spec)
		s := h.script()
		root := h.eng.system.Root
		out := make(chan model.Record, 64)
		sink := root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &sinkActor{sup: h.eng.sup, id: snap.ID, out: out} }))
		s.Token("a")
		for r := range out {
			if r.Kind == model.KindToken {
				break
			}
		}
		root.Stop(sink)
		<-s.Done() // DetachGrace later, the request is cancelled
		recs := h.readAll(h.subscribe(snap.ID, 0))
		wantEnd(t, recs, model.StateCancelled, model.StatusCancelled, model.ReasonClientDisconnected)
	})
}
