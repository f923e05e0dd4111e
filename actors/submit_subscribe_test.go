package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
)

// runsUntilQuiet counts the mailbox runs the pool made while f ran and
// until every goroutine of the bubble was idle again.
func runsUntilQuiet(h *harness, f func()) uint64 {
	h.t.Helper()
	synctest.Wait()
	st0, err := h.eng.Stats(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	f()
	synctest.Wait()
	st, err := h.eng.Stats(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	// Stats itself runs the supervisor once each time.
	return st.MailboxRunsOnWorkers + st.MailboxRunsOnGoroutines - st0.MailboxRunsOnWorkers - st0.MailboxRunsOnGoroutines - 1
}

// TestSubmitAndSubscribeTakesOneCall: a request created with its reader
// attached costs the supervisor one command and the request one run,
// where Submit then Subscribe cost two commands and three runs, and the
// reader still reads the whole log from its first record.
func TestSubmitAndSubscribeTakesOneCall(t *testing.T) {
	scenario(t, func(c *Config) { c.Workers = 4 }, func(h *harness) {
		var twoCalls, oneCall uint64
		var subA, subB *Subscription
		twoCalls = runsUntilQuiet(h, func() {
			snap := h.submit(prompt("a"))
			subA = h.subscribe(snap.ID, 0)
		})
		scriptA := h.script()
		var snapB Snapshot
		oneCall = runsUntilQuiet(h, func() {
			var err error
			snapB, subB, err = h.eng.SubmitAndSubscribe(h.ctx, owner, prompt("b"))
			if err != nil {
				t.Fatal(err)
			}
		})
		scriptB := h.script()
		t.Logf("mailbox runs to create a request and attach its reader: %d in two calls, %d in one", twoCalls, oneCall)
		// Two calls: the supervisor's submit, the request's start (its
		// answer and admit), the supervisor's subscribe, the request's
		// attach. One call: the supervisor's submit, the request's start
		// with the reader attached.
		if oneCall > 2 || oneCall >= twoCalls {
			t.Errorf("%d mailbox runs in one call (want at most 2), %d in two", oneCall, twoCalls)
		}
		if snapB.ID == "" || snapB.State != model.StatePending && snapB.State != model.StateStreaming || snapB.Subscribers != 1 {
			t.Errorf("snapshot %+v: want the request as accepted, with its subscriber", snapB)
		}
		if got := h.status(snapB.ID).Subscribers; got != 1 {
			t.Errorf("%d subscribers attached, want 1", got)
		}
		for _, s := range []*scripted.Script{scriptA, scriptB} {
			s.Token("x")
			s.Token("y")
			s.Finish(llm.FinishStop, nil)
		}
		for _, sub := range []*Subscription{subA, subB} {
			recs := h.readAll(sub)
			if text(recs) != "xy" {
				t.Errorf("read %q, want xy", text(recs))
			}
			sub.Close()
		}
	})
}

// TestASubscriptionHoldsItsWindowAsItAttaches: the reader's first batches
// are on their way before it first reads; the request needs no Pull to
// start delivering.
func TestASubscriptionHoldsItsWindowAsItAttaches(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		s.Token("x")
		s.Finish(llm.FinishStop, nil)
		synctest.Wait()
		sub := h.subscribe(snap.ID, 0)
		defer sub.Close()
		synctest.Wait()
		if len(sub.ch) == 0 {
			t.Fatal("nothing delivered to a new subscriber of a finished request before its first read")
		}
		if recs := h.readAll(sub); text(recs) != "x" {
			t.Fatalf("read %q, want x", text(recs))
		}
	})
}

// TestSubmitAndSubscribeMissesNoEarlyToken: tokens the provider sends
// the moment the request starts, before its caller has the answer, are
// all read.
func TestSubmitAndSubscribeMissesNoEarlyToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.Play(scripted.Words(40, 0)...), nil)
		defer h.close()
		for range 20 {
			_, sub, err := h.eng.SubmitAndSubscribe(h.ctx, owner, prompt("p"))
			if err != nil {
				t.Fatal(err)
			}
			recs := h.readAll(sub)
			if n := len(recs); n != 43 { // pending, streaming, 40 tokens, the end
				t.Fatalf("read %d records, want 43: %v", n, recs)
			}
			wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
			sub.Close()
		}
	})
}

// TestSubmitAndSubscribeWithAKeyFindsTheSameRequest: a retried submit
// with an idempotency key gets the request of the first, with a reader
// of its own.
func TestSubmitAndSubscribeWithAKeyFindsTheSameRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.Play(scripted.Words(3, time.Millisecond)...), nil)
		defer h.close()
		spec := prompt("p")
		spec.IdempotencyKey = "k1"
		first, subA, err := h.eng.SubmitAndSubscribe(h.ctx, owner, spec)
		if err != nil {
			t.Fatal(err)
		}
		again, subB, err := h.eng.SubmitAndSubscribe(h.ctx, owner, spec)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID || !again.Replayed {
			t.Fatalf("retry got %s (replayed %v), want %s replayed", again.ID, again.Replayed, first.ID)
		}
		for _, sub := range []*Subscription{subA, subB} {
			if got := text(h.readAll(sub)); got != " t1 t2 t3" {
				t.Errorf("read %q", got)
			}
			sub.Close()
		}
	})
}

// TestTheSupervisorLearnsOfTheEndBeforeAnyReader: a request tells its
// parent it finished before the end record can reach a subscriber, so
// a client that read the end and submits again finds the slot free and
// the request retained (a stored response evicted in place of the one
// that finished before it, when the second's answer overtook the
// first's notice: TestEvictedStoredResponse under load). The request
// runs under a parent that looks, as it is told, at what its subscriber
// was given.
func TestTheSupervisorLearnsOfTheEndBeforeAnyReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig(scripted.Play(scripted.Words(3, 0)...))
		cfg.Logger = zerolog.Nop()
		system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(zerolog.NewSlogHandler(zerolog.Nop()))
		}))
		ch := make(chan Batch, pullWindow+1)
		var given []model.Record // what the subscriber had when the parent was told
		told := make(chan bool, 1)
		intercept := func(next actor.SenderFunc) actor.SenderFunc {
			return func(c actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
				if _, ok := env.Message.(*finished); ok {
					for len(ch) > 0 {
						given = append(given, (<-ch).Records...)
					}
					told <- true
				}
				if target != nil { // the parent of a request spawned here is nobody
					next(c, target, env)
				}
			}
		}
		props := actor.PropsFromProducer(func() actor.Actor { return newRequestActor(&cfg, "r1", owner, prompt("p")) },
			actor.WithMailbox(newMailbox), actor.WithSenderMiddleware(intercept))
		pid := system.Root.Spawn(props)
		system.Root.Send(pid, &statusQuery{attach: &Subscribe{ID: "r1", Owner: owner, ch: ch, credits: pullWindow}})
		system.Root.Send(pid, &admit{})
		<-told
		for _, rec := range given {
			if rec.Kind == model.KindEnd {
				t.Fatalf("the subscriber had the end before the parent was told the request finished: %v", given)
			}
		}
		t.Logf("records given before the notice: %d", len(given))
		if err := system.Root.PoisonFuture(pid).Wait(); err != nil {
			t.Fatal(err)
		}
		system.Shutdown()
		time.Sleep(10 * time.Second) // past proto.actor's dead-letter throttle
	})
}
