package openaiapi

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

func TestChatStreamWithTheGoClient(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	// The headers come with the first output (an upstream refusal before
	// it keeps its status), so the call runs beside the script.
	streamCh := async(func() *ssestream.Stream[openai.ChatCompletionChunk] {
		return client.Chat.Completions.NewStreaming(e.ctx(), openai.ChatCompletionNewParams{
			Model: "scripted",
			Messages: []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage("Be brief."),
				openai.DeveloperMessage("Answer in English."),
				openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.TextContentPart("Tell me"), openai.TextContentPart("about the rabbit."),
				}),
				openai.AssistantMessage("Which rabbit?"),
				openai.UserMessage("The white one."),
			},
			MaxCompletionTokens: openai.Int(7),
			StreamOptions:       openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
	})
	s := e.script()
	want := []llm.Message{
		{Role: llm.RoleSystem, Content: "Be brief."},
		{Role: llm.RoleSystem, Content: "Answer in English."},
		{Role: llm.RoleUser, Content: "Tell me\nabout the rabbit."},
		{Role: llm.RoleAssistant, Content: "Which rabbit?"},
		{Role: llm.RoleUser, Content: "The white one."},
	}
	req := s.Request()
	if req.Model != "scripted" || req.MaxTokens != 7 || len(req.Messages) != len(want) {
		t.Fatalf("provider got %+v", req)
	}
	for i := range want {
		if !reflect.DeepEqual(req.Messages[i], want[i]) {
			t.Fatalf("message %d = %+v, want %+v", i, req.Messages[i], want[i])
		}
	}
	s.Token("Alice")
	s.Token(" saw it.")
	s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 11, CompletionTokens: 2})
	stream := wait(t, streamCh)
	defer stream.Close()

	var acc openai.ChatCompletionAccumulator
	var chunks []openai.ChatCompletionChunk
	for stream.Next() {
		ch := stream.Current()
		chunks = append(chunks, ch)
		acc.AddChunk(ch)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	// role, two deltas, finish, usage
	if len(chunks) != 5 {
		t.Fatalf("got %d chunks: %+v", len(chunks), chunks)
	}
	first, last := chunks[0], chunks[4]
	if first.Choices[0].Delta.Role != "assistant" || first.ID != "chatcmpl-"+fixedID(1) || first.Object != "chat.completion.chunk" || first.Model != "scripted" {
		t.Fatalf("first chunk = %s", first.RawJSON())
	}
	for _, ch := range chunks {
		if ch.ID != first.ID || ch.Created != first.Created || ch.Created == 0 {
			t.Fatalf("chunks differ in id or created: %s", ch.RawJSON())
		}
	}
	if chunks[3].Choices[0].FinishReason != "stop" || len(last.Choices) != 0 || last.Usage.TotalTokens != 13 || last.Usage.CompletionTokens != 2 {
		t.Fatalf("finish %s, usage %s", chunks[3].RawJSON(), last.RawJSON())
	}
	if got := acc.Choices[0].Message.Content; got != "Alice saw it." {
		t.Fatalf("content = %q", got)
	}
}

func TestChatWithoutStream(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	type result struct {
		c   *openai.ChatCompletion
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := client.Chat.Completions.New(e.ctx(), openai.ChatCompletionNewParams{
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		done <- result{c, err}
	}()
	s := e.script()
	if s.Request().Model != "" {
		t.Fatalf("no model named, but the provider got %q", s.Request().Model)
	}
	s.Token("Hi")
	s.Token(" there")
	s.Finish(llm.FinishLength, nil)
	r := wait(t, done)
	if r.err != nil {
		t.Fatal(r.err)
	}
	c := r.c
	if c.ID != "chatcmpl-"+fixedID(1) || c.Object != "chat.completion" || c.Model != "scripted" || c.Created == 0 || len(c.Choices) != 1 {
		t.Fatalf("completion = %s", c.RawJSON())
	}
	ch := c.Choices[0]
	if ch.Message.Content != "Hi there" || ch.Message.Role != "assistant" || ch.FinishReason != "length" {
		t.Fatalf("choice = %s", ch.RawJSON())
	}
	// Without usage from the provider, completion tokens count token records.
	if c.Usage.PromptTokens != 0 || c.Usage.CompletionTokens != 2 || c.Usage.TotalTokens != 2 {
		t.Fatalf("usage = %s", c.Usage.RawJSON())
	}
}

// A failure after the 200 travels in the stream as an error object, and
// the stream never ends cleanly: the client sees an error.
func TestChatFailureAfterTheStreamStarted(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	streamCh := async(func() *ssestream.Stream[openai.ChatCompletionChunk] {
		return client.Chat.Completions.NewStreaming(e.ctx(), openai.ChatCompletionNewParams{
			Model:    "scripted",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
	})
	s := e.script()
	s.Token("partial")
	s.Fail(errors.New("connection reset by the model"))
	stream := wait(t, streamCh)
	defer stream.Close()
	var text strings.Builder
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != "" {
				t.Fatalf("a failed stream must not finish: %s", stream.Current().RawJSON())
			}
		}
	}
	var se *ssestream.StreamError
	if !errors.As(stream.Err(), &se) || !strings.Contains(string(se.Event.Data), `"code":"upstream_error"`) ||
		!strings.Contains(string(se.Event.Data), `"type":"server_error"`) {
		t.Fatalf("stream error = %v", stream.Err())
	}
	if text.String() != "partial" {
		t.Fatalf("text = %q", text.String())
	}
}

func TestChatFailureWithoutStreamIsAnError(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	done := make(chan error, 1)
	go func() {
		_, err := client.Chat.Completions.New(e.ctx(), openai.ChatCompletionNewParams{
			Model:    "scripted",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		done <- err
	}()
	s := e.script()
	s.Fail(errors.New("boom"))
	wantAPIError(t, wait(t, done), 502, TypeServer, "upstream_error")
}

// A client that drops a chat stream cancels the request and the upstream
// call: chat completions are always foreground.
func TestChatDisconnectCancelsTheUpstreamCall(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	streamCh := async(func() *ssestream.Stream[openai.ChatCompletionChunk] {
		return client.Chat.Completions.NewStreaming(e.ctx(), openai.ChatCompletionNewParams{
			Model:    "scripted",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
	})
	s := e.script()
	s.Token("one")
	stream := wait(t, streamCh)
	for range 2 { // role, "one"
		if !stream.Next() {
			t.Fatalf("stream ended: %v", stream.Err())
		}
	}
	stream.Close()
	waitClosed(t, s)
	if !s.Cancelled() {
		t.Fatal("the upstream stream was closed, not cancelled")
	}
	e.waitStreamDone()
	snap, err := e.eng.Status(e.ctx(), fixedID(1), "tenant-a")
	if err != nil || snap.State != model.StateCancelled || snap.Reason != model.ReasonClientCancel {
		t.Fatalf("snapshot = %+v, %v", snap, err)
	}
}

// The same for a non-streamed chat completion whose client gives up.
func TestChatWithoutStreamDisconnectCancels(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	ctx, cancel := contextWithCancel(e)
	done := make(chan error, 1)
	go func() {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "scripted",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		done <- err
	}()
	s := e.script()
	s.Token("one")
	cancel()
	if err := wait(t, done); err == nil {
		t.Fatal("a cancelled call succeeded")
	}
	waitClosed(t, s)
	snap, err := e.eng.Status(e.ctx(), fixedID(1), "tenant-a")
	if err != nil || snap.State != model.StateCancelled {
		t.Fatalf("snapshot = %+v, %v", snap, err)
	}
}
