package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

// The one ignore: proto.actor's dead-letter throttle starts a goroutine
// that ends one second after the first dead letter of a period. Tests on
// real time (TestCallsThatGiveUpLeaveNothingBehind: answers that reach a
// caller who gave up are dead letters) may end within that second; the
// tests on virtual time wait it out.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

const owner = "tenant-a"

// harness is one engine inside one synctest bubble, driven by a scripted
// provider. Everything it does runs on virtual time.
type harness struct {
	t    *testing.T
	ctx  context.Context
	eng  *Engine
	prov *scripted.Provider
}

// scenario runs f in a fresh bubble with a fresh engine; mut adjusts the
// config (nil for the defaults).
func scenario(t *testing.T, mut func(*Config), f func(h *harness)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.New(), mut)
		defer h.close()
		f(h)
	})
}

func newHarness(t *testing.T, prov llm.Provider, mut func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig(prov)
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	n := 0
	cfg.NewID = func() string { n++; return fmt.Sprintf("req-%d", n) }
	if mut != nil {
		mut(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sp, _ := prov.(*scripted.Provider)
	return &harness{t: t, ctx: context.Background(), eng: eng, prov: sp}
}

// close stops the engine and lets virtual time pass proto.actor's
// dead-letter throttle, so the bubble ends with no goroutine left.
func (h *harness) close() {
	h.eng.Close()
	time.Sleep(10 * time.Second)
}

func prompt(text string) Spec {
	return Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}}
}

func (h *harness) submit(spec Spec) Snapshot {
	h.t.Helper()
	snap, err := h.eng.Submit(h.ctx, owner, spec)
	if err != nil {
		h.t.Fatalf("Submit: %v", err)
	}
	return snap
}

// script waits for the next stream the engine opens.
func (h *harness) script() *scripted.Script {
	h.t.Helper()
	s, err := h.prov.Next(h.ctx)
	if err != nil {
		h.t.Fatalf("no stream opened: %v", err)
	}
	return s
}

func (h *harness) status(id string) Snapshot {
	h.t.Helper()
	snap, err := h.eng.Status(h.ctx, id, owner)
	if err != nil {
		h.t.Fatalf("Status(%s): %v", id, err)
	}
	return snap
}

func (h *harness) subscribe(id string, after uint64) *Subscription {
	h.t.Helper()
	sub, err := h.eng.Subscribe(h.ctx, id, owner, after)
	if err != nil {
		h.t.Fatalf("Subscribe(%s, %d): %v", id, after, err)
	}
	return sub
}

// readAll reads until the end record and checks that seqs follow the
// cursor with no gap or duplicate.
func (h *harness) readAll(sub *Subscription) []model.Record {
	h.t.Helper()
	var out []model.Record
	next := sub.Cursor() + 1
	for {
		recs, err := sub.Next(h.ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			h.t.Fatalf("Next: %v (read so far: %v)", err, out)
		}
		for _, r := range recs {
			if r.Seq != next {
				h.t.Fatalf("seq %d where %d was due (read so far: %v)", r.Seq, next, out)
			}
			next++
		}
		out = append(out, recs...)
	}
}

// text joins the token records.
func text(recs []model.Record) string {
	var b strings.Builder
	for _, r := range recs {
		if r.Kind == model.KindToken {
			b.WriteString(r.Text)
		}
	}
	return b.String()
}

// endOf returns the single end record, failing unless there is exactly one
// and it is last.
func endOf(t *testing.T, recs []model.Record) model.End {
	t.Helper()
	n := 0
	for i, r := range recs {
		if r.Kind == model.KindEnd {
			n++
			if i != len(recs)-1 {
				t.Fatalf("end record at %d of %d: %v", i, len(recs), recs)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d end records in %v", n, recs)
	}
	return *recs[len(recs)-1].End
}

func wantEnd(t *testing.T, recs []model.Record, state model.State, status model.Status, reason model.Reason) model.End {
	t.Helper()
	end := endOf(t, recs)
	if end.State != state || end.Status != status || end.Reason != reason {
		t.Fatalf("end = %s/%s/%s, want %s/%s/%s (log %v)", end.State, end.Status, end.Reason, state, status, reason, recs)
	}
	return end
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}
