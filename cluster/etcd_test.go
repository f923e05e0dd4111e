//go:build !race || clusterrace

// Etcd mode against a real etcd: Debian's etcd-server, started by the
// test on loopback (free ports, a temporary data dir) and stopped at the
// end. Without it these tests fail, telling what to install.

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/armistice-go/armistice/internal/prereq"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/connectivity"
)

// etcdBinary is where Debian's etcd-server puts etcd.
const etcdBinary = "/usr/bin/etcd"

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startEtcd runs a one-member etcd on loopback until the test ends (or
// stop) and returns its client endpoint. Its election timeout is 250 ms,
// so its minimum lease TTL (1.5 x that, rounded up to a second) is 1 s.
func startEtcd(t testing.TB) (endpoint string, stop func()) {
	t.Helper()
	if _, err := os.Stat(etcdBinary); err != nil {
		prereq.Missing(t, "%s: %v: the etcd-mode tests need a real etcd; install Debian's etcd-server (apt-get install -y etcd-server)", etcdBinary, err)
	}
	var last string
	for range 3 { // a free port may be taken before etcd binds it
		client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		out := &lockedBuffer{}
		cmd := exec.Command(etcdBinary,
			"--name", "armistice-test",
			"--data-dir", t.TempDir(),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "armistice-test="+peer,
			"--heartbeat-interval", "50", "--election-timeout", "250",
			"--logger", "zap", "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
			})
		}
		if waitEtcdHealthy(client, exited) {
			t.Cleanup(stop)
			return client, stop
		}
		stop()
		last = out.String()
	}
	t.Fatalf("etcd did not start:\n%s", last)
	return "", nil
}

// waitEtcdHealthy waits until etcd answers a read (true), or the process
// exits or 20 s pass (false). etcd's client waits for the connection to
// be ready, so nothing here polls.
func waitEtcdHealthy(client string, exited <-chan struct{}) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 20 * time.Second, Logger: zap.NewNop(), Context: ctx})
	if err != nil {
		return false
	}
	defer cli.Close()
	_, err = cli.Get(ctx, "health") // linearizable: answered once etcd has a leader
	return err == nil
}

func etcdClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// etcdKeys returns the keys under prefix and the TTL etcd granted the
// lease of the first.
func etcdKeys(t testing.TB, cli *clientv3.Client, prefix string) ([]string, int64) {
	t.Helper()
	ctx := ctxT(t)
	res, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var ttl int64
	for i, kv := range res.Kvs {
		keys = append(keys, string(kv.Key))
		if i == 0 && kv.Lease != 0 {
			l, err := cli.TimeToLive(ctx, clientv3.LeaseID(kv.Lease))
			if err != nil {
				t.Fatal(err)
			}
			ttl = l.GrantedTTL
		}
	}
	return keys, ttl
}

func etcdConfig(name, endpoint string) Config {
	cfg := DefaultConfig()
	cfg.Mode = ModeEtcd
	cfg.Name = name
	cfg.Etcd = []string{endpoint}
	cfg.Unreachable = 3 * time.Second
	return cfg
}

// waitKeys waits until prefix holds want keys, woken by etcd's watch of
// the prefix.
func waitKeys(t testing.TB, cli *clientv3.Client, prefix string, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	changes := cli.Watch(ctx, prefix, clientv3.WithPrefix())
	for {
		keys, _ := etcdKeys(t, cli, prefix)
		if len(keys) == want {
			return keys
		}
		select {
		case _, ok := <-changes:
			if !ok {
				t.Fatalf("etcd holds %v under %s, want %d keys (%v)", keys, prefix, want, ctx.Err())
			}
		case <-ctx.Done():
			t.Fatalf("etcd holds %v under %s, want %d keys", keys, prefix, want)
		}
	}
}

