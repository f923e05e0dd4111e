package openaiapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
)

type eventStream = *ssestream.Stream[responses.ResponseStreamEventUnion]

// readUntil reads events until stop says so (inclusive) or the stream
// ends.
func readUntil(t *testing.T, st eventStream, stop func(responses.ResponseStreamEventUnion) bool) []responses.ResponseStreamEventUnion {
	t.Helper()
	var out []responses.ResponseStreamEventUnion
	for st.Next() {
		ev := st.Current()
		out = append(out, ev)
		if stop != nil && stop(ev) {
			return out
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return out
}

// readAll reads to the end of the stream.
func readAll(t *testing.T, st eventStream) []responses.ResponseStreamEventUnion {
	t.Helper()
	return readUntil(t, st, nil)
}

func isTerminal(typ string) bool {
	return typ == "response.completed" || typ == "response.failed" || typ == "response.incomplete"
}

// checkEvents fails unless evs are numbered from first with no gap or
// duplicate and hold exactly one terminal event, last.
func checkEvents(t *testing.T, evs []responses.ResponseStreamEventUnion, first int64) {
	t.Helper()
	terminals := 0
	for i, ev := range evs {
		if ev.SequenceNumber != first+int64(i) {
			t.Fatalf("event %d (%s) has sequence_number %d, want %d", i, ev.Type, ev.SequenceNumber, first+int64(i))
		}
		if isTerminal(ev.Type) {
			terminals++
			if i != len(evs)-1 {
				t.Fatalf("terminal event %s is not last", ev.Type)
			}
		}
	}
	if terminals != 1 {
		t.Fatalf("%d terminal events, want exactly 1", terminals)
	}
}

func types(evs []responses.ResponseStreamEventUnion) string {
	var b strings.Builder
	for i, ev := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.TrimPrefix(ev.Type, "response."))
	}
	return b.String()
}

func deltas(evs []responses.ResponseStreamEventUnion) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Type == "response.output_text.delta" {
			b.WriteString(ev.Delta)
		}
	}
	return b.String()
}

func input(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}
}

func TestResponseStreamWithTheGoClient(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	stCh := async(func() *ssestream.Stream[responses.ResponseStreamEventUnion] {
		return client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{
			Model:        "scripted",
			Instructions: openai.String("Be brief."),
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
				responses.ResponseInputItemParamOfMessage("Tell me about the rabbit.", responses.EasyInputMessageRoleUser),
				responses.ResponseInputItemParamOfMessage("Which one?", responses.EasyInputMessageRoleAssistant),
				responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
					responses.ResponseInputContentParamOfInputText("The white"),
					responses.ResponseInputContentParamOfInputText("one."),
				}, responses.EasyInputMessageRoleUser),
			}},
			Metadata: map[string]string{"user": "u1"},
		})
	})
	s := e.script()
	want := []llm.Message{
		{Role: llm.RoleSystem, Content: "Be brief."},
		{Role: llm.RoleUser, Content: "Tell me about the rabbit."},
		{Role: llm.RoleAssistant, Content: "Which one?"},
		{Role: llm.RoleUser, Content: "The white\none."},
	}
	if got := s.Request().Messages; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("provider got %+v", got)
	}
	s.Token("Alice")
	s.Token(" ran.")
	s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 9, CompletionTokens: 2})
	st := wait(t, stCh)
	defer st.Close()
	evs := readAll(t, st)
	checkEvents(t, evs, 0)
	if got, want := types(evs), "created queued in_progress output_item.added content_part.added output_text.delta output_text.delta "+
		"output_text.done content_part.done output_item.done completed"; got != want {
		t.Fatalf("events: %s\nwant:   %s", got, want)
	}
	id := "resp_" + fixedID(1)
	if evs[0].Response.ID != id || evs[0].Response.Status != "queued" || evs[2].Response.Status != "in_progress" {
		t.Fatalf("created %s / in_progress %s", evs[0].RawJSON(), evs[2].RawJSON())
	}
	if evs[3].Item.ID != "msg_"+fixedID(1) || evs[5].ItemID != "msg_"+fixedID(1) || evs[7].Text != "Alice ran." {
		t.Fatalf("item events: %s %s %s", evs[3].RawJSON(), evs[5].RawJSON(), evs[7].RawJSON())
	}
	final := evs[len(evs)-1].Response
	if final.Status != "completed" || final.OutputText() != "Alice ran." || final.Usage.InputTokens != 9 ||
		final.Usage.OutputTokens != 2 || final.Usage.TotalTokens != 11 || final.Model != "scripted" ||
		final.Metadata["user"] != "u1" || final.Instructions.OfString != "Be brief." || final.Background {
		t.Fatalf("final response = %s", final.RawJSON())
	}
	if deltas(evs) != "Alice ran." {
		t.Fatalf("deltas = %q", deltas(evs))
	}
}

