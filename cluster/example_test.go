package cluster_test

import (
	"context"
	"log"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/rs/zerolog"
)

// A node in a program of its own: make the node, let it name the
// engine's request ids, start the engine, join. Any node's engine then
// reads, follows and cancels any node's requests. (Compiled, not run: it
// needs its peers.)
func Example() {
	ccfg := cluster.DefaultConfig()
	ccfg.Mode = cluster.ModeAutomanaged
	ccfg.MembershipAddr = "127.0.0.1:7101"
	ccfg.Peers = []string{"127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"}
	node, err := cluster.New(ccfg, zerolog.Nop())
	if err != nil {
		log.Fatal(err)
	}
	model, _ := embedded.New(embedded.DefaultConfig())
	cfg := actors.DefaultConfig(model)
	cfg.NewID = node.NewID // ids name this node
	eng, err := actors.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	if err := node.Start(eng); err != nil {
		log.Fatal(err)
	}
	defer node.Leave(500 * time.Millisecond) // runs before eng.Close

	// ... serve; on the way out, drain first so every reader, on any
	// node, gets its end:
	_ = eng.Drain(context.Background(), 10*time.Second)
}
