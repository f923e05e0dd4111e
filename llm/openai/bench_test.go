package openai_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/openai"
)

// The smallest valid Chat Completions stream: the role chunk, one token,
// the finish, the end marker.
const (
	roleChunk    = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n"
	restOfAnswer = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
		"data: [DONE]\n\n"
)

// upstream is a loopback Chat Completions server answering every request
// with the smallest valid stream. With hold set it sends the role chunk,
// reports the request on held, and sends the rest only once hold is
// closed (or the client went away).
func upstream(tb testing.TB, hold <-chan struct{}, held chan<- struct{}) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, roleChunk)
		if hold != nil {
			_ = http.NewResponseController(w).Flush()
			held <- struct{}{}
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, restOfAnswer)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// drain reads st to its end and closes it.
func drain(st llm.Stream) (string, error) {
	defer st.Close()
	var text string
	for {
		c, err := st.Recv()
		if err == io.EOF {
			return text, nil
		}
		if err != nil {
			return text, err
		}
		text += c.Text
	}
}

// BenchmarkStreamStart measures one request: Provider.Stream (building,
// sending, the response headers) and reading the smallest answer to its
// end, on a kept-alive loopback connection. The in-process upstream's
// own work is included (the same in every variant).
//
//	go test -run '^$' -bench StreamStart -benchmem -count 6 ./llm/openai
func BenchmarkStreamStart(b *testing.B) {
	srv := upstream(b, nil, nil)
	p := newProvider(b, openai.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-bench", HTTPClient: srv.Client()})
	req := llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "Be brief."},
		{Role: llm.RoleUser, Content: "Say hello."},
	}, MaxTokens: 64}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		st, err := p.Stream(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if text, err := drain(st); err != nil || text != "Hi" {
			b.Fatalf("got %q, %v", text, err)
		}
	}
}

// BenchmarkStackPerOpenStream measures the goroutine stack memory an
// open, silent stream holds: 1,000 goroutines each open a stream held by
// the upstream after its role chunk and block reading it, and the
// process's StackInuse is compared before and after (GC off, so no stack
// is shrunk; then again after 8 GCs, which halve every stack using less
// than a quarter of itself). "net_http" does the same with plain net/http
// requests (a prebuilt body, the response read with io.Copy), which hold
// the same connections, transport and upstream goroutines: the difference
// is what the provider adds to the calling goroutine's stack. A
// measurement, so a benchmark; one op is the whole measurement:
//
//	go test -run '^$' -bench StackPerOpenStream -benchtime 1x ./llm/openai
func BenchmarkStackPerOpenStream(b *testing.B) {
	const n = 1000
	body := []byte(`{"messages":[{"content":"Say hello.","role":"user"}],"model":"gpt-4o-mini","stream_options":{"include_usage":true},"stream":true}`)
	b.Run("net_http", func(b *testing.B) {
		for b.Loop() {
			report(b, openStreams(b, n, func(url string, hc *http.Client) opener {
				return func(ctx context.Context, ready func()) error {
					req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(body))
					if err != nil {
						return err
					}
					req.Header.Set("Content-Type", "application/json")
					res, err := hc.Do(req)
					if err != nil {
						return err
					}
					defer res.Body.Close()
					ready()
					_, err = io.Copy(io.Discard, res.Body)
					return err
				}
			}))
		}
	})
	b.Run("provider", func(b *testing.B) {
		for b.Loop() {
			report(b, openStreams(b, n, func(url string, hc *http.Client) opener {
				p := newProvider(b, openai.Config{BaseURL: url + "/v1", APIKey: "sk-probe", HTTPClient: hc})
				return func(ctx context.Context, ready func()) error {
					st, err := p.Stream(ctx, llm.Prompt("Say hello."))
					if err != nil {
						return err
					}
					ready()
					_, err = drain(st)
					return err
				}
			}))
		}
	})
}

func report(b *testing.B, f stackFigures) {
	b.ReportMetric(f.open, "stack-KB/stream")
	b.ReportMetric(f.settled, "stack-KB/stream-after-8-GCs")
}

type stackFigures struct{ open, settled float64 } // KB per stream

// An opener opens a stream, calls ready once the response headers are in,
// and reads the stream to its end.
type opener func(ctx context.Context, ready func()) error

// openStreams runs n goroutines that each run the opener setup returns for
// a held upstream at url; it returns the StackInuse they add per stream.
func openStreams(t testing.TB, n int, setup func(url string, hc *http.Client) opener) stackFigures {
	hold, held := make(chan struct{}), make(chan struct{}, n)
	srv := upstream(t, hold, held)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer hc.CloseIdleConnections()
	open := setup(srv.URL, hc)

	runtime.GC()
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := stackInuse()

	var wg sync.WaitGroup
	ready := make(chan struct{}, n)
	errs := make(chan error, n)
	ctx := t.Context()
	for range n {
		wg.Go(func() {
			if err := open(ctx, func() { ready <- struct{}{} }); err != nil {
				errs <- err
			}
		})
	}
	for range n {
		select {
		case <-ready:
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(30 * time.Second):
			t.Fatal("streams not opened within 30 s")
		}
	}
	for range n {
		<-held
	}
	// Let every caller reach its blocking read and the stacks settle: a
	// measurement on the real clock, which is why this is a benchmark.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for last := int64(0); ; {
		<-tick.C
		cur := stackInuse()
		if cur == last {
			break
		}
		last = cur
	}
	var figs stackFigures
	figs.open = kbPer(stackInuse()-before, n)
	for range 8 {
		runtime.GC()
	}
	figs.settled = kbPer(stackInuse()-before, n)

	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	return figs
}

func stackInuse() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.StackInuse)
}

func kbPer(b int64, n int) float64 { return float64(b) / 1024 / float64(n) }
