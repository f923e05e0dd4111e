package openaiapi

import (
	stdhttp "net/http"
	"strconv"
	"strings"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/model"
	"github.com/labstack/echo/v4"
)

// chatCompletionJSON is a non-streamed chat completion.
type chatCompletionJSON struct {
	ID      string           `json:"id"`
	Object  string           `json:"object"`
	Created int64            `json:"created"`
	Model   string           `json:"model"`
	Choices []chatChoiceJSON `json:"choices"`
	Usage   chatUsageJSON    `json:"usage"`
}

type chatChoiceJSON struct {
	Index        int              `json:"index"`
	Message      chatMessageJSON  `json:"message"`
	Logprobs     *chatLogprobJSON `json:"logprobs"`
	FinishReason string           `json:"finish_reason"`
}

type chatMessageJSON struct {
	Role    string  `json:"role"`
	Content *string `json:"content"`
	// ReasoningContent is the reasoning a model streamed apart from its
	// answer, under the name vLLM and DeepSeek use.
	ReasoningContent string             `json:"reasoning_content,omitempty"`
	ToolCalls        []chatToolCallJSON `json:"tool_calls,omitempty"`
	Refusal          *string            `json:"refusal"`
}

type chatToolCallJSON struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function chatFunctionJSON `json:"function"`
}

type chatFunctionJSON struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatLogprobJSON struct {
	Content []model.Logprob `json:"content"`
	Refusal *string         `json:"refusal"`
}

type chatUsageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// chatConv turns a request's log into chat.completion.chunk events:
// the streaming record gives the role chunk, each token a content delta
// (with its logprobs when asked for), each reasoning record a
// reasoning_content delta, each tool-call record the tool_calls deltas
// OpenAI streams, a completed end the finish chunk, the usage chunk
// (when asked for) and [DONE]; any other end gives an {"error":{...}}
// object and no [DONE].
type chatConv struct {
	id           string
	prefix       string // `data: {"id":...,"choices":[`
	suffix       string // `]` + `,"usage":null` when usage was asked for + `}`
	includeUsage bool
	roleSent     bool
	text         strings.Builder
	reasoning    strings.Builder
	calls        []toolCallAcc
	logprobs     []model.Logprob
	end          *model.End
}

// toolCallAcc is one tool call as far as it has streamed.
type toolCallAcc struct {
	index    int
	id, name string
	args     strings.Builder
}

// call returns the call of index, and whether it is new.
func callOf(calls *[]toolCallAcc, index int) (*toolCallAcc, bool) {
	for i := range *calls {
		if (*calls)[i].index == index {
			return &(*calls)[i], false
		}
	}
	*calls = append(*calls, toolCallAcc{index: index})
	return &(*calls)[len(*calls)-1], true
}

// callID is the id of a call whose provider gave none.
func callID(id string, index int) string {
	return "call_" + id + "_" + strconv.Itoa(index)
}

func newChatConv(id string, created int64, modelName string, includeUsage bool) *chatConv {
	var b []byte
	b = append(b, `data: {"id":`...)
	b = appendJSONString(b, prefixChat+id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, modelName)
	b = append(b, `,"choices":[`...)
	suffix := "]}\n\n"
	if includeUsage {
		suffix = `],"usage":null}` + "\n\n"
	}
	return &chatConv{id: id, prefix: string(b), suffix: suffix, includeUsage: includeUsage}
}

func (c *chatConv) append(b []byte, recs []model.Record) []byte {
	for _, r := range recs {
		b = c.record(b, r)
	}
	return b
}

func (c *chatConv) apply(recs []model.Record) { _ = c.append(nil, recs) }

