//go:build !race || clusterrace

// The in-process cluster tests: see docs/cluster.md ("Limits") for why
// they do not build under -race unless asked (-tags clusterrace).

package cluster

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/rs/zerolog"
)

// member is one in-process node with its engine and scripted model.
type member struct {
	node  *Node
	eng   *actors.Engine
	model *scripted.Provider
}

func (m *member) stop() {
	m.node.Leave(time.Second)
	m.eng.Close()
}

// cut takes the member out the hard way, with no drain: its membership
// record is removed at once (in-process there is no TTL worth waiting
// for) or, in etcd mode, left to expire with its lease as a killed
// process's would; gossip and its remote server stop. Remote.Shutdown(false)
// stops only the inbound server: messages it still sends go out over its
// open outbound connections, so closing its engine now sends a
// failed/shutdown end to remote readers, which a killed process would
// not. A cut member's engine, frozen, is closed at the end of the test.
func (m *member) cut() {
	m.node.mu.Lock()
	m.node.leaving = true
	m.node.mu.Unlock()
	if ep, ok := m.node.provider.(*etcdProvider); ok {
		ep.crash()
	} else {
		_ = m.node.provider.Shutdown(false)
	}
	m.node.cl.Gossip.Shutdown()
	m.node.cl.Remote.Shutdown(false)
}

// startMembers starts n nodes, each with a config from cfg, at once
// (proto.actor's StartMember waits a second each).
func startMembers(t testing.TB, n int, cfg func() Config) []*member {
	t.Helper()
	out := make([]*member, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = startMember(cfg())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// inMemConfig is a node's config on proto.actor's in-process provider.
func inMemConfig(agent *test.InMemAgent) Config {
	cfg := DefaultConfig()
	cfg.Mode = ModeAutomanaged
	cfg.Provider = test.NewTestProvider(agent, test.WithTestProviderRefreshTtl(100*time.Millisecond), test.WithTestProviderServiceTtl(time.Second))
	cfg.Unreachable = 3 * time.Second
	return cfg
}

// startMember starts a node with cfg, an engine (its config changed by
// tweaks) and a scripted model.
func startMember(cfg Config, tweaks ...func(*actors.Config)) (*member, error) {
	node, err := New(cfg, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	model := scripted.New()
	ecfg := actors.DefaultConfig(model)
	ecfg.NewID = node.NewID
	ecfg.AskTimeout = 3 * time.Second
	for _, tweak := range tweaks {
		tweak(&ecfg)
	}
	eng, err := actors.New(ecfg)
	if err != nil {
		return nil, err
	}
	if err := node.Start(eng); err != nil {
		eng.Close()
		return nil, err
	}
	return &member{node: node, eng: eng, model: model}, nil
}

// waitMembers waits until every member sees want members.
func waitMembers(t testing.TB, want int, ms ...*member) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for _, m := range ms {
		for {
			changed := m.node.membersChanged()
			if len(m.node.Members()) == want {
				break
			}
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("%s sees %v, want %d members", m.node.Addr(), m.node.Members(), want)
			}
		}
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func submit(t testing.TB, m *member, owner, text string) (actors.Snapshot, *scripted.Script) {
	t.Helper()
	ctx := ctxT(t)
	snap, err := m.eng.Submit(ctx, owner, actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}})
	if err != nil {
		t.Fatal(err)
	}
	script, err := m.model.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snap, script
}

// readAll reads a subscription to its end.
func readAll(t testing.TB, sub *actors.Subscription) []model.Record {
	t.Helper()
	ctx := ctxT(t)
	var out []model.Record
	for {
		recs, err := sub.Next(ctx)
		out = append(out, recs...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(out), err)
		}
	}
}

// readN reads at least n records.
func readN(t testing.TB, sub *actors.Subscription, n int) []model.Record {
	t.Helper()
	ctx := ctxT(t)
	var out []model.Record
	for len(out) < n {
		recs, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", len(out), err)
		}
		out = append(out, recs...)
	}
	return out
}