func TestResponseWithoutStreamWaitsForTheEnd(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	type result struct {
		r   *responses.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("hello"), MaxOutputTokens: openai.Int(2)})
		done <- result{r, err}
	}()
	s := e.script()
	if s.Request().MaxTokens != 2 || s.Request().Model != "" {
		t.Fatalf("provider got %+v", s.Request())
	}
	s.Token("Hi")
	s.Token(" you")
	s.Finish(llm.FinishLength, nil)
	r := wait(t, done)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.r.Status != "incomplete" || r.r.IncompleteDetails.Reason != "max_output_tokens" || r.r.OutputText() != "Hi you" ||
		r.r.MaxOutputTokens != 2 || r.r.Model != "scripted" || r.r.Usage.OutputTokens != 2 || r.r.Usage.InputTokens != 0 ||
		r.r.Output[0].Status != "incomplete" {
		t.Fatalf("response = %s", r.r.RawJSON())
	}
}

// The resume flow: a background response is streamed, the stream
// is read halfway and dropped, the request runs on, and a resumed stream
// starting after the last event seen has no gap and no duplicate.
func TestBackgroundResumeAfterADroppedStream(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	st := client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{
		Model: "scripted", Input: input("hello"), Background: openai.Bool(true),
	})
	s := e.script()
	for i := range 3 {
		s.Token(fmt.Sprintf("t%d ", i))
	}
	first := readUntil(t, st, func(ev responses.ResponseStreamEventUnion) bool {
		return ev.Type == "response.output_text.delta" && ev.Delta == "t1 "
	})
	if first[0].Response.Background != true {
		t.Fatalf("created = %s", first[0].RawJSON())
	}
	st.Close()
	e.waitStreamDone() // the server saw the drop...
	for i := 3; i < 6; i++ {
		if !s.Token(fmt.Sprintf("t%d ", i)) { // ...and the request runs on
			t.Fatal("the background request stopped when its stream was dropped")
		}
	}
	s.Finish(llm.FinishStop, nil)
	last := first[len(first)-1].SequenceNumber
	rest := readAll(t, client.Responses.GetStreaming(e.ctx(), "resp_"+fixedID(1), responses.ResponseGetParams{
		StartingAfter: openai.Int(last),
	}))
	if len(rest) == 0 || rest[0].SequenceNumber != last+1 {
		t.Fatalf("resumed at %v, want %d", rest, last+1)
	}
	all := append(first, rest...)
	checkEvents(t, all, 0)
	if got := deltas(all); got != "t0 t1 t2 t3 t4 t5 " {
		t.Fatalf("text = %q", got)
	}
	final := all[len(all)-1].Response
	if final.Status != "completed" || final.OutputText() != "t0 t1 t2 t3 t4 t5 " || final.Usage.OutputTokens != 6 {
		t.Fatalf("final = %s", final.RawJSON())
	}
	// A stream from the start replays every event the same way.
	again := readAll(t, client.Responses.GetStreaming(e.ctx(), "resp_"+fixedID(1), responses.ResponseGetParams{}))
	checkEvents(t, again, 0)
	if len(again) != len(all) {
		t.Fatalf("replay has %d events, want %d", len(again), len(all))
	}
	for i := range again {
		if again[i].RawJSON() != all[i].RawJSON() {
			t.Fatalf("event %d differs:\n%s\n%s", i, again[i].RawJSON(), all[i].RawJSON())
		}
	}
}

