package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/armistice-go/armistice/cluster"
)

// The cluster scenario: three Armistice nodes as real processes on
// loopback (clusternode.go), proto.actor's automanaged membership with the
// default 500 ms refresh. One stream's tokens per second and its time to
// first token are measured through the node that owns the request (the
// path one node takes) and through another node (the relay over remote),
// interleaved in the same run; then the owner is killed with SIGKILL while
// its requests stream through the two other nodes, and the time from the
// kill to each reader's end failed/node_lost is taken. The killed node is
// started again (same membership endpoint, a new remote address) before
// the next kill.

// clusterNodes is how many nodes the scenario runs.
const clusterNodes = 3

// Bounds: nothing in the scenario waits longer than these.
const (
	clusterSettle  = 30 * time.Second // membership after a start
	clusterFirst   = 10 * time.Second // every reader's first token before a kill
	clusterReader  = 30 * time.Second // a kill's reader, from its open to its end
	clusterLossCap = 20 * time.Second // beyond the default Unreachable (10 s)
)

// clusterRefresh is the nodes' membership check interval
// (cluster.DefaultConfig's Refresh).
var clusterRefresh = cluster.DefaultConfig().Refresh

// The two paths: submit on the owner, then read the events through it or
// through another node.
const (
	pathOwner  = "owner"
	pathRemote = "remote"
)

type clusterTTFT struct {
	Requests int                   `json:"requests_per_round"`
	Tokens   int                   `json:"tokens"`
	Paths    map[string]ttftSystem `json:"paths"`
	// AddedP50/AddedP99: remote minus owner, per round (µs).
	AddedP50 figure `json:"added_p50_us"`
	AddedP99 figure `json:"added_p99_us"`
}

type clusterRelay struct {
	StreamsPerRound int               `json:"streams_per_round"`
	Tokens          int               `json:"tokens"`
	TokensPerSec    map[string]figure `json:"tokens_per_s"`
	// Ratio is remote/owner tokens per second, per round.
	Ratio figure `json:"ratio"`
}

type clusterLoss struct {
	Kills          int `json:"kills"`
	StreamsPerKill int `json:"streams_per_kill"`
	// Readers is how many streams were read through a surviving node
	// when their owner was killed (kills × streams × 2); Samples those
	// that ended failed/node_lost, timed from the kill to the end event
	// reaching the reader.
	Readers   int       `json:"readers"`
	Samples   int       `json:"samples"`
	P50Ms     float64   `json:"p50_ms"`
	P99Ms     float64   `json:"p99_ms"`
	MaxMs     float64   `json:"max_ms"`
	SamplesMs []float64 `json:"samples_ms"`
	// WrongEnd counts readers whose stream ended otherwise, or not within
	// 20 s of the kill; StatusWrong, status reads through a surviving
	// node that did not answer failed/node_lost.
	WrongEnd       int            `json:"wrong_end"`
	WrongEndDetail map[string]int `json:"wrong_end_detail,omitempty"`
	StatusWrong    int            `json:"status_not_node_lost"`
	// RestartS is how long each restart of the killed node took until
	// every node listed every node again.
	RestartS []float64 `json:"restart_s"`
}

type clusterResult struct {
	Nodes     int          `json:"nodes"`
	Processes string       `json:"processes"`
	Rounds    int          `json:"rounds"`
	StartS    float64      `json:"start_s"` // three nodes started, membership settled
	Relay     clusterRelay `json:"relay"`
	TTFT      clusterTTFT  `json:"ttft"`
	// Replay is the time to the first token when reading, from the
	// start, a request that already completed on the owner: the
	// subscription alone, which TTFT overlaps with the upstream's answer.
	Replay     clusterTTFT `json:"replay"`
	Loss       clusterLoss `json:"loss"`
	Missing    int         `json:"missing"`
	Duplicated int         `json:"duplicated"`

	ttftSamples map[string][]float64 // the last round's, µs
}

// clusterRun is the scenario's nodes.
type clusterRun struct {
	b      *bench
	dir    string
	spec   nodeSpec
	addrs  []string // membership endpoints
	nodes  []*nodeProc
	starts atomic.Int32 // node processes started, to name their logs
}

