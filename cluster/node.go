package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster/wire"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/google/uuid"
	echov3 "github.com/labstack/echo"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
)

// gatewayName is the name of every node's gateway actor.
const gatewayName = "armistice-gateway"

// pollEvery is how often a caller waiting on a node checks whether
// membership has dropped it.
const pollEvery = 25 * time.Millisecond

// Node is one member of an Armistice cluster: it joins proto.actor's
// cluster on its Engine's actor system, serves other nodes' reads of its
// requests (the gateway) and reaches theirs (actors.Peers).
type Node struct {
	cfg Config
	log zerolog.Logger

	eng        *actors.Engine
	system     *actor.ActorSystem
	cl         *protocluster.Cluster
	provider   protocluster.ClusterProvider
	membership *echov3.Echo // automanaged's membership endpoint
	sub        *eventstream.Subscription
	gateway    *actor.PID
	prefix     atomic.Pointer[string]
	addr       string

	mu      sync.Mutex
	members map[string]bool      // the current members' remote addresses
	lost    map[string]time.Time // members that left, when
	peers   map[string]*PeerStats
	leaving bool
	changed chan struct{} // closed (and replaced) when the members change

	proxies   sync.WaitGroup // the owner-side proxies of remote subscribers
	closeOnce sync.Once
}

// PeerStats count the messages this node sent to one peer and the
// failures seen with it (answers that never came, lost connections).
type PeerStats struct {
	Sent     atomic.Uint64
	Failures atomic.Uint64
}

// New validates cfg and makes a node; Start joins the cluster. Use NewID
// as the engine's actors.Config.NewID, so the ids it makes name this node.
func New(cfg Config, log zerolog.Logger) (*Node, error) {
	if !cfg.Enabled() {
		return nil, fmt.Errorf("%w: the cluster mode is off", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, log: log.With().Str("component", "cluster").Logger(),
		members: map[string]bool{}, lost: map[string]time.Time{}, peers: map[string]*PeerStats{}, changed: make(chan struct{})}, nil
}

// NewID makes a request id that names this node (a plain UUID before
// Start).
func (n *Node) NewID() string {
	if p := n.prefix.Load(); p != nil {
		return newID(*p)
	}
	return uuid.NewString()
}

// Addr is this node's remote address (after Start).
func (n *Node) Addr() string { return n.addr }

// Start joins the cluster with eng's actor system: it starts the remote
// endpoint and the membership provider, spawns the gateway and makes eng
// reach other nodes' requests through n. It returns once this node is a
// member (proto.actor waits about a second for membership to settle).
func (n *Node) Start(eng *actors.Engine) (err error) {
	n.eng, n.system = eng, eng.System()
	host, port, _ := splitHostPort("cluster address", n.cfg.Addr)
	provider, err := n.makeProvider()
	if err != nil {
		return err
	}
	n.provider = provider
	cc := protocluster.Configure(n.cfg.Name, provider, disthash.New(), remote.Configure(host, port),
		protocluster.WithRequestLog(false))
	n.sub = n.system.EventStream.Subscribe(n.onEvent)
	// proto.actor panics where it could return an error (a port in use,
	// a provider that cannot start).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrStart, r)
			if ep, ok := provider.(*etcdProvider); ok && ep.startErr != nil {
				// The remote started before the provider failed.
				ep.close()
				n.cl.Remote.Shutdown(false)
			}
		}
	}()
	n.cl = protocluster.New(n.system, cc)
	n.cl.StartMember()
	n.mu.Lock()
	n.addr = n.system.Address()
	n.mu.Unlock()
	prefix := encodeAddr(n.addr)
	n.prefix.Store(&prefix)
	n.gateway, err = n.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &gateway{node: n} }), gatewayName)
	if err != nil {
		return fmt.Errorf("%w: spawn the gateway: %w", ErrStart, err)
	}
	n.mu.Lock()
	n.members[n.addr] = true
	n.mu.Unlock()
	eng.SetPeers(n)
	n.log.Info().Str("addr", n.addr).Str("mode", string(n.cfg.Mode)).Str("cluster", n.cfg.Name).Msg("joined the cluster")
	return nil
}

