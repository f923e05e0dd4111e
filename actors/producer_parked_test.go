package actors_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/internal/parked"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/armistice-go/armistice/model"
)

// TestAProducerParksAboveTheDecoder: between two chunks of a silent
// upstream, the producer goroutine waits for the next bytes under its own
// loop and the streams' Wait, not under Recv and the event decoding it
// calls. A parked goroutine keeps the stack its parked depth needs (the
// garbage collector halves a stack only while less than a quarter of it
// is in use): over HTTP/2 to the upstream, waiting in Wait is shallow
// enough for 4 KB where waiting in Recv needed 8 (docs/benchmarks.md,
// "Idle memory"). Before Wait, the producer parked in
// runProducer → resilient's Recv → upstream.Stream's Recv →
// chunkReader.Next, and before the first token under resilient's Stream
// as well.
func TestAProducerParksAboveTheDecoder(t *testing.T) {
	t.Run("before the first token", func(t *testing.T) { producerParks(t, nil) })
	t.Run("between tokens", func(t *testing.T) { producerParks(t, []string{"Hello"}) })
}

func producerParks(t *testing.T, before []string) {
	up := llmtest.NewOpenAIServer(t, llmtest.StallAfter(before, " world"))
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &h2c}
	defer tr.CloseIdleConnections()
	inner, err := openai.New(openai.Config{BaseURL: up.URL, APIKey: "sk-test", HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := resilient.New(resilient.Config{Upstreams: []resilient.Upstream{{Provider: inner}}})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := actors.New(actors.DefaultConfig(prov))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	snap, err := eng.Submit(ctx, "tenant-a", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "Hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := eng.Subscribe(ctx, snap.ID, "tenant-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for got := len(before) == 0; !got; {
		records, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			got = got || r.Kind == model.KindToken
		}
	}
	if _, err := up.WaitStalled(ctx); err != nil {
		t.Fatal(err)
	}

	// The producer reads the body through HTTP/2's pipe; wait until it
	// parks there (it may still be on its way from the first chunk).
	const bodyRead = "net/http.(*http2pipe).Read"
	var frames []string
	for {
		fns, ok := parked.Holding(bodyRead, "sync.(*Cond).Wait")
		if ok && strings.Contains(strings.Join(fns, " "), "github.com/armistice-go/armistice/actors.") {
			frames = fns
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no producer parked reading the upstream's body: %v", ctx.Err())
		}
		runtime.Gosched()
	}
	ours := 0
	for _, fn := range frames {
		if strings.Contains(fn, ".Recv") || strings.Contains(fn, "chunkReader).Next") || strings.HasPrefix(fn, "encoding/json.") {
			t.Errorf("the producer parks under %s; want it waiting above Recv and the decoder:\n%s", fn, strings.Join(frames, "\n"))
		}
		if strings.HasPrefix(fn, "github.com/armistice-go/armistice/") {
			ours++
		}
	}
	// Its loop, resilient's Wait, the upstream stream's Wait and the
	// chunk reader's Wait.
	if ours > 4 {
		t.Errorf("%d of Armistice's functions under the parked producer, want at most 4:\n%s", ours, strings.Join(frames, "\n"))
	}
	up.Release()
}