func (c *chatConv) record(b []byte, r model.Record) []byte {
	if c.end != nil {
		return b
	}
	switch r.Kind {
	case model.KindState:
		if r.State == model.StateStreaming {
			b = c.role(b)
		}
	case model.KindToken:
		b = c.role(b)
		c.text.WriteString(r.Text)
		b = append(b, c.prefix...)
		b = append(b, `{"index":0,"delta":{"content":`...)
		b = appendJSONString(b, r.Text)
		if r.Logprobs == nil {
			b = append(b, `},"logprobs":null,"finish_reason":null}`...)
		} else {
			c.logprobs = append(c.logprobs, r.Logprobs.Content...)
			b = append(b, `},"logprobs":{"content":`...)
			b = appendJSON(b, r.Logprobs.Content)
			b = append(b, `,"refusal":null},"finish_reason":null}`...)
		}
		b = append(b, c.suffix...)
	case model.KindReasoning:
		b = c.role(b)
		c.reasoning.WriteString(r.Text)
		b = append(b, c.prefix...)
		b = append(b, `{"index":0,"delta":{"reasoning_content":`...)
		b = appendJSONString(b, r.Text)
		b = append(b, `},"logprobs":null,"finish_reason":null}`...)
		b = append(b, c.suffix...)
	case model.KindToolCall:
		if r.ToolCall == nil {
			return b
		}
		b = c.role(b)
		b = c.toolCall(b, r.ToolCall)
	case model.KindEnd:
		end := r.End
		if end == nil {
			end = &model.End{State: model.StateDone, Status: model.StatusFailed, Reason: model.ReasonInternalError}
		}
		c.end = end
		reason, ok := finishReason(end)
		if !ok {
			b = append(b, "data: "...)
			b = appendJSON(b, chatFailure(end).body())
			return append(b, "\n\n"...)
		}
		b = c.role(b)
		b = append(b, c.prefix...)
		b = append(b, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
		b = append(b, reason...)
		b = append(b, `"}`...)
		b = append(b, c.suffix...)
		if c.includeUsage {
			in, out := usageOf(end)
			b = append(b, c.prefix...)
			b = append(b, `],"usage":`...)
			b = appendJSON(b, chatUsageJSON{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out})
			b = append(b, "}\n\n"...)
		}
		b = append(b, "data: [DONE]\n\n"...)
	}
	return b
}

// toolCall renders a tool-call record as OpenAI streams it: the first
// chunk of a call carries its index, id, type and name with empty
// arguments, later chunks the index and more arguments.
func (c *chatConv) toolCall(b []byte, d *model.ToolCallDelta) []byte {
	call, first := callOf(&c.calls, d.Index)
	if first {
		call.id, call.name = d.ID, d.Name
		if call.id == "" {
			call.id = callID(c.id, d.Index)
		}
		b = append(b, c.prefix...)
		b = append(b, `{"index":0,"delta":{"tool_calls":[{"index":`...)
		b = strconv.AppendInt(b, int64(d.Index), 10)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, call.id)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = appendJSONString(b, call.name)
		b = append(b, `,"arguments":""}}]},"logprobs":null,"finish_reason":null}`...)
		b = append(b, c.suffix...)
	}
	if d.Arguments == "" {
		return b
	}
	call.args.WriteString(d.Arguments)
	b = append(b, c.prefix...)
	b = append(b, `{"index":0,"delta":{"tool_calls":[{"index":`...)
	b = strconv.AppendInt(b, int64(d.Index), 10)
	b = append(b, `,"function":{"arguments":`...)
	b = appendJSONString(b, d.Arguments)
	b = append(b, `}}]},"logprobs":null,"finish_reason":null}`...)
	return append(b, c.suffix...)
}

// message is the assistant message of a non-streamed completion.
func (c *chatConv) message() (chatMessageJSON, *chatLogprobJSON) {
	m := chatMessageJSON{Role: "assistant", ReasoningContent: c.reasoning.String()}
	if text := c.text.String(); text != "" || len(c.calls) == 0 {
		m.Content = &text
	}
	for i := range c.calls {
		call := &c.calls[i]
		m.ToolCalls = append(m.ToolCalls, chatToolCallJSON{ID: call.id, Type: "function",
			Function: chatFunctionJSON{Name: call.name, Arguments: call.args.String()}})
	}
	if c.logprobs == nil {
		return m, nil
	}
	return m, &chatLogprobJSON{Content: c.logprobs}
}

// requestGone renders the stream's last words when the request stopped
// before its end record reached the stream.
func (c *chatConv) requestGone(b []byte) []byte {
	e := &Error{Type: TypeServer, Code: CodeRequestGone, Message: "The request stopped before its end could be sent."}
	b = append(b, "data: "...)
	b = appendJSON(b, e.body())
	return append(b, "\n\n"...)
}

