package openaiapi

import (
	"context"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// TestRetrievingAResponseHasNoSideEffect: GET /v1/responses/{id} reads the
// log without attaching: it is answered while MaxSubscribers streams are
// attached, and on a native request with on_disconnect cancel that nobody
// streamed it starts no countdown (the request stays streaming).
func TestRetrievingAResponseHasNoSideEffect(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxSubscribers = 1; c.DetachGrace = 0 }))
	resp, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"hi","background":true}`, keyA)
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, data)
	}
	s := e.script()
	s.Token("a")
	id := fixedID(1)
	sub, err := e.eng.Subscribe(context.Background(), id, "tenant-a", 0) // the one slot
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for range 3 {
		if resp, data := e.do("GET", "/v1/responses/resp_"+id, "", keyA); resp.StatusCode != 200 {
			t.Fatalf("retrieve with every stream slot taken: %d %s", resp.StatusCode, data)
		}
	}
	s.Finish(llm.FinishStop, nil)

	// A native request with on_disconnect cancel that nobody streams.
	native, err := e.eng.Submit(context.Background(), "tenant-a", actors.Spec{
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, OnDisconnect: model.OnDisconnectCancel})
	if err != nil {
		t.Fatal(err)
	}
	e.script()
	if resp, _ := e.do("GET", "/v1/responses/resp_"+native.ID, "", keyA); resp.StatusCode != 404 {
		t.Fatalf("a native request read as a response: %d; want 404", resp.StatusCode)
	}
	snap, err := e.eng.Status(context.Background(), native.ID, "tenant-a")
	if err != nil || snap.State != model.StateStreaming {
		t.Fatalf("after a 404 read the native request is %+v, %v; want it still streaming", snap, err)
	}
}

// TestStoredResponseOutlastsLinger: a stored Response stays retrievable
// after its end was read, though the engine's Linger is 0 (it would be
// removed at once): ResponseRetention keeps it.
func TestStoredResponseOutlastsLinger(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.Linger = 0 }))
	res := async(func() []byte {
		_, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"hi"}`, keyA)
		return data
	})
	s := e.script()
	s.Token("a")
	s.Finish(llm.FinishStop, nil)
	if data := wait(t, res); !strings.Contains(string(data), `"status":"completed"`) {
		t.Fatalf("create: %s", data)
	}
	// The end was read (the create call waited for it). With Linger 0 the
	// request would now retire; give it every chance to.
	for range 200 {
		resp, data := e.do("GET", "/v1/responses/resp_"+fixedID(1), "", keyA)
		if resp.StatusCode != 200 {
			t.Fatalf("a stored response vanished after its end was read: %d %s", resp.StatusCode, data)
		}
	}
}
