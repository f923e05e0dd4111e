package openaiapi_test

import (
	"context"
	"net"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/openaiapi"
	"github.com/armistice-go/armistice/llm/embedded"
)

// Serve the native API and the OpenAI-compatible one from one server;
// clients use base_url http://127.0.0.1:8080/v1.
func ExampleRegister() {
	provider, err := embedded.New(embedded.DefaultConfig())
	if err != nil {
		panic(err)
	}
	eng, err := actors.New(actors.DefaultConfig(provider))
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	srv, err := armhttp.New(eng, armhttp.DefaultConfig())
	if err != nil {
		panic(err)
	}
	cfg := openaiapi.DefaultConfig()
	cfg.Models = []string{"embedded"}
	if err := openaiapi.Register(srv, cfg); err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		panic(err)
	}
	go func() { _ = srv.Serve(ln) }()
	// ... until it is time to stop:
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = srv.Shutdown(ctx, 30*time.Second)
}
