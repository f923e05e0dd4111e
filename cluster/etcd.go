package cluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/rs/zerolog"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// Etcd mode is proto.actor's own etcd provider (clusterproviders/etcd),
// wrapped. What its pinned version does, and what we do about it:
//
//   - Keys. It keeps a node at <base>/<cluster>/<cluster>@<system id>
//     with a lease, and watches the prefix <base>/<cluster> with no
//     trailing slash, so cluster "a" would also see cluster "ab". The
//     base is "/armistice/<cluster>", so the watched prefix is
//     "/armistice/<cluster>/<cluster>", which no other name (names have
//     no slash) extends.
//   - Lease TTL. It is a hard-coded, unexported 3 s: a dead node would
//     stay a member 3 to 3.5 s. Every lease this provider's client asks
//     for is given etcdTTL(Refresh) instead (whole seconds, at least 1 s:
//     1 s with the default 500 ms), by a gRPC interceptor on its client
//     (public API; no write to its fields). The etcd client sends a
//     keep-alive every TTL/3 and etcd expires a lease within 500 ms of
//     its TTL, so a killed node leaves about 1 to 1.5 s after its death
//     with TTL 1 s. etcd raises any TTL below its own minimum,
//     1.5 x its election timeout rounded up to a second: 2 s for an etcd
//     with the default 1 s election timeout (a warning is logged when it
//     does); run etcd with --election-timeout of 500 ms or less (and a
//     heartbeat to match) to get 1 s.
//   - Calls with no deadline. It calls etcd with context.TODO, and the
//     client waits for a connection forever: with etcd down, joining
//     (and leaving: its Delete) would hang. The dial blocks for at most
//     etcdDialTimeout, so an unreachable etcd fails Start soon, and
//     the interceptor gives every call without a deadline
//     etcdCallTimeout (and ends it with an error the client's own retry
//     loop, which runs outside it, does not retry).
//   - A leak. Its Shutdown deletes the key but never closes its etcd
//     client, whose keep-alives then run forever. Shutdown here closes
//     it; the provider keeps the client unexported, so it is read once
//     by reflection (its type checked; if a later version renames it,
//     the client is left open and a warning says so).
//   - A start race. It lists the members, then watches from "now", not
//     from the listing's revision, so a node registering in between is
//     missed (for good: it puts its key only when it joins). The
//     interceptor starts that first watch at the listing's revision + 1.
//     A watch it opens again after an error (a compaction) still starts
//     from "now": a change in that gap is missed; a node that leaves then
//     stays a ghost member until restarted (a limit).
//   - Its keep-alive loop sleeps 1 s (unexported) before it grants a new
//     lease after losing one. A node whose lease lapsed (etcd
//     unreachable for a TTL) has been dropped and blocked by the others'
//     proto.actor member lists for good; it comes back only restarted.
//   - Global state. The provider has none, but proto.actor's
//     Remote.Start replaces gRPC's process-wide logger (with one that
//     discards), which races with any gRPC client already running: the
//     etcd client is made in StartMember, which the cluster calls after
//     Remote.Start, not when the node is configured. Its shutdown flag is
//     a plain bool read by its loops (a data race of its own, like the
//     rest of proto.actor's cluster in-process).
//   - Nothing binds a port (the remote endpoint binds Config.Addr).
//   - The etcd client's own zap logging is switched off (it would print
//     JSON to stderr); the provider logs through proto.actor's logger.

// etcdDialTimeout bounds the dial to etcd when a node starts (a var for
// tests).
var etcdDialTimeout = 5 * time.Second

// etcdCallTimeout bounds every etcd call the provider makes with no
// deadline of its own (a var for tests).
var etcdCallTimeout = 5 * time.Second

// errEtcdCrashed is what every etcd call answers after crash.
var errEtcdCrashed = errors.New("cluster: etcd client crashed (test)")

// etcdTTL is the lease TTL for refresh: twice refresh, in whole seconds,
// at least one.
func etcdTTL(refresh time.Duration) int64 {
	ttl := int64((2*refresh + time.Second - 1) / time.Second)
	return max(ttl, 1)
}

// etcdBase is the provider's base key for cluster name.
func etcdBase(name string) string { return "/armistice/" + name }

// etcdProvider is proto.actor's etcd provider, made when the node starts
// its membership, with a Shutdown that also closes its etcd client.
type etcdProvider struct {
	base   string
	config clientv3.Config
	calls  *etcdCalls
	log    zerolog.Logger

	inner    *etcd.Provider   // set by StartMember
	client   *clientv3.Client // inner's; nil if it could not be read
	startErr error            // why StartMember failed
	once     sync.Once
}

// newEtcdProvider makes the etcd membership provider for cfg. It dials
// etcd only when the cluster starts the membership, after proto.actor's
// remote has started: Remote.Start replaces gRPC's process-wide logger,
// a data race with the etcd client's gRPC goroutines were they running.
func newEtcdProvider(cfg Config, log zerolog.Logger) (protocluster.ClusterProvider, error) {
	base := etcdBase(cfg.Name)
	calls := &etcdCalls{prefix: base + "/" + cfg.Name, ttl: etcdTTL(cfg.Refresh), log: log}
	return &etcdProvider{base: base, calls: calls, log: log, config: clientv3.Config{
		Endpoints:   cfg.Etcd,
		DialTimeout: etcdDialTimeout,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{
			grpc.WithBlock(), //nolint:staticcheck // fail at once when etcd is unreachable
			grpc.WithChainUnaryInterceptor(calls.unary),
			grpc.WithChainStreamInterceptor(calls.stream),
		},
	}}, nil
}

