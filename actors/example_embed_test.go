package actors_test

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// host is a user's own actor that embeds Armistice: it spawns the
// supervisor as its child, submits two requests, subscribes to both with
// itself as the sink, cancels the second at its first token, and drains
// once both have ended. Every command carries a Ref, echoed in its answer.
type host struct {
	props   *actor.Props
	sup     *actor.PID
	names   map[string]string // request id → "first" or "second"
	text    map[string]int    // tokens read per request
	ended   int
	report  chan<- string
	cancels int
}

func (h *host) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		h.sup = c.Spawn(h.props)
		for ref, p := range []string{"Tell me about the rabbit.", "Tell me about the queen."} {
			c.Request(h.sup, &actors.Submit{Owner: "tenant-a", Ref: uint64(ref + 1),
				Spec: actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: p}}}})
		}
	case *actors.Snapshot:
		if m.Ref == 1 || m.Ref == 2 { // the answers to the submits
			h.names[m.ID] = map[uint64]string{1: "first", 2: "second"}[m.Ref]
			c.Request(h.sup, &actors.Subscribe{ID: m.ID, Owner: "tenant-a", Sink: c.Self(), Ref: 10 + m.Ref})
		}
	case *actors.Subscribed:
		c.Request(m.Request, &actors.Pull{Sub: m.Sub, Credits: 8})
	case *actors.Batch:
		name := h.names[m.Request] // a batch names its request
		for _, r := range m.Records {
			switch r.Kind {
			case model.KindToken:
				h.text[name]++
				if name == "second" && h.cancels == 0 {
					h.cancels++
					c.Request(h.sup, &actors.Cancel{ID: m.Request, Owner: "tenant-a", Ref: 20})
				}
			case model.KindEnd:
				h.report <- fmt.Sprintf("%s: %s/%s", name, r.End.Status, r.End.Reason)
				if h.ended++; h.ended == 2 {
					c.Request(h.sup, &actors.Drain{Grace: time.Second})
				}
				return
			}
		}
		c.Request(c.Sender(), &actors.Pull{Sub: m.Sub}) // the sender is the request
	case *actors.Drained:
		h.report <- "drained"
	case *actors.Error:
		h.report <- fmt.Sprintf("%s failed: %v", m.Command, m.Err)
	}
}

// Armistice inside a user's actor system, spoken to only with messages:
// two subscriptions on two requests, a cancel, a drain. See
// docs/embedding.md.
func Example_embedding() {
	provider, err := embedded.New(embedded.Config{TokensPerSecond: 200, Tokens: 20})
	if err != nil {
		panic(err)
	}
	props, err := actors.SupervisorProps(actors.DefaultConfig(provider))
	if err != nil {
		panic(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler) // proto.actor's own lines; yours go to your handler
	}))
	defer system.Shutdown()
	report := make(chan string, 8)
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &host{props: props, names: map[string]string{}, text: map[string]int{}, report: report}
	}))
	defer system.Root.Stop(pid)
	ends := map[string]bool{}
	for line := range report {
		ends[line] = true
		if line == "drained" {
			break
		}
	}
	fmt.Println(ends["first: completed/stop"], ends["second: cancelled/client_cancel"], ends["drained"])
	// Output: true true true
}
