package actors

import (
	"fmt"
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

func TestRingIsFIFOAcrossWrapsAndGrowth(t *testing.T) {
	var q ring
	next, want := 0, 0
	for round := range 50 {
		for range round%7 + 3 { // pushes outpace pops: the ring wraps and grows
			q.push(next)
			next++
		}
		for range round%5 + 1 {
			if got, ok := q.pop(); !ok || got != want {
				t.Fatalf("pop = %v, %v, want %d", got, ok, want)
			}
			want++
		}
	}
	for want < next {
		if got, ok := q.pop(); !ok || got != want {
			t.Fatalf("pop = %v, %v, want %d", got, ok, want)
		}
		want++
	}
	if got, ok := q.pop(); ok {
		t.Fatalf("pop of an empty ring = %v, want none", got)
	}
}

// heldDispatcher keeps the scheduled runs for the test to start.
type heldDispatcher struct{ runs []func() }

func (d *heldDispatcher) Schedule(fn func()) { d.runs = append(d.runs, fn) }
func (d *heldDispatcher) Throughput() int    { return 2 }

func (d *heldDispatcher) runAll() {
	for len(d.runs) > 0 {
		fn := d.runs[0]
		d.runs = d.runs[1:]
		fn()
	}
}

type recordingInvoker struct {
	got       []string
	escalated []string
	panicOn   string
}

func (r *recordingInvoker) InvokeSystemMessage(m any) { r.got = append(r.got, fmt.Sprint("sys:", m)) }
func (r *recordingInvoker) InvokeUserMessage(m any) {
	if m == r.panicOn {
		panic("boom")
	}
	r.got = append(r.got, fmt.Sprint("user:", m))
}
func (r *recordingInvoker) EscalateFailure(reason, m any) {
	r.escalated = append(r.escalated, fmt.Sprint(reason, " on ", m))
}

func newHeldMailbox() (*mailbox, *heldDispatcher, *recordingInvoker) {
	m := newMailbox().(*mailbox)
	d, inv := &heldDispatcher{}, &recordingInvoker{}
	m.RegisterHandlers(inv, d)
	return m, d, inv
}

func TestMailboxRunsSystemMessagesFirstAndOneRunAtATime(t *testing.T) {
	m, d, inv := newHeldMailbox()
	m.PostUserMessage("a")
	m.PostSystemMessage("x")
	m.PostUserMessage("b")
	if len(d.runs) != 1 {
		t.Fatalf("%d runs scheduled for three posts to an idle mailbox, want 1", len(d.runs))
	}
	d.runAll()
	if want := []string{"sys:x", "user:a", "user:b"}; !slices.Equal(inv.got, want) {
		t.Fatalf("invoked %q, want %q", inv.got, want)
	}
	if n := m.UserMessageCount(); n != 0 {
		t.Fatalf("UserMessageCount = %d after the run, want 0", n)
	}
	// More messages than the throughput: the run yields between them and
	// still takes them all.
	inv.got = nil
	for i := range 5 {
		m.PostUserMessage(i)
	}
	d.runAll()
	if want := []string{"user:0", "user:1", "user:2", "user:3", "user:4"}; !slices.Equal(inv.got, want) {
		t.Fatalf("invoked %q, want %q", inv.got, want)
	}
}

func TestASuspendedMailboxHoldsUserMessagesUntilResumed(t *testing.T) {
	m, d, inv := newHeldMailbox()
	m.PostSystemMessage(&actor.SuspendMailbox{})
	m.PostUserMessage("held")
	d.runAll()
	if len(inv.got) != 0 {
		t.Fatalf("a suspended mailbox invoked %q", inv.got)
	}
	m.PostSystemMessage("x") // system messages still run
	d.runAll()
	m.PostSystemMessage(&actor.ResumeMailbox{})
	d.runAll()
	if want := []string{"sys:x", "user:held"}; !slices.Equal(inv.got, want) {
		t.Fatalf("invoked %q, want %q", inv.got, want)
	}
}

func TestAMailboxEscalatesAPanicAndRunsWhatFollows(t *testing.T) {
	m, d, inv := newHeldMailbox()
	inv.panicOn = "bad"
	m.PostUserMessage("bad")
	m.PostUserMessage("next")
	d.runAll()
	if want := []string{"boom on bad"}; !slices.Equal(inv.escalated, want) {
		t.Fatalf("escalated %q, want %q", inv.escalated, want)
	}
	if want := []string{"user:next"}; !slices.Equal(inv.got, want) {
		t.Fatalf("invoked %q, want %q", inv.got, want)
	}
}

// A nil user message is a message like any other: the run invokes it and
// goes on, instead of taking it for an empty queue while the count says
// one is waiting (the run then spun forever, as proto.actor's default
// mailbox does).
func TestANilMessageDoesNotStallTheMailbox(t *testing.T) {
	m, d, inv := newHeldMailbox()
	m.PostUserMessage(nil)
	m.PostUserMessage("a")
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.runAll()
	}()
	select {
	case <-done:
	case <-t.Context().Done():
		t.Fatal("the mailbox run did not end")
	}
	if want := []string{"user:<nil>", "user:a"}; !slices.Equal(inv.got, want) {
		t.Fatalf("invoked %q, want %q", inv.got, want)
	}
}
