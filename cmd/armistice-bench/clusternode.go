package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	stdhttp "net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/openaiapi"
	"github.com/rs/zerolog"
)

// The cluster scenario's nodes are real processes: this program (or the
// test binary) started again with nodeEnv set to a nodeSpec. Each runs
// what `armistice serve --cluster automanaged` runs (an engine, a
// cluster.Node with proto.actor's automanaged provider and remote on
// loopback, the native and OpenAI-compatible routes), with the relays'
// provider pointed at the benchmark's upstream, so that a SIGKILL is a
// real node loss: its sockets close, its membership endpoint stops
// answering, nothing gets to say goodbye.

// nodeEnv carries a node process's spec.
const nodeEnv = "ARMISTICE_BENCH_CLUSTER_NODE"

// nodeSpec is what a node process is told.
type nodeSpec struct {
	Name       string   `json:"name"`       // the cluster's name
	Upstream   string   `json:"upstream"`   // the upstream's base URL
	Provider   string   `json:"provider"`   // openai or lean
	Membership string   `json:"membership"` // this node's membership endpoint
	Peers      []string `json:"peers"`      // every node's membership endpoint
}

// readyPrefix starts the line a node prints on stdout once it serves:
// "armistice-bench-node http=HOST:PORT node=HOST:PORT".
const readyPrefix = "armistice-bench-node "

// nodeMode runs this process as a cluster node when nodeEnv is set;
// handled is false otherwise.
func nodeMode() (handled bool, code int) {
	v, ok := os.LookupEnv(nodeEnv)
	if !ok {
		return false, 0
	}
	if err := runNode(v, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "armistice-bench node: %v\n", err)
		return true, 1
	}
	return true, 0
}

// runNode serves as one node until stdin reaches its end (the parent
// closed it, or died), then exits without leaving: the parent either
// kills a node or is done with them all.
func runNode(specJSON string, stdin io.Reader, stdout, stderr io.Writer) error {
	var spec nodeSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return err
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	logger := zerolog.New(stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	ccfg := cluster.DefaultConfig()
	ccfg.Mode = cluster.ModeAutomanaged
	ccfg.Name = spec.Name
	ccfg.MembershipAddr = spec.Membership
	ccfg.Peers = spec.Peers
	node, err := cluster.New(ccfg, logger)
	if err != nil {
		return err
	}
	tr := newTransport(false)
	prov, err := newProviderFor(spec.Provider, spec.Upstream, &stdhttp.Client{Transport: tr})
	if err != nil {
		return err
	}
	cfg := engineConfig(prov)
	cfg.NewID = node.NewID
	cfg.Logger = logger
	eng, err := actors.New(cfg)
	if err != nil {
		return err
	}
	if err := node.Start(eng); err != nil {
		return err
	}
	hcfg := armhttp.DefaultConfig()
	hcfg.Cluster = node
	hcfg.Logger = logger
	srv, err := armhttp.New(eng, hcfg)
	if err != nil {
		return err
	}
	oai := openaiapi.DefaultConfig()
	oai.Models = []string{"bench"}
	if err := openaiapi.Register(srv, oai); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(stdout, "%shttp=%s node=%s\n", readyPrefix, ln.Addr(), node.Addr())
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}

// nodeProc is a node process seen from the benchmark.
type nodeProc struct {
	membership string
	base       string // http://HOST:PORT
	addr       string // the node's remote address, as members list it
	api        *relay // the native API on this node
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	log        *os.File
	exited     chan struct{}
}

// startNode starts a node process and returns once it serves HTTP (its
// membership may not have settled yet).
func (b *bench) startNode(spec nodeSpec, logPath string) (*nodeProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(data))
	cmd.Stdout = &lineWriter{ready: ready}
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	n := &nodeProc{membership: spec.Membership, cmd: cmd, stdin: stdin, log: logf, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case line := <-ready:
		var httpAddr string
		for _, f := range strings.Fields(strings.TrimPrefix(line, readyPrefix)) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "http":
				httpAddr = v
			case "node":
				n.addr = v
			}
		}
		n.base = "http://" + httpAddr
		if n.api, err = newRelay("node", b.env.client, n.base, b.env.clock); err != nil {
			n.kill()
			return nil, err
		}
		return n, nil
	case <-n.exited:
		return nil, errorf("cluster node on %s exited at start: %s", spec.Membership, tail(logPath))
	case <-timer.C:
		n.kill()
		return nil, errorf("cluster node on %s did not start in 30 s: %s", spec.Membership, tail(logPath))
	}
}

// kill ends the process with SIGKILL and waits for it.
func (n *nodeProc) kill() {
	_ = n.cmd.Process.Kill()
	<-n.exited
	n.log.Close()
}

// stop closes the node's stdin (it exits at once) and waits for it, or
// kills it after 5 s.
func (n *nodeProc) stop() {
	_ = n.stdin.Close()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-n.exited:
		n.log.Close()
	case <-t.C:
		n.kill()
	}
}

// members is the node's /readyz list of members, or an error while it is
// not ready.
func (n *nodeProc) members(ctx context.Context) ([]string, error) {
	req, err := newGet(ctx, n.base+"/readyz")
	if err != nil {
		return nil, err
	}
	res, err := n.api.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct {
		Status  string `json:"status"`
		Cluster *struct {
			Members []string `json:"members"`
		} `json:"cluster"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "ready" || body.Cluster == nil {
		return nil, fmt.Errorf("readyz: %s", body.Status)
	}
	return body.Cluster.Members, nil
}

// waitMembership waits until every node lists every node (at most d).
func waitMembership(nodes []*nodeProc, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	want := make([]string, len(nodes))
	for i, n := range nodes {
		want[i] = n.addr
	}
	var last string
	ok := waitUntil(d, func() bool {
		for _, n := range nodes {
			m, err := n.members(ctx)
			if err != nil {
				last = fmt.Sprintf("%s: %v", n.addr, err)
				return false
			}
			for _, w := range want {
				if !strings.Contains(strings.Join(m, " "), w) {
					last = fmt.Sprintf("%s sees %v, want %v", n.addr, m, want)
					return false
				}
			}
		}
		return true
	})
	if !ok {
		return errorf("cluster membership did not settle in %s: %s", d, last)
	}
	return nil
}

// listenLoopback listens on a free loopback port.
func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// lineWriter passes the node's ready line on and drops the rest.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan string
	sent  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(p), nil
	}
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.Reset()
			w.buf.WriteString(line)
			return len(p), nil
		}
		if strings.HasPrefix(line, readyPrefix) {
			w.sent = true
			w.ready <- strings.TrimSpace(line)
			return len(p), nil
		}
	}
}

// tail is the end of a node's log, for an error message.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 10 {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(empty log)"
	}
	return strings.Join(lines, " | ")
}

// newGet is a GET request for url.
func newGet(ctx context.Context, url string) (*stdhttp.Request, error) {
	return stdhttp.NewRequestWithContext(ctx, stdhttp.MethodGet, url, nil)
}