func (n *Node) makeProvider() (protocluster.ClusterProvider, error) {
	if n.cfg.Provider != nil {
		return n.cfg.Provider, nil
	}
	switch n.cfg.Mode {
	case ModeAutomanaged:
		// Our own echo on our own listener: proto.actor's would bind
		// 0.0.0.0.
		ln, err := net.Listen("tcp", n.cfg.MembershipAddr)
		if err != nil {
			return nil, fmt.Errorf("%w: membership endpoint: %w", ErrStart, err)
		}
		_, mport, _ := splitHostPort("membership address", n.cfg.MembershipAddr)
		e := echov3.New()
		e.HideBanner, e.HidePort, e.Listener = true, true, ln
		e.GET("/_health", func(c echov3.Context) error {
			n.mu.Lock()
			leaving := n.leaving
			n.mu.Unlock()
			host, port, err := n.system.GetHostPort()
			if leaving || err != nil {
				return c.NoContent(http.StatusServiceUnavailable)
			}
			return c.JSON(http.StatusOK, automanaged.NewNode(n.cfg.Name, n.system.ID, host, port, mport, nil))
		})
		n.membership = e
		return automanaged.NewWithTesting(n.cfg.Refresh, mport, e, n.cfg.Peers...), nil
	case ModeEtcd:
		return newEtcdProvider(n.cfg, n.log)
	}
	return nil, fmt.Errorf("%w: mode %q", ErrInvalidConfig, n.cfg.Mode)
}

func (n *Node) onEvent(evt any) {
	switch e := evt.(type) {
	case *protocluster.ClusterTopology:
		n.mu.Lock()
		defer n.mu.Unlock()
		members := map[string]bool{}
		for _, m := range e.Members {
			members[memberAddr(m)] = true
		}
		if n.addr != "" {
			members[n.addr] = true
		}
		now := time.Now()
		for addr := range n.members {
			if !members[addr] {
				n.lost[addr] = now
				n.log.Warn().Str("peer", addr).Msg("a node left the cluster")
			}
		}
		changed := len(members) != len(n.members)
		for addr := range members {
			if !n.members[addr] {
				delete(n.lost, addr)
				changed = true
				n.log.Info().Str("peer", addr).Msg("a node joined the cluster")
			}
		}
		n.members = members
		if changed {
			n.log.Info().Int("members", len(members)).Msg("cluster membership")
			close(n.changed)
			n.changed = make(chan struct{})
		}
	case *remote.EndpointTerminatedEvent:
		n.peer(e.Address).Failures.Add(1)
	}
}

func memberAddr(m *protocluster.Member) string {
	return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
}

// Members returns the current members' remote addresses, sorted.
func (n *Node) Members() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.members))
	for a := range n.members {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// membersChanged returns a channel closed at the next change of members.
func (n *Node) membersChanged() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

// Peers returns the per-peer counters, by remote address.
func (n *Node) Peers() map[string]*PeerStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]*PeerStats, len(n.peers))
	for a, p := range n.peers {
		out[a] = p
	}
	return out
}

func (n *Node) peer(addr string) *PeerStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[addr]
	if p == nil {
		p = &PeerStats{}
		n.peers[addr] = p
	}
	return p
}

// Ready reports whether this node serves: it is a member and not leaving.
func (n *Node) Ready() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.cl == nil:
		return ErrNotStarted
	case n.leaving:
		return errors.New("cluster: leaving")
	}
	return nil
}

// lostAt returns when addr left the cluster, if it did within Tombstone.
func (n *Node) lostAt(addr string) (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.lost[addr]
	if ok && time.Since(at) > n.cfg.Tombstone {
		delete(n.lost, addr)
		return time.Time{}, false
	}
	return at, ok
}

func (n *Node) isMember(addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.members[addr]
}

// Local implements actors.Peers.
func (n *Node) Local(id string) bool {
	addr := ownerAddr(id)
	return addr == "" || addr == n.addr
}

func notFound(id, command string) *actors.Error {
	return &actors.Error{Err: fmt.Errorf("%w: %q", actors.ErrNotFound, id), Command: command}
}

// tombstone is what a read of a lost node's request answers.
func tombstone(id, owner string, at time.Time) actors.Snapshot {
	return actors.Snapshot{ID: id, Owner: owner, State: model.StateDone, Status: model.StatusFailed,
		Reason: model.ReasonNodeLost, Message: "the node that ran the request left the cluster before it ended",
		FinishedAt: at, LastSeq: 1}
}

func lostEnd(seq uint64, tokens int) model.Record {
	return model.Record{Seq: seq, Kind: model.KindEnd, End: &model.End{State: model.StateDone, Status: model.StatusFailed,
		Reason: model.ReasonNodeLost, Tokens: tokens, Message: "the node that ran the request left the cluster before it ended"}}
}