// TestEtcdMode: three nodes on a real etcd form one cluster (and a
// fourth, in a cluster whose name extends theirs, stays out of it); a
// request submitted on A streams through B and is cancelled through C;
// A killed mid-stream leaves membership when its lease expires and B's
// reader gets failed/node_lost within 2 s; C leaving gracefully is gone
// at once; no key is left behind.
func TestEtcdMode(t *testing.T) {
	endpoint, _ := startEtcd(t)
	cli := etcdClient(t, endpoint)
	const name = "etcdtest"
	prefix := etcdBase(name) + "/" + name + "/"

	var other *member
	var otherErr error
	started := make(chan struct{})
	go func() {
		defer close(started)
		other, otherErr = startMember(etcdConfig(name+"x", endpoint))
	}()
	ms := startMembers(t, 3, func() Config { return etcdConfig(name, endpoint) })
	<-started
	if otherErr != nil {
		t.Fatal(otherErr)
	}
	a, b, c := ms[0], ms[1], ms[2]
	stopped := map[*member]bool{}
	t.Cleanup(func() {
		for _, m := range append(ms, other) {
			if !stopped[m] {
				m.stop()
			}
		}
	})
	waitMembers(t, 3, a, b, c)
	waitMembers(t, 1, other)
	keys := waitKeys(t, cli, prefix, 3)
	if _, ttl := etcdKeys(t, cli, prefix); ttl != 1 {
		t.Errorf("lease TTL %d s, want 1 s (Refresh %s)", ttl, a.node.cfg.Refresh)
	}
	t.Logf("keys %v", keys)
	for _, m := range ms {
		if calls := m.node.provider.(*etcdProvider).calls; !calls.watched.Load() || calls.listed.Load() == 0 {
			t.Errorf("%s: the first watch did not start at the listed revision", m.node.Addr())
		}
	}

	// Submitted on A, streamed through B, cancelled through C.
	snap, script := submit(t, a, "t1", "hello")
	subB := subscribe(t, b, snap.ID, "t1", 0)
	script.Token("one ")
	script.Token("two")
	readN(t, subB, 3)
	ctx := ctxT(t)
	if _, err := c.eng.Cancel(ctx, snap.ID, "t1"); err != nil {
		t.Fatalf("cancel through C: %v", err)
	}
	if e := end(readAll(t, subB)); e == nil || e.State != model.StateCancelled || e.Reason != model.ReasonClientCancel || e.Tokens != 2 {
		t.Fatalf("end through B %+v; want cancelled/client_cancel with 2 tokens", e)
	}

	// A dies mid-stream: its key stays until its lease expires.
	snap, script = submit(t, a, "t1", "doomed")
	subB = subscribe(t, b, snap.ID, "t1", 0)
	script.Token("x")
	readN(t, subB, 2)
	killed := time.Now()
	a.cut()
	stopped[a] = true
	t.Cleanup(func() { _ = a.eng.Close() })
	recs := readAll(t, subB)
	lostAfter := time.Since(killed)
	if e := end(recs); e == nil || e.Status != model.StatusFailed || e.Reason != model.ReasonNodeLost || e.Tokens != 1 {
		t.Fatalf("end through B %+v; want failed/node_lost with 1 token", e)
	}
	waitMembers(t, 2, b, c)
	t.Logf("node_lost reached B's reader %s after the kill", lostAfter)
	if lostAfter > 2*time.Second {
		t.Errorf("node_lost came %s after the kill; want within 2 s", lostAfter)
	}
	if s, err := c.eng.Status(ctx, snap.ID, "t1"); err != nil || s.Reason != model.ReasonNodeLost {
		t.Fatalf("status through C: %+v, %v; want failed/node_lost", s, err)
	}
	waitKeys(t, cli, prefix, 2)

	// C leaves gracefully: its key is deleted, B sees it go at once.
	leaving := time.Now()
	c.stop()
	stopped[c] = true
	waitMembers(t, 1, b)
	t.Logf("a graceful leave reached B %s after it began", time.Since(leaving))
	waitKeys(t, cli, prefix, 1)
	if st := c.node.provider.(*etcdProvider).client.ActiveConnection().GetState(); st != connectivity.Shutdown {
		t.Errorf("C's etcd connection is %s after it left; want closed", st)
	}
	b.stop()
	other.stop()
	stopped[b], stopped[other] = true, true
	waitKeys(t, cli, etcdBase(name), 0)
	waitKeys(t, cli, etcdBase(name+"x"), 0)
}

// TestEtcdUnreachable: with no etcd at the endpoint, Start fails with
// ErrStart once the dial times out (it never hangs) and frees the remote's
// port.
func TestEtcdUnreachable(t *testing.T) {
	saved := etcdDialTimeout
	etcdDialTimeout = 300 * time.Millisecond
	t.Cleanup(func() { etcdDialTimeout = saved })
	node, err := New(etcdConfig("nowhere", fmt.Sprintf("127.0.0.1:%d", freePort(t))), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := actors.New(actors.DefaultConfig(scripted.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	began := time.Now()
	if err := node.Start(eng); !errors.Is(err, ErrStart) {
		t.Fatalf("start: %v; want ErrStart", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("start failed after %s", d)
	}
	// The remote, started before the provider failed, is shut down.
	ln, err := net.Listen("tcp", eng.System().Address())
	if err != nil {
		t.Fatalf("the failed node's remote still holds its port: %v", err)
	}
	ln.Close()
}

// TestEtcdGoneLeaveDoesNotHang: etcd stops under a running node; leaving
// (whose provider deletes its key) ends once the call times out, and does
// not wait for etcd forever.
func TestEtcdGoneLeaveDoesNotHang(t *testing.T) {
	saved := etcdCallTimeout
	etcdCallTimeout = 300 * time.Millisecond
	t.Cleanup(func() { etcdCallTimeout = saved })
	endpoint, stopEtcd := startEtcd(t)
	m, err := startMember(etcdConfig("gone", endpoint))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.eng.Close() }()
	stopEtcd()
	left := make(chan struct{})
	began := time.Now()
	go func() { m.node.Leave(0); close(left) }()
	select {
	case <-left:
		t.Logf("left %s after etcd stopped", time.Since(began))
	case <-time.After(10 * time.Second):
		t.Fatal("Leave still waits for etcd after 10 s")
	}
}

func TestEtcdTTL(t *testing.T) {
	for refresh, want := range map[time.Duration]int64{
		100 * time.Millisecond: 1, 500 * time.Millisecond: 1, 501 * time.Millisecond: 2,
		time.Second: 2, 1200 * time.Millisecond: 3,
	} {
		if got := etcdTTL(refresh); got != want {
			t.Errorf("etcdTTL(%s) = %d, want %d", refresh, got, want)
		}
	}
}
