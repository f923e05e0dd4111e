package upstreamhttp_test

import (
	"context"
	"log"
	"time"

	"github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/upstreamhttp"
)

// A server gives one Client to its network providers, probes its upstream
// eagerly, and closes the client when it stops.
func ExampleClient() {
	uc, err := upstreamhttp.New(upstreamhttp.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer uc.Close()

	cfg := openai.DefaultConfig()
	cfg.BaseURL = "http://127.0.0.1:8000/v1" // a local vLLM, say
	cfg.HTTPClient = uc.HTTPClient()
	provider, err := openai.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	_ = provider // its requests go over HTTP/1.1 until the verdict, then h2c if the server speaks it

	// A server does this on a goroutine of its own, so as not to delay
	// its start.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if protocol, err := uc.Probe(ctx, cfg.BaseURL); err == nil {
		log.Printf("upstream protocol: %s", protocol)
	}
}