// Cancelling a background response mid-stream ends the attached stream
// with exactly one terminal event (response.failed, status cancelled),
// aborts the upstream call, and cancelling again answers the same body.
func TestBackgroundCancelMidStream(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	st := client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{
		Model: "scripted", Input: input("hello"), Background: openai.Bool(true),
	})
	defer st.Close()
	s := e.script()
	s.Token("partial")
	before := readUntil(t, st, func(ev responses.ResponseStreamEventUnion) bool { return ev.Type == "response.output_text.delta" })
	id := "resp_" + fixedID(1)
	r, err := client.Responses.Cancel(e.ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "cancelled" || r.ID != id || r.OutputText() != "partial" {
		t.Fatalf("cancel = %s", r.RawJSON())
	}
	after := readAll(t, st)
	all := append(before, after...)
	checkEvents(t, all, 0)
	if got := types(after); got != "output_text.done content_part.done output_item.done failed" {
		t.Fatalf("after the cancel: %s", got)
	}
	term := all[len(all)-1]
	if term.Response.Status != "cancelled" || term.Response.Output[0].Status != "incomplete" {
		t.Fatalf("terminal = %s", term.RawJSON())
	}
	waitClosed(t, s)
	again, err := client.Responses.Cancel(e.ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	if again.RawJSON() != r.RawJSON() {
		t.Fatalf("second cancel differs:\n%s\n%s", again.RawJSON(), r.RawJSON())
	}
	got, err := client.Responses.Get(e.ctx(), id, responses.ResponseGetParams{})
	if err != nil || got.RawJSON() != r.RawJSON() {
		t.Fatalf("retrieve = %v %s", err, got.RawJSON())
	}
}

func TestCancelTwiceBeforeAnyToken(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	created, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("hello"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != "queued" && created.Status != "in_progress" || !created.Background || created.Usage.JSON.TotalTokens.Valid() {
		t.Fatalf("created = %s", created.RawJSON())
	}
	s := e.script()
	one, err := client.Responses.Cancel(e.ctx(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	two, err := client.Responses.Cancel(e.ctx(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if one.Status != "cancelled" || one.RawJSON() != two.RawJSON() {
		t.Fatalf("cancels:\n%s\n%s", one.RawJSON(), two.RawJSON())
	}
	waitClosed(t, s)
}

// waitEnd streams a background response to its terminal event.
func waitEnd(t *testing.T, e *env, client openai.Client, id string) *responses.Response {
	t.Helper()
	evs := readAll(t, client.Responses.GetStreaming(e.ctx(), id, responses.ResponseGetParams{}))
	checkEvents(t, evs, 0)
	return &evs[len(evs)-1].Response
}

func TestCancelOfACompletedResponse(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	created, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("hello"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	s := e.script()
	s.Token("done")
	s.Finish(llm.FinishStop, nil)
	waitEnd(t, e, client, created.ID)
	_, err = client.Responses.Cancel(e.ctx(), created.ID)
	ae := wantAPIError(t, err, 400, TypeInvalidRequest, CodeAlreadyFinished)
	if ae.Message != "Cannot cancel a completed response." {
		t.Fatalf("message = %q", ae.Message)
	}
	// Failed and incomplete responses are completed too.
	failed, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("hello"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	e.script().Fail(errors.New("boom"))
	if r := waitEnd(t, e, client, failed.ID); r.Status != "failed" || r.Error.Code != "upstream_error" || r.Error.Message == "" {
		t.Fatalf("failed = %s", r.RawJSON())
	}
	_, err = client.Responses.Cancel(e.ctx(), failed.ID)
	wantAPIError(t, err, 400, TypeInvalidRequest, CodeAlreadyFinished)
}

func TestCancelOfAForegroundResponseIsRefused(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	stCh := async(func() *ssestream.Stream[responses.ResponseStreamEventUnion] {
		return client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{Input: input("hello")})
	})
	s := e.script()
	_, err := client.Responses.Cancel(e.ctx(), "resp_"+fixedID(1))
	wantAPIError(t, err, 400, TypeInvalidRequest, CodeNotBackground)
	s.Finish(llm.FinishStop, nil)
	st := wait(t, stCh)
	defer st.Close()
	checkEvents(t, readAll(t, st), 0)
}

func TestRetrieveAfterCompletion(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	created, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{
		Model: "scripted-mini", Input: input("hello"), Background: openai.Bool(true), Store: openai.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := e.script()
	s.Token("All")
	// Wait, on the event stream, until the token is in the log.
	watch := client.Responses.GetStreaming(e.ctx(), created.ID, responses.ResponseGetParams{})
	readUntil(t, watch, func(ev responses.ResponseStreamEventUnion) bool { return ev.Type == "response.output_text.delta" })
	watch.Close()
	// While in progress, the snapshot holds the text so far.
	mid, err := client.Responses.Get(e.ctx(), created.ID, responses.ResponseGetParams{})
	if err != nil || mid.Status != "in_progress" || mid.OutputText() != "All" || mid.Output[0].Status != "in_progress" {
		t.Fatalf("mid = %v %s", err, mid.RawJSON())
	}
	s.Token(" done.")
	s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 4, CompletionTokens: 2})
	end := waitEnd(t, e, client, created.ID)
	got, err := client.Responses.Get(e.ctx(), created.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "completed" || got.OutputText() != "All done." || got.Usage.TotalTokens != 6 || !got.Background ||
		got.Model != "scripted-mini" || got.ID != created.ID || got.CreatedAt != created.CreatedAt {
		t.Fatalf("retrieved = %s", got.RawJSON())
	}
	if got.RawJSON() != end.RawJSON() {
		t.Fatalf("retrieve and terminal event differ:\n%s\n%s", got.RawJSON(), end.RawJSON())
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	created, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("hello"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	s := e.script()
	err = client.Responses.Delete(e.ctx(), created.ID)
	wantAPIError(t, err, 400, TypeInvalidRequest, CodeNotFinished)
	s.Finish(llm.FinishStop, nil)
	waitEnd(t, e, client, created.ID)
	resp, data := e.do("DELETE", "/v1/responses/"+created.ID, "", keyA)
	if resp.StatusCode != 200 || string(data) != `{"id":"`+created.ID+`","object":"response.deleted","deleted":true}`+"\n" {
		t.Fatalf("delete: %d %s", resp.StatusCode, data)
	}
	_, err = client.Responses.Get(e.ctx(), created.ID, responses.ResponseGetParams{})
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeNotFound)
	err = client.Responses.Delete(e.ctx(), created.ID)
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeNotFound)
}

// A foreground response is cancelled by a dropped stream, like a chat.
func TestForegroundResponseDisconnectCancels(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	stCh := async(func() *ssestream.Stream[responses.ResponseStreamEventUnion] {
		return client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{Input: input("hello")})
	})
	s := e.script()
	s.Token("one")
	st := wait(t, stCh)
	readUntil(t, st, func(ev responses.ResponseStreamEventUnion) bool { return ev.Type == "response.output_text.delta" })
	st.Close()
	waitClosed(t, s)
	e.waitStreamDone()
	got, err := client.Responses.Get(e.ctx(), "resp_"+fixedID(1), responses.ResponseGetParams{})
	if err != nil || got.Status != "cancelled" {
		t.Fatalf("after the drop: %v %s", err, got.RawJSON())
	}
}

func TestResumeOfAForegroundResponseIsRefused(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	stCh := async(func() *ssestream.Stream[responses.ResponseStreamEventUnion] {
		return client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{Input: input("hello")})
	})
	e.script().Finish(llm.FinishStop, nil)
	st := wait(t, stCh)
	checkEvents(t, readAll(t, st), 0)
	res := client.Responses.GetStreaming(e.ctx(), "resp_"+fixedID(1), responses.ResponseGetParams{StartingAfter: openai.Int(2)})
	if res.Next() {
		t.Fatal("a foreground response streamed again")
	}
	wantAPIError(t, res.Err(), 400, TypeInvalidRequest, CodeNotBackground)
}

func TestResumeAtOrPastTheEndIsAnEmptyStream(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	created, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("hello"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	s := e.script()
	s.Token("x")
	s.Finish(llm.FinishStop, nil)
	evs := readAll(t, client.Responses.GetStreaming(e.ctx(), created.ID, responses.ResponseGetParams{}))
	last := evs[len(evs)-1].SequenceNumber
	for _, after := range []int64{last, last + 1, 1 << 40} {
		resp, data := e.do("GET", fmt.Sprintf("/v1/responses/%s?stream=true&starting_after=%d", created.ID, after), "", keyA)
		if resp.StatusCode != 200 || len(data) != 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("starting_after=%d: %d %q", after, resp.StatusCode, data)
		}
	}
	// One before the end gives only the terminal event.
	rest := readAll(t, client.Responses.GetStreaming(e.ctx(), created.ID, responses.ResponseGetParams{StartingAfter: openai.Int(last - 1)}))
	if len(rest) != 1 || rest[0].Type != "response.completed" {
		t.Fatalf("rest = %s", types(rest))
	}
}

// A response cancelled before it was admitted has no output item: its
// stream is created, queued, and the terminal event.
func TestCancelWhileQueued(t *testing.T) {
	e := newEnv(t, withEngine(func(ec *actors.Config) { ec.MaxActive = 1 }))
	client := e.sdk(keyA)
	blocker, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("first"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	s := e.script()
	queued, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("second"), Background: openai.Bool(true)})
	if err != nil || queued.Status != "queued" {
		t.Fatalf("second = %v %s", err, queued.RawJSON())
	}
	r, err := client.Responses.Cancel(e.ctx(), queued.ID)
	if err != nil || r.Status != "cancelled" || len(r.Output) != 0 {
		t.Fatalf("cancel = %v %s", err, r.RawJSON())
	}
	evs := readAll(t, client.Responses.GetStreaming(e.ctx(), queued.ID, responses.ResponseGetParams{}))
	checkEvents(t, evs, 0)
	if types(evs) != "created queued failed" || evs[2].Response.Status != "cancelled" {
		t.Fatalf("events = %s", types(evs))
	}
	_, _ = client.Responses.Cancel(e.ctx(), blocker.ID)
	waitClosed(t, s)
}