func (b *bench) cluster() (*clusterResult, error) {
	p := b.plan
	dir, err := os.MkdirTemp("", "armistice-bench-cluster-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	addrs, err := freeAddrs(clusterNodes)
	if err != nil {
		return nil, err
	}
	c := &clusterRun{b: b, dir: dir, addrs: addrs, nodes: make([]*nodeProc, clusterNodes),
		spec: nodeSpec{Name: "bench-" + strconv.Itoa(os.Getpid()), Upstream: b.env.up.url, Provider: b.env.provider, Peers: addrs}}
	defer c.close()
	res := &clusterResult{Nodes: clusterNodes, Rounds: p.Rounds,
		Processes: "one process per node (this program started again as a node), automanaged membership on loopback, refresh 500 ms"}
	t0 := time.Now()
	if err := c.startAll(); err != nil {
		return nil, err
	}
	res.StartS = round2(time.Since(t0).Seconds())
	if err := c.paths(res); err != nil {
		return nil, err
	}
	if err := c.loss(res); err != nil {
		return nil, err
	}
	return res, nil
}

func (c *clusterRun) startAll() error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodes[i], errs[i] = c.start(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return waitMembership(c.nodes, clusterSettle)
}

func (c *clusterRun) start(i int) (*nodeProc, error) {
	spec := c.spec
	spec.Membership = c.addrs[i]
	log := filepath.Join(c.dir, fmt.Sprintf("node%d-%d.log", i, c.starts.Add(1)))
	return c.b.startNode(spec, log)
}

func (c *clusterRun) close() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.stop() }()
		}
	}
	wg.Wait()
}

// clusterPath submits on one node and reads the events through another
// (or the same).
type clusterPath struct {
	name           string
	submit, events *relay
}

func (p *clusterPath) Name() string { return p.name }