func (c *chatConv) role(b []byte) []byte {
	if c.roleSent {
		return b
	}
	c.roleSent = true
	b = append(b, c.prefix...)
	b = append(b, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}`...)
	return append(b, c.suffix...)
}

// finishReason is the chat finish_reason of a completed end; ok is false
// for cancelled and failed ends.
func finishReason(end *model.End) (string, bool) {
	if end.Status != model.StatusCompleted {
		return "", false
	}
	switch end.Reason {
	case model.ReasonLength:
		return "length", true
	case model.ReasonContentFilter:
		return "content_filter", true
	case model.ReasonToolCalls:
		return "tool_calls", true
	}
	return "stop", true
}

// chatFailure is the error a chat completion that did not complete ends
// with: in the stream after the 200, or as the answer of a non-streamed
// one. The code is the end's reason.
func chatFailure(end *model.End) *Error {
	if end.Upstream != nil {
		return upstreamError(end)
	}
	e := &Error{Type: TypeServer, Code: end.Reason.String(), Message: failureMessage(end)}
	switch end.Reason {
	case model.ReasonUpstreamError:
		e.Status = stdhttp.StatusBadGateway
	case model.ReasonFirstTokenTimeout, model.ReasonIdleTimeout, model.ReasonDeadlineExceeded, model.ReasonQueueTimeout:
		e.Status = stdhttp.StatusGatewayTimeout
	case model.ReasonShutdown, model.ReasonNodeLost:
		e.Status = stdhttp.StatusServiceUnavailable
	case model.ReasonClientCancel, model.ReasonClientDisconnected:
		e.Status, e.Type = stdhttp.StatusConflict, TypeInvalidRequest
	default:
		e.Status = stdhttp.StatusInternalServerError
	}
	if e.Code == "" {
		e.Code = CodeInternal
	}
	return e
}

// chatCompletions serves POST /v1/chat/completions. Every chat completion
// is a foreground request: a client that leaves before the end cancels it.
func (a *api) chatCompletions(c echo.Context) (streamer, error) {
	if a.srv.Draining() {
		return nil, shuttingDown(nil)
	}
	data, err := a.readBody(c.Request())
	if err != nil {
		return nil, err
	}
	req, err := a.parseChat(data)
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	owner := tenantOf(c)
	// One call to the engine creates the request and attaches the reader.
	snap, sub, err := a.eng.SubmitAndSubscribe(ctx, owner, actors.Spec{
		Model:        req.model,
		Messages:     req.messages,
		MaxTokens:    req.maxTokens,
		Settings:     req.settings,
		OnDisconnect: model.OnDisconnectCancel,
		Metadata:     map[string]string{metaObject: objectChat},
		TraceID:      armhttp.TraceID(c),
	})
	if err != nil && snap.ID == "" {
		return nil, submitError(err, "chat completion", req.name)
	}
	armhttp.MarkSubmitted(c, snap.ID, false)
	if err != nil {
		a.abandon(ctx, snap.ID, owner)
		return nil, engineError(err, "chat completion", prefixChat+snap.ID)
	}
	modelName := a.displayModel(snap.Model)
	conv := newChatConv(snap.ID, snap.CreatedAt.Unix(), modelName, req.includeUsage)

	if req.stream {
		id := snap.ID
		return func() error { return a.stream(c, sub, id, true, conv.append, conv.requestGone) }, nil
	}

	defer sub.Close()
	if err := readToEnd(ctx, sub, conv.apply); err != nil {
		if ctx.Err() != nil {
			a.abandon(ctx, snap.ID, owner)
			return nil, nil // nobody is listening
		}
		return nil, engineError(err, "chat completion", prefixChat+snap.ID)
	}
	end := conv.end
	reason, ok := finishReason(end)
	if !ok {
		return nil, chatFailure(end)
	}
	in, out := usageOf(end)
	msg, logprobs := conv.message()
	return nil, writeJSON(c, stdhttp.StatusOK, chatCompletionJSON{
		ID:      prefixChat + snap.ID,
		Object:  objectChat,
		Created: snap.CreatedAt.Unix(),
		Model:   modelName,
		Choices: []chatChoiceJSON{{
			Message:      msg,
			Logprobs:     logprobs,
			FinishReason: reason,
		}},
		Usage: chatUsageJSON{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out},
	})
}
