package actors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/armistice-go/armistice/model"
)

// A request streamed from the embedded model, read through a
// subscription from the first record to the end.
func ExampleEngine() {
	provider, err := embedded.New(embedded.Config{TokensPerSecond: 0, Tokens: 12}) // unpaced
	if err != nil {
		panic(err)
	}
	eng, err := actors.New(actors.DefaultConfig(provider))
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	ctx := context.Background()

	snap, err := eng.Submit(ctx, "tenant-a", actors.Spec{
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Tell me about the rabbit."}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("submitted:", snap.State)

	sub, err := eng.Subscribe(ctx, snap.ID, "tenant-a", 0)
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	var text strings.Builder
	for {
		records, err := sub.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		for _, r := range records {
			switch r.Kind {
			case model.KindState:
				fmt.Printf("#%d state %s\n", r.Seq, r.State)
			case model.KindToken:
				text.WriteString(r.Text)
			case model.KindEnd:
				fmt.Printf("text: %s\n", text.String())
				fmt.Printf("#%d end %s/%s tokens=%d\n", r.Seq, r.End.Status, r.End.Reason, r.End.Tokens)
			}
		}
	}
	// Output:
	// submitted: pending
	// #1 state pending
	// #2 state streaming
	// text: Let me think: was I the same as they used to know.
	// #15 end completed/stop tokens=12
}
