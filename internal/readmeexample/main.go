// Command readmeexample is the library example of the README, verbatim
// (main_test.go checks that the README shows exactly this file), so the
// snippet people copy always compiles and prints what its comments say.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
)

func main() {
	ctx := context.Background()
	provider, err := embedded.New(embedded.DefaultConfig()) // 64 tokens at 50 a second
	if err != nil {
		panic(err)
	}
	eng, err := actors.New(actors.DefaultConfig(provider))
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	snap, err := eng.Submit(ctx, "tenant-a", actors.Spec{
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Tell me about the rabbit."}},
	})
	if err != nil {
		panic(err)
	}
	sub, err := eng.Subscribe(ctx, snap.ID, "tenant-a", 0) // 0: from the start; any seq resumes after it
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	for {
		records, err := sub.Next(ctx) // io.EOF after the end record
		if err != nil {
			break
		}
		for _, r := range records {
			fmt.Println(r) // #1 state pending, #2 state streaming, #3 token "Let", ..., #67 end done/completed/stop tokens=64
		}
	}
	_, err = eng.Cancel(ctx, snap.ID, "tenant-a") // idempotent; ErrAlreadyFinished here: it had completed
	fmt.Println(err)
	_ = eng.Drain(ctx, 30*time.Second) // graceful stop: every attached subscriber gets its end
}