// answerLost is the answer to msg about a request of a lost node.
func answerLost(id, owner string, msg any, at time.Time) (any, error) {
	snap := tombstone(id, owner, at)
	switch msg.(type) {
	case *actors.GetLog:
		end := lostEnd(1, 0)
		return &actors.LogSnapshot{Snapshot: snap, Records: []model.Record{end}}, nil
	case *actors.Cancel:
		return nil, &actors.Error{Err: fmt.Errorf("%w: %q", actors.ErrAlreadyFinished, id), Snapshot: &snap, Command: "cancel"}
	}
	return &snap, nil
}

// Ask implements actors.Peers.
func (n *Node) Ask(ctx context.Context, id string, msg any, timeout time.Duration) (any, error) {
	addr := ownerAddr(id)
	var w proto.Message
	var owner, command string
	t := int64(timeout)
	switch m := msg.(type) {
	case *actors.GetStatus:
		owner, command, w = m.Owner, "status", &wire.GetStatus{Id: id, Owner: m.Owner, TimeoutNs: t}
	case *actors.GetLog:
		owner, command, w = m.Owner, "log", &wire.GetLog{Id: id, Owner: m.Owner, TimeoutNs: t}
	case *actors.Cancel:
		owner, command, w = m.Owner, "cancel", &wire.Cancel{Id: id, Owner: m.Owner, TimeoutNs: t}
	case *actors.Delete:
		owner, command, w = m.Owner, "delete", &wire.Delete{Id: id, Owner: m.Owner, TimeoutNs: t}
	default:
		return nil, fmt.Errorf("%w: cluster: cannot carry %T", actors.ErrInvalidRequest, msg)
	}
	if at, lost := n.lostAt(addr); lost {
		return answerLost(id, owner, msg, at)
	}
	if !n.isMember(addr) {
		// Never dial an address a client wrote into an id.
		return nil, notFound(id, command)
	}
	res, err := n.call(ctx, addr, w, timeout)
	if errors.Is(err, errLost) {
		at, _ := n.lostAt(addr)
		return answerLost(id, owner, msg, at)
	}
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *wire.Snapshot:
		return snapshotFromWire(r), nil
	case *wire.LogSnapshot:
		return logFromWire(r), nil
	case *wire.Error:
		return nil, errorFromWire(r)
	}
	return nil, fmt.Errorf("%w: unexpected answer %T from %s", actors.ErrNoAnswer, res, addr)
}

// errLost: the node a call waited on left the cluster.
var errLost = fmt.Errorf("%w: the node left the cluster", actors.ErrNoAnswer)

// KeyHome implements actors.Peers: the member that owner's key hashes
// to, by rendezvous hashing over the current members (a change of
// membership moves only the keys of the nodes that came or went).
func (n *Node) KeyHome(owner, key string) bool {
	return n.home(owner, key) == n.addr
}

