package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	stdhttp "net/http"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/client"
	"github.com/armistice-go/armistice/llm/embedded"
)

// exampleServer runs the real Armistice server on a loopback port with the
// embedded model (unpaced) and returns its URL and a function to stop it.
func exampleServer() (string, func()) {
	prov, err := embedded.New(embedded.Config{Tokens: 64})
	if err != nil {
		panic(err)
	}
	eng, err := actors.New(actors.DefaultConfig(prov))
	if err != nil {
		panic(err)
	}
	srv, err := armhttp.New(eng, armhttp.DefaultConfig())
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	return "http://" + ln.Addr().String(), func() {
		srv.Shutdown(context.Background(), 0)
		<-served
		eng.Close()
	}
}

// Chat submits a prompt and streams the answer to its end.
func ExampleClient_Chat() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(url) // client.WithAPIKey(key) when the server has keys
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	_, events, err := c.Chat(ctx, client.Request{Prompt: "Tell me a story", MaxTokens: 8})
	if err != nil {
		panic(err)
	}
	for ev, err := range events {
		if err != nil {
			panic(err) // the stream could not be resumed
		}
		switch ev.Name {
		case "state":
			fmt.Printf("[%s]\n", ev.State)
		case "token":
			fmt.Print(ev.Text)
		case "end":
			fmt.Printf("\n[%s/%s, %d tokens]\n", ev.End.Status, ev.End.Reason, ev.End.Tokens)
		}
	}
	// Output:
	// [pending]
	// [streaming]
	// I'll try if I like being that person,
	// [completed/length, 8 tokens]
}

// SubmitAndStream does what Chat does in one HTTP exchange: the submit is
// answered with the request's event stream, and the id names the request
// for Cancel or Status.
func ExampleClient_SubmitAndStream() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(url)
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	id, events, err := c.SubmitAndStream(ctx, client.Request{Prompt: "Tell me a story", MaxTokens: 8})
	if err != nil {
		panic(err)
	}
	for ev, err := range events {
		if err != nil {
			panic(err) // the stream could not be resumed
		}
		switch ev.Name {
		case "token":
			fmt.Print(ev.Text)
		case "end":
			fmt.Printf("\n[%s/%s, %d tokens]\n", ev.End.Status, ev.End.Reason, ev.End.Tokens)
		}
	}
	snap, err := c.Status(ctx, id)
	if err != nil {
		panic(err)
	}
	fmt.Println(snap.State, snap.Tokens)
	// Output:
	// I'll try if I like being that person,
	// [completed/length, 8 tokens]
	// done 8
}

// Stream resumes from a cursor: after a connection that read up to seq 5,
// the records after it, then the end.
func ExampleClient_Stream() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(url)
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	snap, err := c.Submit(ctx, client.Request{Prompt: "Tell me a story", MaxTokens: 8})
	if err != nil {
		panic(err)
	}
	// A first connection reads up to seq 5 and drops: its cursor is then
	// never ahead of the log (a cursor ahead of a running request's log is
	// invalid_cursor, not a wait).
	var cursor uint64
	for ev, err := range c.Stream(ctx, snap.ID, 0) {
		if err != nil {
			panic(err)
		}
		if cursor = ev.Seq; cursor == 5 {
			break
		}
	}
	for ev, err := range c.Stream(ctx, snap.ID, cursor) {
		if err != nil {
			panic(err)
		}
		fmt.Printf("#%d %s %q\n", ev.Seq, ev.Name, ev.Text)
	}
	// Output:
	// #6 token " I"
	// #7 token " like"
	// #8 token " being"
	// #9 token " that"
	// #10 token " person,"
	// #11 end ""
}

// Errors are *client.Error values that errors.Is matches against the
// sentinels.
func ExampleError() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(url)
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	_, err = c.Cancel(ctx, "no-such-request")
	var e *client.Error
	fmt.Println(errors.Is(err, client.ErrNotFound), errors.As(err, &e) && e.Status == stdhttp.StatusNotFound)
	fmt.Println(err)
	// Output:
	// true true
	// armistice: 404 not_found: no such request
}