func subscribe(t testing.TB, m *member, id, owner string, after uint64) *actors.Subscription {
	t.Helper()
	sub, err := m.eng.Subscribe(ctxT(t), id, owner, after)
	if err != nil {
		t.Fatalf("subscribe %s through %s: %v", id, m.node.Addr(), err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func end(recs []model.Record) *model.End {
	if len(recs) == 0 {
		return nil
	}
	return recs[len(recs)-1].End
}

var shared struct {
	once  sync.Once
	agent *test.InMemAgent
	ms    []*member
}

// three returns the package's shared three-node cluster.
func three(t testing.TB) (a, b, c *member) {
	shared.once.Do(func() {
		shared.agent = test.NewInMemAgent()
		shared.ms = startMembers(t, 3, func() Config { return inMemConfig(shared.agent) })
		waitMembers(t, 3, shared.ms...)
	})
	if len(shared.ms) != 3 {
		t.Fatal("the shared cluster did not start")
	}
	return shared.ms[0], shared.ms[1], shared.ms[2]
}

// TestAnyNodeAnswersForAnyRequest: submitted on A, streamed through B,
// resumed through C from a cursor, cancelled through C; every node reads
// the same records and the same status; another tenant sees nothing.
func TestAnyNodeAnswersForAnyRequest(t *testing.T) {
	a, b, c := three(t)
	snap, script := submit(t, a, "t1", "hello")
	if a.node.Local(snap.ID) != true || b.node.Local(snap.ID) {
		t.Fatalf("id %s does not name its node", snap.ID)
	}
	subB := subscribe(t, b, snap.ID, "t1", 0)
	subA := subscribe(t, a, snap.ID, "t1", 0)
	for _, w := range []string{"one ", "two ", "three "} {
		script.Token(w)
	}
	gotB := readN(t, subB, 4) // streaming + three tokens
	// resume through C after the second token
	subC := subscribe(t, c, snap.ID, "t1", gotB[2].Seq)
	script.Token("four")
	ctx := ctxT(t)
	if _, err := c.eng.Cancel(ctx, snap.ID, "t1"); err != nil {
		t.Fatalf("cancel through C: %v", err)
	}
	restB := readAll(t, subB)
	allB := append(gotB, restB...)
	allA := readAll(t, subA)
	allC := readAll(t, subC)
	if !slices.EqualFunc(allA, allB, recordsEqual) {
		t.Fatalf("B read\n%v\nA read\n%v", allB, allA)
	}
	if !slices.EqualFunc(allC, allA[3:], recordsEqual) {
		t.Fatalf("C read from seq %d\n%v\nA read\n%v", gotB[2].Seq, allC, allA)
	}
	if e := end(allA); e == nil || e.State != model.StateCancelled || e.Reason != model.ReasonClientCancel {
		t.Fatalf("end %+v; want cancelled/client_cancel", e)
	}
	for _, m := range []*member{a, b, c} {
		s, err := m.eng.Status(ctx, snap.ID, "t1")
		if err != nil || s.State != model.StateCancelled || s.Tokens != 4 {
			t.Fatalf("status through %s: %+v, %v", m.node.Addr(), s, err)
		}
		if _, err := m.eng.Status(ctx, snap.ID, "t2"); !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("another tenant through %s: %v; want not found", m.node.Addr(), err)
		}
		l, err := m.eng.Log(ctx, snap.ID, "t1")
		if err != nil || !slices.EqualFunc(l.Records, allA, recordsEqual) {
			t.Fatalf("log through %s: %v, %v", m.node.Addr(), l.Records, err)
		}
	}
	// A second cancel through B answers as on one node: already finished
	// is not what a cancelled request says; it says cancelled again.
	if s, err := b.eng.Cancel(ctx, snap.ID, "t1"); err != nil || s.State != model.StateCancelled {
		t.Fatalf("cancel again through B: %+v, %v", s, err)
	}
	if _, err := b.eng.Delete(ctx, snap.ID, "t1"); err != nil {
		t.Fatalf("delete through B: %v", err)
	}
	if _, err := c.eng.Status(ctx, snap.ID, "t1"); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("status after delete: %v; want not found", err)
	}
}

func recordsEqual(x, y model.Record) bool { return x.String() == y.String() }

// TestAnIDNamingNoMemberIsNotFound: an id a client made up, naming an
// address that is no member, answers not found at once (nothing is
// dialled).
func TestAnIDNamingNoMemberIsNotFound(t *testing.T) {
	_, b, _ := three(t)
	ctx := ctxT(t)
	for _, id := range []string{encodeAddr("10.1.2.3:9") + "_x", "plain", "zz_", encodeAddr("not-an-address") + "_x"} {
		if _, err := b.eng.Status(ctx, id, "t1"); !errors.Is(err, actors.ErrNotFound) {
			t.Errorf("status %q: %v; want not found", id, err)
		}
		if _, err := b.eng.Subscribe(ctx, id, "t1", 0); !errors.Is(err, actors.ErrNotFound) {
			t.Errorf("subscribe %q: %v; want not found", id, err)
		}
	}
}

// TestResumeAcrossNodesIsExact: a long stream read through B in pieces,
// each from a fresh subscription at the cursor of the last, gives every
// record once, in order.
func TestResumeAcrossNodesIsExact(t *testing.T) {
	a, b, _ := three(t)
	snap, script := submit(t, a, "t1", "long")
	go func() {
		for i := range 300 {
			script.Token(string(rune('a' + i%26)))
		}
		script.Finish(llm.FinishStop, nil)
	}()
	var got []model.Record
	var cursor uint64
	for {
		sub := subscribe(t, b, snap.ID, "t1", cursor)
		recs, err := sub.Next(ctxT(t))
		sub.Close()
		got = append(got, recs...)
		if len(recs) > 0 {
			cursor = recs[len(recs)-1].Seq
		}
		if errors.Is(err, io.EOF) || end(got) != nil {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	if e := end(got); e == nil || e.Reason != model.ReasonStop || e.Tokens != 300 {
		t.Fatalf("end %+v", e)
	}
}

// TestNodeLossEndsEveryRemoteStream: the owner dies mid-stream; readers
// through the other nodes get an end failed/node_lost, and status reads
// through any survivor answer failed/node_lost, never not found.
func TestNodeLossEndsEveryRemoteStream(t *testing.T) {
	_, b, c := three(t)
	owner, err := startMember(inMemConfig(shared.agent))
	if err != nil {
		t.Fatal(err)
	}
	waitMembers(t, 4, owner, b, c)
	snap, script := submit(t, owner, "t1", "doomed")
	subB := subscribe(t, b, snap.ID, "t1", 0)
	subC := subscribe(t, c, snap.ID, "t1", 0)
	script.Token("x")
	script.Token("y")
	readN(t, subB, 3)
	readN(t, subC, 3)
	killed := time.Now()
	owner.cut()
	defer owner.eng.Close() // frozen: a killed process sends nothing more
	for _, sub := range []*actors.Subscription{subB, subC} {
		recs := readAll(t, sub)
		e := end(recs)
		if e == nil || e.Status != model.StatusFailed || e.Reason != model.ReasonNodeLost || e.Tokens != 2 {
			t.Fatalf("end %+v; want failed/node_lost with 2 tokens", e)
		}
	}
	if d := time.Since(killed); d > 2*time.Second {
		t.Errorf("node_lost came %s after the kill; want within 2 s", d)
	}
	ctx := ctxT(t)
	for _, m := range []*member{b, c} {
		s, err := m.eng.Status(ctx, snap.ID, "t1")
		if err != nil || s.Status != model.StatusFailed || s.Reason != model.ReasonNodeLost {
			t.Fatalf("status through %s: %+v, %v", m.node.Addr(), s, err)
		}
		if _, err := m.eng.Cancel(ctx, snap.ID, "t1"); !errors.Is(err, actors.ErrAlreadyFinished) {
			t.Fatalf("cancel through %s: %v; want already finished", m.node.Addr(), err)
		}
		sub := subscribe(t, m, snap.ID, "t1", 3)
		if e := end(readAll(t, sub)); e == nil || e.Reason != model.ReasonNodeLost {
			t.Fatalf("resume through %s: end %+v", m.node.Addr(), e)
		}
	}
}

// TestJoinMovesNothing: a node joining mid-stream leaves the request
// where it is; its reader through another node reads it to the end.
func TestJoinMovesNothing(t *testing.T) {
	a, b, c := three(t)
	snap, script := submit(t, a, "t1", "steady")
	sub := subscribe(t, b, snap.ID, "t1", 0)
	script.Token("before ")
	readN(t, sub, 2)
	joiner, err := startMember(inMemConfig(shared.agent))
	if err != nil {
		t.Fatal(err)
	}
	defer joiner.stop()
	waitMembers(t, 4, a, b, c, joiner)
	script.Token("after")
	script.Finish(llm.FinishStop, nil)
	recs := readAll(t, sub)
	if e := end(recs); e == nil || e.Reason != model.ReasonStop || e.Tokens != 2 {
		t.Fatalf("end %+v", e)
	}
	if s, err := joiner.eng.Status(ctxT(t), snap.ID, "t1"); err != nil || s.Reason != model.ReasonStop {
		t.Fatalf("status through the new node: %+v, %v", s, err)
	}
}

// TestDrainThenLeave: a node drained before it leaves hands every
// reader, on any node, its end (failed/shutdown), then leaves.
func TestDrainThenLeave(t *testing.T) {
	_, b, _ := three(t)
	owner, err := startMember(inMemConfig(shared.agent))
	if err != nil {
		t.Fatal(err)
	}
	waitMembers(t, 4, owner, b)
	snap, script := submit(t, owner, "t1", "draining")
	sub := subscribe(t, b, snap.ID, "t1", 0)
	script.Token("x")
	readN(t, sub, 2)
	if err := owner.node.Ready(); err != nil {
		t.Fatal(err)
	}
	if err := owner.eng.Drain(ctxT(t), 0); err != nil {
		t.Fatal(err)
	}
	owner.node.Leave(2 * time.Second)
	if err := owner.node.Ready(); err == nil {
		t.Fatal("a node that left is still ready")
	}
	if e := end(readAll(t, sub)); e == nil || e.Reason != model.ReasonShutdown {
		t.Fatalf("end %+v; want failed/shutdown", e)
	}
	closing := time.Now()
	owner.eng.Close()
	t.Logf("close took %s", time.Since(closing))
	waitMembers(t, 3, b)
}

// TestBlipIsSurvivedFromTheCursor: the owner-side proxy of a remote
// reader goes away while the owner stays a member (what a broken and
// restored connection looks like to the relay); the relay subscribes
// again from its cursor and the reader reads every record exactly once.
func TestBlipIsSurvivedFromTheCursor(t *testing.T) {
	a, b, _ := three(t)
	snap, script := submit(t, a, "t1", "blip")
	sub := subscribe(t, b, snap.ID, "t1", 0)
	script.Token("one ")
	got := readN(t, sub, 3)
	reply := make(chan []*actor.PID, 1)
	a.node.system.Root.Send(a.node.gateway, &listProxies{reply: reply})
	proxies := <-reply
	if len(proxies) != 1 {
		t.Fatalf("%d proxies on the owner; want 1", len(proxies))
	}
	a.node.system.Root.Stop(proxies[0])
	go func() {
		for _, w := range []string{"two ", "three ", "four"} {
			script.Token(w)
		}
		script.Finish(llm.FinishStop, nil)
	}()
	got = append(got, readAll(t, sub)...)
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: %v", i, r.Seq, got)
		}
	}
	if e := end(got); e == nil || e.Reason != model.ReasonStop || e.Tokens != 4 {
		t.Fatalf("end %+v; want stop with 4 tokens", e)
	}
}

// TestSlowRemoteReaderHoldsItsWindow: a remote reader that reads nothing
// while the request produces holds at most its window (the credit given
// with the subscribe is not granted twice), and then reads every record
// once, in order.
func TestSlowRemoteReaderHoldsItsWindow(t *testing.T) {
	a, b, _ := three(t)
	snap, script := submit(t, a, "t1", "slow reader")
	sub := subscribe(t, b, snap.ID, "t1", 0)
	first := readN(t, sub, 1) // the reader's first Pull went out; now it stops reading
	ctx := ctxT(t)
	for i := range 40 {
		script.Token(string(rune('a' + i%26)))
		// one append (so one batch, while credit lasts) per token
		for s, err := a.eng.Status(ctx, snap.ID, "t1"); err == nil && s.Tokens < i+1; s, err = a.eng.Status(ctx, snap.ID, "t1") {
		}
	}
	script.Finish(llm.FinishStop, nil)
	got := append(first, readAll(t, sub)...)
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	if e := end(got); e == nil || e.Tokens != 40 {
		t.Fatalf("end %+v", e)
	}
}

// TestKeyedSubmitsFindTheirFirstRequestThroughAnyNode: a submit with an
// Idempotency-Key is admitted on the node the key hashes to, so a retry
// through any node replays the first request instead of starting another
// upstream call, and another body with the same key is refused
// everywhere.
func TestKeyedSubmitsFindTheirFirstRequestThroughAnyNode(t *testing.T) {
	a, b, c := three(t)
	ctx := ctxT(t)
	opened := map[*member]int{}
	for _, m := range []*member{a, b, c} {
		opened[m] = m.model.Opened()
	}
	spec := actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "once"}}, IdempotencyKey: "key-1",
		Settings: llm.Settings{Stop: []string{"x"}}}
	first, err := b.eng.Submit(ctx, "t1", spec)
	if err != nil {
		t.Fatal(err)
	}
	var home *member
	for _, m := range []*member{a, b, c} {
		if m.node.Local(first.ID) {
			home = m
		}
	}
	script, err := home.model.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := script.Request().Settings.Stop; len(got) != 1 || got[0] != "x" {
		t.Fatalf("the home node's provider got settings %+v", script.Request().Settings)
	}
	for _, m := range []*member{a, b, c} {
		again, err := m.eng.Submit(ctx, "t1", spec)
		if err != nil || again.ID != first.ID || !again.Replayed {
			t.Fatalf("retry through %s: %+v, %v; want a replay of %s", m.node.Addr(), again, err, first.ID)
		}
		other := spec
		other.Messages = []llm.Message{{Role: llm.RoleUser, Content: "another body"}}
		if _, err := m.eng.Submit(ctx, "t1", other); !errors.Is(err, actors.ErrIdempotencyConflict) {
			t.Fatalf("another body through %s: %v; want an idempotency conflict", m.node.Addr(), err)
		}
	}
	for _, m := range []*member{a, b, c} {
		want := 0
		if m == home {
			want = 1
		}
		if got := m.model.Opened() - opened[m]; got != want {
			t.Fatalf("%s opened %d upstream streams; want %d (only the home node, once)", m.node.Addr(), got, want)
		}
	}
	script.Finish(llm.FinishStop, nil)
}

