package main

import (
	"context"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/client"
	"github.com/armistice-go/armistice/llm/embedded"
)

// realServer starts the real HTTP server on a loopback port, streaming
// the embedded model at rate tokens/s (0: unpaced).
func realServer(t *testing.T, rate float64, tokens int) string {
	t.Helper()
	prov, err := embedded.New(embedded.Config{TokensPerSecond: rate, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := actors.New(actors.DefaultConfig(prov))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := armhttp.New(eng, armhttp.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		srv.Shutdown(ctx, 0)
		<-served
		eng.Close()
	})
	return "http://" + ln.Addr().String()
}

// cuttingProxy forwards TCP to target, but cuts the first connection that
// carries an event stream once cutAfter bytes of it reached the client.
type cuttingProxy struct {
	ln       net.Listener
	target   string
	cutAfter int
	// stall keeps the cut connection open and silent instead of closing it.
	stall bool
	cut   atomic.Bool
	wg    sync.WaitGroup
}

func newCuttingProxy(t *testing.T, target string, cutAfter int, stall bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), cutAfter: cutAfter, stall: stall}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return "http://" + ln.Addr().String()
}

func (p *cuttingProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(client)
		}()
	}
}

func (p *cuttingProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var streaming atomic.Bool // this connection carries the stream to cut
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if strings.Contains(string(buf[:n]), "/events") && p.cut.CompareAndSwap(false, true) {
					streaming.Store(true)
				}
				server.Write(buf[:n])
			}
			if err != nil {
				server.Close()
				return
			}
		}
	}()
	sent := 0
	buf := make([]byte, 4096)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if streaming.Load() {
				if sent+n >= p.cutAfter {
					client.Write(buf[:p.cutAfter-sent])
					if p.stall {
						io.Copy(io.Discard, server) // silent until the server side ends
					}
					return // the cut: both ends close mid-stream
				}
				sent += n
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fullText reads a finished request's whole answer from the server.
func fullText(t *testing.T, url, id string) string {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	var b strings.Builder
	for ev, err := range c.Stream(t.Context(), id, 0) {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(ev.Text)
	}
	return b.String()
}

var statusLine = regexp.MustCompile(`\[([0-9a-f-]{36}): (\w+)/(\w+), (\d+) tokens`)

// chat against the real server through a proxy that cuts the stream, or
// leaves it open and silent: the client resumes from the last seq and
// prints the answer exactly once.
func TestChatAgainstTheRealServerResumesACutStream(t *testing.T) {
	url := realServer(t, 0, 300)
	for _, stall := range []bool{false, true} {
		proxied := newCuttingProxy(t, url, 2500, stall)
		chatResumes(t, url, proxied, stall)
	}
}

func chatResumes(t *testing.T, url, proxied string, stall bool) {
	t.Helper()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	cfg := defaultChatConfig()
	cfg.backoffInitial = time.Millisecond
	if stall {
		cfg.idleTimeout = 100 * time.Millisecond // a silent, half-open connection
	}
	cfg.getenv = func(string) string { return "" }
	code := runChatWith(t.Context(), cfg, []string{"--server", proxied, "Tell", "me", "a", "story"}, stdout, stderr, nil)
	m := statusLine.FindStringSubmatch(stderr.String())
	if code != 0 || m == nil || m[2] != "completed" || m[4] != "300" {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "reconnecting") {
		t.Fatalf("the stream was never cut (stderr %q)", stderr.String())
	}
	want := fullText(t, url, m[1])
	if got := strings.TrimSuffix(stdout.String(), "\n"); got != want {
		t.Fatalf("printed text differs from the answer:\n got %q\nwant %q", got, want)
	}
}

// Ctrl-C against the real server: the request is cancelled and chat
// prints the cancelled end it waited for.
func TestChatAgainstTheRealServerCancelsOnInterrupt(t *testing.T) {
	url := realServer(t, 200, 100000)
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	signals := make(chan os.Signal, 2)
	done := make(chan int, 1)
	cfg := defaultChatConfig()
	cfg.getenv = func(string) string { return "" }
	go func() {
		done <- runChatWith(t.Context(), cfg, []string{"--server", url, "long", "story"}, stdout, stderr, signals)
	}()
	stdout.waitFor(t, " ") // some text arrived: it streams
	signals <- os.Interrupt
	select {
	case code := <-done:
		m := statusLine.FindStringSubmatch(stderr.String())
		if code != 1 || m == nil || m[2] != "cancelled" || m[3] != "client_cancel" {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	case <-time.After(waitLimit):
		t.Fatal("chat did not finish after the interrupt")
	}
}