func (p *clusterPath) Open(ctx context.Context, sc script) (*stream, error) {
	id, err := p.submit.SubmitHere(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	st, err := p.events.Events(ctx, id, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	return st, nil
}

func (p *clusterPath) Cancel(ctx context.Context, st *stream) error {
	return p.submit.Cancel(ctx, st)
}

// paths measures tokens per second and time to first token through the
// owner and through another node, interleaved.
func (c *clusterRun) paths(res *clusterResult) error {
	p := c.b.plan
	owner, remote := c.nodes[0], c.nodes[1]
	paths := []system{
		&clusterPath{name: pathOwner, submit: owner.api, events: owner.api},
		&clusterPath{name: pathRemote, submit: owner.api, events: remote.api},
	}
	ctx := context.Background()

	rel := &res.Relay
	rel.StreamsPerRound, rel.Tokens, rel.TokensPerSec = p.ClusterRelayStreams, p.ClusterRelayTokens, map[string]figure{}
	sc := script{Tokens: p.ClusterRelayTokens}
	for _, s := range paths { // warm-up: connections, the relay's first remote messages
		for range 3 {
			if _, _, err := c.b.oneStream(ctx, s, sc); err != nil {
				return err
			}
		}
	}
	perPath := map[string][]float64{}
	var ratio []float64
	for r := range p.Rounds {
		rates := map[string][]float64{}
		for i := range p.ClusterRelayStreams {
			for _, s := range rotate(paths, r+i) {
				tps, t, err := c.b.oneStream(ctx, s, sc)
				if err != nil {
					return err
				}
				m, d := t.lost()
				res.Missing += m
				res.Duplicated += d
				rates[s.Name()] = append(rates[s.Name()], tps)
			}
		}
		med := map[string]float64{}
		for name, v := range rates {
			med[name] = median(sortedCopy(v))
			perPath[name] = append(perPath[name], round1(med[name]))
		}
		ratio = append(ratio, round2(med[pathRemote]/med[pathOwner]))
	}
	for name, v := range perPath {
		rel.TokensPerSec[name] = newFigure(v)
	}
	rel.Ratio = newFigure(ratio)

	// Time to first token: submit on the owner, then read through each
	// path.
	tsc := script{Tokens: p.TTFTTokens}
	ttft := func(s system) (float64, *tally, error) { return c.b.ttftOne(ctx, s, tsc) }
	var err error
	if res.ttftSamples, err = c.firstRecord(&res.TTFT, paths, ttft, res); err != nil {
		return err
	}

	// The same read of a request that already completed on the owner (a
	// resume from the start): the subscription's own cost, without the
	// upstream's time to first token running alongside it. Reads of
	// completed requests are checked like streams (every token once).
	replay := func(s system) (float64, *tally, error) {
		id, err := owner.api.SubmitHere(ctx, tsc) // a fresh request for each read
		if err != nil {
			return 0, nil, err
		}
		st, err := owner.api.Events(ctx, id, "")
		if err != nil {
			return 0, nil, err
		}
		_, err = st.Drain()
		st.Close()
		if err != nil {
			return 0, nil, err
		}
		cp := s.(*clusterPath)
		start := c.b.env.clock.now()
		st, err = cp.events.Events(ctx, id, "")
		if err != nil {
			return 0, nil, err
		}
		defer st.Close()
		t, err := read(st, tsc.Tokens)
		if err != nil || t.end != "completed" || t.tokens != tsc.Tokens {
			return 0, t, errorf("%s: replay ended %q after %d of %d tokens: %v", s.Name(), t.end, t.tokens, tsc.Tokens, err)
		}
		return float64(t.firstAt-start) / 1e3, t, nil
	}
	_, err = c.firstRecord(&res.Replay, paths, replay, res)
	return err
}

// firstRecord fills tt with one's times (µs) through each path,
// ClusterTTFTRequests per path per round after 5 warm-ups each, the paths
// interleaved and their order rotated; it returns the last round's
// samples.
func (c *clusterRun) firstRecord(tt *clusterTTFT, paths []system, one func(system) (float64, *tally, error), res *clusterResult) (map[string][]float64, error) {
	p := c.b.plan
	tt.Requests, tt.Tokens, tt.Paths = p.ClusterTTFTRequests, p.TTFTTokens, map[string]ttftSystem{}
	for _, s := range paths {
		for range 5 {
			if _, _, err := one(s); err != nil {
				return nil, err
			}
		}
	}
	p50s, p99s := map[string][]float64{}, map[string][]float64{}
	var a50, a99 []float64
	var last map[string][]float64
	for r := range p.Rounds {
		samples := map[string][]float64{}
		for i := range p.ClusterTTFTRequests {
			for _, s := range rotate(paths, r+i) {
				us, t, err := one(s)
				if err != nil {
					return nil, err
				}
				m, d := t.lost()
				res.Missing += m
				res.Duplicated += d
				samples[s.Name()] = append(samples[s.Name()], us)
			}
		}
		q50, q99 := map[string]float64{}, map[string]float64{}
		for name, v := range samples {
			s := sortedCopy(v)
			q50[name], q99[name] = percentile(s, 50), percentile(s, 99)
			p50s[name] = append(p50s[name], round1(q50[name]))
			p99s[name] = append(p99s[name], round1(q99[name]))
		}
		a50 = append(a50, round1(q50[pathRemote]-q50[pathOwner]))
		a99 = append(a99, round1(q99[pathRemote]-q99[pathOwner]))
		last = samples
	}
	for name := range p50s {
		tt.Paths[name] = ttftSystem{P50: newFigure(p50s[name]), P99: newFigure(p99s[name])}
	}
	tt.AddedP50, tt.AddedP99 = newFigure(a50), newFigure(a99)
	return last, nil
}

// readerEnd is how one reader's stream of a killed owner's request ended.
type readerEnd struct {
	t   *tally
	end event
	err error
}

// loss kills the owner ClusterKills times while ClusterKillStreams of its
// requests stream through both other nodes.
func (c *clusterRun) loss(res *clusterResult) error {
	p := c.b.plan
	l := &res.Loss
	l.Kills, l.StreamsPerKill, l.WrongEndDetail, l.SamplesMs = p.ClusterKills, p.ClusterKillStreams, map[string]int{}, []float64{}
	var all []float64
	for k := range p.ClusterKills {
		if err := c.killOnce(res, &all); err != nil {
			return fmt.Errorf("kill %d: %w", k+1, err)
		}
		if k == p.ClusterKills-1 {
			break
		}
		t0 := time.Now()
		n, err := c.start(0)
		if err != nil {
			return err
		}
		c.nodes[0] = n
		if err := waitMembership(c.nodes, clusterSettle); err != nil {
			return err
		}
		l.RestartS = append(l.RestartS, round2(time.Since(t0).Seconds()))
	}
	s := sortedCopy(all)
	l.Samples = len(s)
	if len(s) > 0 {
		l.P50Ms, l.P99Ms, l.MaxMs = round1(percentile(s, 50)), round1(percentile(s, 99)), round1(s[len(s)-1])
	}
	if len(l.WrongEndDetail) == 0 {
		l.WrongEndDetail = nil
	}
	return nil
}

func (c *clusterRun) killOnce(res *clusterResult, all *[]float64) error {
	p := c.b.plan
	l := &res.Loss
	owner, readers := c.nodes[0], c.nodes[1:]
	clk := c.b.env.clock
	// Paced, so that the kill lands mid-stream; far longer than a kill
	// takes to be noticed.
	sc := script{Tokens: 100_000, Rate: 100}
	ctx, cancel := context.WithTimeout(context.Background(), clusterReader)
	defer cancel()
	var ids []string
	for range p.ClusterKillStreams {
		id, err := owner.api.SubmitHere(ctx, sc)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	n := len(ids) * len(readers)
	first := make(chan error, n)
	ends := make([]readerEnd, n)
	var wg sync.WaitGroup
	for i, id := range ids {
		for j, rn := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slot := &ends[i*len(readers)+j]
				st, err := rn.api.Events(ctx, id, "")
				if err != nil {
					slot.err = err
					first <- err
					return
				}
				defer st.Close()
				slot.t = newTally(sc.Tokens)
				signalled := false
				for {
					ev, err := st.Next()
					if err != nil {
						slot.err = err
						if !signalled {
							first <- err
						}
						return
					}
					slot.t.add(ev)
					if ev.kind == evToken && !signalled {
						signalled = true
						first <- nil
					}
					if ev.kind == evEnd {
						slot.end = ev
						if !signalled {
							first <- fmt.Errorf("ended %s/%s before its first token", ev.status, ev.reason)
						}
						return
					}
				}
			}()
		}
	}
	timer := time.NewTimer(clusterFirst)
	defer timer.Stop()
	var startErr error
	for range n {
		select {
		case err := <-first:
			if err != nil && startErr == nil {
				startErr = err
			}
		case <-timer.C:
			if startErr == nil {
				startErr = errorf("cluster: the readers' first tokens did not come in %s", clusterFirst)
			}
		}
		if startErr != nil {
			break
		}
	}
	if startErr != nil {
		cancel()
		wg.Wait()
		return startErr
	}
	// Membership is checked every clusterRefresh, and the last node to
	// see a restarted owner made the cluster settle just before these
	// requests began: killing at once would land at the same phase of
	// that node's check every time. A random moment of the cycle is what
	// a real crash meets.
	time.Sleep(rand.N(clusterRefresh))
	killedAt := clk.now()
	owner.kill()
	wg.Wait()
	for _, e := range ends {
		l.Readers++
		if e.t != nil {
			m, d := e.t.lost()
			res.Missing += m
			res.Duplicated += d
		}
		ms := float64(e.end.at-killedAt) / 1e6
		switch {
		case e.err != nil && !errors.Is(e.err, io.EOF):
			l.WrongEnd++
			l.WrongEndDetail["error: "+shortErr(e.err)]++
		case e.end.kind != evEnd:
			l.WrongEnd++
			l.WrongEndDetail[errNoEndDetail]++
		case e.end.status != "failed" || e.end.reason != "node_lost":
			l.WrongEnd++
			l.WrongEndDetail[e.end.status+"/"+e.end.reason]++
		case ms > clusterLossCap.Seconds()*1e3:
			l.WrongEnd++
			l.WrongEndDetail["node_lost after more than 20 s"]++
		default:
			*all = append(*all, ms)
			l.SamplesMs = append(l.SamplesMs, round1(ms))
		}
	}
	// The tombstone: a status read through a surviving node.
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	for i, id := range ids {
		snap, err := readers[i%len(readers)].api.api.Status(sctx, id)
		if err != nil || snap.Status != "failed" || snap.Reason != "node_lost" {
			l.StatusWrong++
		}
	}
	return nil
}

const errNoEndDetail = "no end event"

// freeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago.
func freeAddrs(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := listenLoopback()
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}