// StartMember dials etcd (failing if no endpoint answers within
// etcdDialTimeout), registers this node and watches the others.
func (p *etcdProvider) StartMember(c *protocluster.Cluster) error {
	inner, err := etcd.NewWithConfig(p.base, p.config)
	if err != nil {
		p.startErr = fmt.Errorf("etcd %v: %w", p.config.Endpoints, err)
		return p.startErr
	}
	p.inner, p.client = inner, etcdClientOf(inner)
	if p.client == nil {
		p.log.Warn().Msg("cluster: cannot reach the etcd provider's client; it will not be closed on leave")
	}
	if err := inner.StartMember(c); err != nil {
		p.startErr = fmt.Errorf("etcd %v: %w", p.config.Endpoints, err)
		return p.startErr
	}
	return nil
}

// StartClient is not used (nodes are members).
func (p *etcdProvider) StartClient(*protocluster.Cluster) error {
	return errors.New("cluster: etcd client mode is not used")
}

// etcdClientOf reads the provider's unexported etcd client.
func etcdClientOf(p *etcd.Provider) *clientv3.Client {
	f := reflect.ValueOf(p).Elem().FieldByName("client")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*clientv3.Client]() {
		return nil
	}
	return (*clientv3.Client)(f.UnsafePointer())
}

// Shutdown deregisters this node (its key is deleted, so the others see
// it leave at once) and closes the etcd client.
func (p *etcdProvider) Shutdown(graceful bool) error {
	if p.inner == nil {
		return nil
	}
	var err error
	if p.startErr == nil {
		err = p.inner.Shutdown(graceful)
	}
	p.close()
	return err
}

func (p *etcdProvider) close() {
	p.once.Do(func() {
		if p.client != nil {
			_ = p.client.Close()
		}
	})
}

// crash stops the provider as a killed process would: its key is not
// deleted, its keep-alives stop, so etcd drops it when its lease expires.
// For tests.
func (p *etcdProvider) crash() {
	p.calls.crashed.Store(true)
	_ = p.inner.Shutdown(false) // stops its loops; its Delete is refused
	p.close()
}

// etcdCalls is the gRPC interceptor on the provider's etcd client.
type etcdCalls struct {
	prefix  string // the watched prefix
	ttl     int64  // the lease TTL to ask for, seconds
	log     zerolog.Logger
	granted atomic.Int64 // the last TTL etcd granted above ttl
	listed  atomic.Int64 // the revision of the first listing of prefix
	watched atomic.Bool  // the first watch of prefix has been started
	crashed atomic.Bool
}

func (c *etcdCalls) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if c.crashed.Load() {
		return errEtcdCrashed
	}
	parent := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, etcdCallTimeout)
		defer cancel()
	}
	if g, ok := req.(*pb.LeaseGrantRequest); ok {
		g.TTL = c.ttl
	}
	if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			// Not a gRPC status: the client's retry interceptor, which
			// runs outside this one, retries (100 times) a deadline it
			// did not set, and gives up on any other error.
			return fmt.Errorf("cluster: etcd %s: no answer within %s", method, etcdCallTimeout)
		}
		return err
	}
	switch r := reply.(type) {
	case *pb.LeaseGrantResponse:
		if r.TTL > c.ttl && c.granted.Swap(r.TTL) != r.TTL {
			c.log.Warn().Int64("asked_s", c.ttl).Int64("granted_s", r.TTL).
				Msg("cluster: etcd raised the membership lease TTL to its minimum (1.5 x its election timeout); a dead node stays a member that long")
		}
	case *pb.RangeResponse:
		if q, ok := req.(*pb.RangeRequest); ok && string(q.Key) == c.prefix && r.Header != nil {
			c.listed.CompareAndSwap(0, r.Header.Revision)
		}
	}
	return nil
}

func (c *etcdCalls) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if c.crashed.Load() {
		return nil, errEtcdCrashed
	}
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != "/etcdserverpb.Watch/Watch" {
		return s, err
	}
	return &etcdWatchStream{ClientStream: s, calls: c}, nil
}

// etcdWatchStream starts the provider's first watch of its prefix just
// after the revision it listed the members at.
type etcdWatchStream struct {
	grpc.ClientStream
	calls *etcdCalls
}

func (w *etcdWatchStream) SendMsg(m any) error {
	if r, ok := m.(*pb.WatchRequest); ok {
		if cr := r.GetCreateRequest(); cr != nil && cr.StartRevision == 0 && string(cr.Key) == w.calls.prefix {
			if rev := w.calls.listed.Load(); rev > 0 && w.calls.watched.CompareAndSwap(false, true) {
				cr.StartRevision = rev + 1
			}
		}
	}
	return w.ClientStream.SendMsg(m)
}