func (n *Node) home(owner, key string) string {
	best, bestScore := n.addr, uint64(0)
	for _, m := range n.Members() {
		h := fnv.New64a()
		h.Write([]byte(owner))
		h.Write([]byte{0})
		h.Write([]byte(key))
		h.Write([]byte{0})
		h.Write([]byte(m))
		if s := h.Sum64(); s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

// Submit implements actors.Peers: it carries a keyed submit to its home
// node's gateway.
func (n *Node) Submit(ctx context.Context, owner string, spec actors.Spec, timeout time.Duration) (actors.Snapshot, error) {
	addr := n.home(owner, spec.IdempotencyKey)
	w, err := specToWire(owner, spec, timeout)
	if err != nil {
		return actors.Snapshot{}, err
	}
	res, err := n.call(ctx, addr, w, timeout)
	if err != nil {
		return actors.Snapshot{}, err
	}
	switch r := res.(type) {
	case *wire.Snapshot:
		return *snapshotFromWire(r), nil
	case *wire.Error:
		e := errorFromWire(r)
		if e.Snapshot != nil {
			return *e.Snapshot, e
		}
		return actors.Snapshot{}, e
	}
	return actors.Snapshot{}, fmt.Errorf("%w: unexpected answer %T from %s", actors.ErrNoAnswer, res, addr)
}

// call sends w to addr's gateway and waits for the answer, at most
// timeout, never past ctx, and not past addr leaving the cluster.
func (n *Node) call(ctx context.Context, addr string, w proto.Message, timeout time.Duration) (any, error) {
	box := &replyBox{ch: make(chan any, 1)}
	registry := n.system.ProcessRegistry
	reply, _ := registry.Add(box, "cluster$"+registry.NextId())
	defer registry.Remove(reply)
	n.peer(addr).Sent.Add(1)
	n.system.Root.RequestWithCustomSender(actor.NewPID(addr, gatewayName), w, reply)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	res, err := awaitAnswer(ctx, box.ch, timer.C, poll.C, func() bool { _, lost := n.lostAt(addr); return lost })
	if errors.Is(err, errTimedOut) {
		n.peer(addr).Failures.Add(1)
		return nil, fmt.Errorf("%w: node %s did not answer in %s", actors.ErrNoAnswer, addr, timeout)
	}
	return res, err
}

// errTimedOut: a call's timeout fired before its answer came.
var errTimedOut = errors.New("timed out")

// awaitAnswer waits for the answer on ch until ctx ends, timeout fires,
// or lost, asked at each poll, reports the owner gone. An answer that
// has come is taken even when ctx ended or the timeout fired in the same
// instant (Go's select picks at random among ready cases): the command
// took effect on the owner, and the caller is told so, as the engine's
// own calls do.
func awaitAnswer(ctx context.Context, ch <-chan any, timeout, poll <-chan time.Time, lost func() bool) (any, error) {
	for {
		var err error
		select {
		case res := <-ch:
			return res, nil
		case <-poll:
			if !lost() {
				continue
			}
			err = errLost
		case <-ctx.Done():
			err = ctx.Err()
		case <-timeout:
			err = errTimedOut
		}
		select {
		case res := <-ch:
			return res, nil
		default:
			return nil, err
		}
	}
}

// Subscribe implements actors.Peers.
func (n *Node) Subscribe(ctx context.Context, id, owner string, after uint64, max int, ch chan actors.Batch, timeout time.Duration) (*actor.PID, *actors.Subscribed, error) {
	addr := ownerAddr(id)
	if at, lost := n.lostAt(addr); lost {
		snap := tombstone(id, owner, at)
		ch <- actors.Batch{Request: id, Records: []model.Record{lostEnd(after+1, 0)}, Closed: true}
		return actor.NewPID(n.addr, "cluster$lost"), &actors.Subscribed{Snapshot: snap}, nil
	}
	if !n.isMember(addr) {
		return nil, nil, notFound(id, "subscribe")
	}
	result := make(chan relayResult, 1)
	r := &relay{node: n, addr: addr, id: id, owner: owner, cursor: after, max: max, ch: ch, result: result, timeout: timeout}
	pid := n.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return r }))
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-result:
		if res.err != nil {
			return nil, nil, res.err
		}
		return pid, res.sub, nil
	case <-ctx.Done():
		n.system.Root.Stop(pid) // its proxy sees it go and detaches
		return nil, nil, ctx.Err()
	case <-timer.C:
		n.system.Root.Stop(pid)
		n.peer(addr).Failures.Add(1)
		return nil, nil, fmt.Errorf("%w: node %s did not answer in %s", actors.ErrNoAnswer, addr, timeout)
	}
}

// Leave takes this node out of the cluster: /readyz and the membership
// endpoint answer 503 from now on, the provider deregisters it, and the
// remote endpoint stops once the proxies of remote subscribers have
// handed over their last batches (at most wait). Drain the engine first,
// so every request, and every client on any node, has its end. Leave is
// idempotent; the engine's Close stops the actor system afterwards.
func (n *Node) Leave(wait time.Duration) {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.leaving = true
		n.mu.Unlock()
		if n.cl == nil {
			return
		}
		done := make(chan struct{})
		go func() { n.proxies.Wait(); close(done) }()
		t := time.NewTimer(wait)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		if err := n.provider.Shutdown(true); err != nil {
			n.log.Warn().Err(err).Msg("leaving the membership")
		}
		if n.membership != nil {
			_ = n.membership.Close()
		}
		n.cl.Gossip.Shutdown()
		n.cl.Remote.Shutdown(false)
		n.system.EventStream.Unsubscribe(n.sub)
		n.log.Info().Str("addr", n.addr).Msg("left the cluster")
	})
}

// replyBox is the process an answer from another node is sent to: it
// keeps the first message and never blocks the sender.
type replyBox struct{ ch chan any }

func (b *replyBox) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case b.ch <- msg:
	default:
	}
}

func (b *replyBox) SendSystemMessage(*actor.PID, any) {}
func (b *replyBox) Stop(*actor.PID)                   {}
