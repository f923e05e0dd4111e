package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/armistice-go/armistice/internal/prereq"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/armistice-go/armistice/llm/llmtest"
)

// aisdkDir holds the Vercel AI SDK, pinned by its package.json and
// package-lock.json, and the conversation script that uses it.
const aisdkDir = "../../scripts/aisdk"

// aisdkInstall is the command that installs it.
const aisdkInstall = "(cd scripts/aisdk && npm ci --no-audit --no-fund)"

// TestAISDKConversation is issue 18's "done when": the Vercel AI SDK's
// default OpenAI provider (openai(model): the Responses API, store: true,
// no provider options) holds a two-turn conversation with a tool call
// through a real armistice serve process, on a scripted OpenAI-compatible
// upstream. Turn 1 calls the weather tool, the SDK runs it and sends its
// output in a second step; turn 2 sends the conversation again with the
// first turn's answer as an item_reference, which Armistice resolves: the
// upstream receives each step's whole conversation.
//
// It runs scripts/aisdk/conversation.mjs with node and the SDK installed
// by npm ci under scripts/aisdk (the versions package-lock.json pins); it
// installs nothing itself, and fails, saying what to run, when they are
// not there.
func TestAISDKConversation(t *testing.T) {
	node := aisdkReady(t)
	up := llmtest.NewOpenAIServer(t,
		llmtest.ToolCall("call_w1", "weather", `{"city":`, `"Oslo"}`),
		llmtest.Answer("It is -3", " and snowing in Oslo."),
		llmtest.Answer("Snow again", " tomorrow."))
	c := startServeEnv(t, []string{
		"ARMISTICE_PROVIDER=openai",
		"ARMISTICE_OPENAI_BASE_URL=" + up.URL,
		"OPENAI_API_KEY=sk-up",
		"ARMISTICE_OPENAI_MODEL=local-model",
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(aisdkDir, "conversation.mjs"), c.url, "local-model")
	cmd.WaitDelay = waitLimit
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node scripts/aisdk/conversation.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	var got struct {
		Turns []struct {
			Steps        int
			ToolCalls    []string
			Text         string
			FinishReason string
		}
		Requests []struct {
			Input              []string
			Store              *bool
			PreviousResponseID *string `json:"previous_response_id"`
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("the script's output %q: %v", stdout.Bytes(), err)
	}
	t.Logf("the script printed %s", bytes.TrimSpace(stdout.Bytes()))
	// What the client saw.
	if len(got.Turns) != 2 {
		t.Fatalf("%d turns; want 2", len(got.Turns))
	}
	if t1 := got.Turns[0]; t1.Steps != 2 || !reflect.DeepEqual(t1.ToolCalls, []string{`weather({"city":"Oslo"})`}) ||
		t1.Text != "It is -3 and snowing in Oslo." || t1.FinishReason != "stop" {
		t.Errorf("turn 1: %+v; want 2 steps, the weather call, then the answer", t1)
	}
	if t2 := got.Turns[1]; t2.Steps != 1 || len(t2.ToolCalls) != 0 || t2.Text != "Snow again tomorrow." || t2.FinishReason != "stop" {
		t.Errorf("turn 2: %+v; want the answer", t2)
	}
	// What the SDK sent: no provider option changed its defaults, and
	// the last turn refers to the first turn's answer by item_reference.
	wantInput := [][]string{
		{"message"},
		{"message", "function_call", "function_call_output"},
		{"message", "function_call", "function_call_output", "item_reference", "message"},
	}
	if len(got.Requests) != len(wantInput) {
		t.Fatalf("the SDK sent %d requests; want %d", len(got.Requests), len(wantInput))
	}
	for i, r := range got.Requests {
		if !reflect.DeepEqual(r.Input, wantInput[i]) || (r.Store != nil && !*r.Store) || r.PreviousResponseID != nil {
			t.Errorf("request %d: input %v, store %v, previous_response_id %v; want input %v, stored, no previous_response_id",
				i+1, r.Input, r.Store, r.PreviousResponseID, wantInput[i])
		}
	}
	// What reached the upstream: each step's whole conversation, the
	// item_reference resolved to the answer it names.
	const (
		user1 = `{"content":"What is the weather in Oslo? Use the weather tool.","role":"user"}`
		call  = `{"content":null,"role":"assistant","tool_calls":[{"id":"call_w1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]}`
		out   = `{"content":"-3 and snowing in Oslo","role":"tool","tool_call_id":"call_w1"}`
		ans1  = `{"content":"It is -3 and snowing in Oslo.","role":"assistant"}`
		user2 = `{"content":"And what about tomorrow?","role":"user"}`
	)
	wantMessages := []string{
		"[" + user1 + "]",
		"[" + user1 + "," + call + "," + out + "]",
		"[" + user1 + "," + call + "," + out + "," + ans1 + "," + user2 + "]",
	}
	reqs := up.Requests()
	if len(reqs) != len(wantMessages) {
		t.Fatalf("%d upstream requests; want %d", len(reqs), len(wantMessages))
	}
	for i, r := range reqs {
		var body struct{ Messages json.RawMessage }
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("upstream request %d: %v", i+1, err)
		}
		if string(body.Messages) != wantMessages[i] {
			t.Errorf("upstream request %d carried the messages\n%s\nwant\n%s", i+1, body.Messages, wantMessages[i])
		}
	}
}

// aisdkReady returns node's path once node and the pinned SDK are there,
// and fails the test otherwise, with the command that installs them.
func aisdkReady(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		prereq.Missing(t, "node is not installed (Node.js 20 or later, with npm), and the AI SDK then with: %s", aisdkInstall)
	}
	data, err := os.ReadFile(filepath.Join(aisdkDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Dependencies map[string]string }
	if err := json.Unmarshal(data, &pkg); err != nil || len(pkg.Dependencies) == 0 {
		t.Fatalf("scripts/aisdk/package.json: %v", err)
	}
	for name, want := range pkg.Dependencies {
		data, err := os.ReadFile(filepath.Join(aisdkDir, "node_modules", name, "package.json"))
		if errors.Is(err, os.ErrNotExist) {
			prereq.Missing(t, "the AI SDK is not installed (no scripts/aisdk/node_modules/%s): run %s", name, aisdkInstall)
		}
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Version string }
		if err := json.Unmarshal(data, &got); err != nil || got.Version != want {
			t.Fatalf("scripts/aisdk/node_modules has %s %q; package.json pins %q: run %s", name, got.Version, want, aisdkInstall)
		}
	}
	return node
}