// TestRemoteReaderKeepsItsBatchSize: a reader on a node with a smaller
// BatchSize than the owner's gets at most its own BatchSize per Next,
// from the first batch on (the credit given with the subscribe carries
// the reader's batch size).
func TestRemoteReaderKeepsItsBatchSize(t *testing.T) {
	a, _, _ := three(t)
	small, err := startMember(inMemConfig(shared.agent), func(c *actors.Config) { c.BatchSize = 2 })
	if err != nil {
		t.Fatal(err)
	}
	defer small.stop()
	waitMembers(t, 4, a, small)
	snap, script := submit(t, a, "t1", "many")
	ctx := ctxT(t)
	for i := range 20 {
		script.Token(string(rune('a' + i)))
	}
	for s, err := a.eng.Status(ctx, snap.ID, "t1"); err == nil && s.Tokens < 20; s, err = a.eng.Status(ctx, snap.ID, "t1") {
	}
	sub := subscribe(t, small, snap.ID, "t1", 0)
	script.Finish(llm.FinishStop, nil)
	var got []model.Record
	for {
		recs, err := sub.Next(ctx)
		if len(recs) > 2 {
			t.Fatalf("Next returned %d records; the reader's BatchSize is 2", len(recs))
		}
		got = append(got, recs...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if e := end(got); e == nil || e.Tokens != 20 || len(got) != 23 {
		t.Fatalf("%d records, end %+v", len(got), e)
	}
}
