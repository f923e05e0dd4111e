package openaiapi

import (
	"context"
	"errors"
	"fmt"
	stdhttp "net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/labstack/echo/v4"
)

// deletedJSON answers DELETE /v1/responses/{id}.
type deletedJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// createResponse serves POST /v1/responses.
func (a *api) createResponse(c echo.Context) (streamer, error) {
	if a.srv.Draining() {
		return nil, shuttingDown(nil)
	}
	data, err := a.readBody(c.Request())
	if err != nil {
		return nil, err
	}
	req, err := a.parseResponses(data)
	if err != nil {
		return nil, err
	}
	if err := a.resolveRefs(c.Request().Context(), tenantOf(c), &req); err != nil {
		return nil, err
	}
	// The turns item_reference resolution found shared with a stored
	// response; previous_response_id, which puts its own turns first,
	// shares those instead.
	shares := req.refShares
	if req.previousID != "" {
		prior, shared, err := a.priorTurns(c.Request().Context(), tenantOf(c), req.previousID)
		if err != nil {
			return nil, err
		}
		at := 0
		if req.instructions != nil && *req.instructions != "" {
			at = 1 // after this request's own instructions
		}
		req.messages = slices.Concat(req.messages[:at], prior, req.messages[at:])
		req.inputFrom += len(prior)
		// The previous response's input messages keep their texts, shared
		// with it: retention counts them once.
		shares = actors.SharedInput{ID: shared.ID, From: at, Count: shared.Count}
		if err := a.checkPrompt("input", req.messages); err != nil {
			return nil, err
		}
	}
	key, ok := armhttp.IdempotencyKey(c.Request())
	if !ok {
		return nil, &Error{Status: stdhttp.StatusBadRequest, Type: TypeInvalidRequest, Code: CodeInvalidValue, Param: armhttp.HeaderIdempotencyKey,
			Message: "The Idempotency-Key header must be at most 255 printable ASCII characters."}
	}
	spec := actors.Spec{
		Model:          req.model,
		Messages:       req.messages,
		Settings:       req.settings,
		OnDisconnect:   model.OnDisconnectCancel,
		Metadata:       responseMetadata(req),
		IdempotencyKey: key,
		TraceID:        armhttp.TraceID(c),
		SharesInput:    shares,
	}
	if req.background {
		spec.OnDisconnect = model.OnDisconnectContinue
	}
	if req.store {
		// Kept for ResponseRetention (at least the engine's Linger), with
		// its input, for a later turn to continue from.
		spec.Retain, spec.KeepInput = a.cfg.ResponseRetention, true
	}
	if req.maxTokens != nil {
		spec.MaxTokens = *req.maxTokens
	}
	ctx := c.Request().Context()
	owner := tenantOf(c)
	// A response that is read as it runs is created with its reader
	// attached, in one call to the engine.
	reads := !req.background || req.stream
	var snap actors.Snapshot
	var sub *actors.Subscription
	if reads {
		snap, sub, err = a.eng.SubmitAndSubscribe(ctx, owner, spec)
	} else {
		snap, err = a.eng.Submit(ctx, owner, spec)
	}
	if err != nil && snap.ID == "" {
		return nil, submitError(err, "response", req.name)
	}
	armhttp.MarkSubmitted(c, snap.ID, snap.Replayed)
	meta, _ := a.metaOf(snap)
	if !reads {
		// Background without a stream: the response as it is now
		// (queued or in progress); the client polls or streams it.
		conv, err := a.load(ctx, snap.ID, owner)
		if err != nil {
			return nil, err
		}
		return nil, writeJSON(c, stdhttp.StatusOK, conv.response())
	}
	if err != nil {
		if !req.background {
			a.abandon(ctx, snap.ID, owner)
		}
		return nil, engineError(err, "response", prefixResponse+snap.ID)
	}
	if req.stream {
		conv, foreground := newRespConv(meta, -1), !req.background
		return func() error { return a.stream(c, sub, meta.id, foreground, conv.append, conv.errorEvent) }, nil
	}
	defer sub.Close()
	// Foreground without a stream: wait for the end.
	conv := silentConv(meta)
	if err := readToEnd(ctx, sub, conv.apply); err != nil {
		if ctx.Err() != nil {
			a.abandon(ctx, snap.ID, owner)
			return nil, nil // nobody is listening
		}
		return nil, engineError(err, "response", prefixResponse+snap.ID)
	}
	if conv.end != nil && mirrored(conv.end) {
		return nil, upstreamError(conv.end)
	}
	return nil, writeJSON(c, stdhttp.StatusOK, conv.response())
}

// load reads a stored response's log as far as it goes now.
// load reads a response as it is now. It attaches no subscriber (a
// snapshot read must not count toward MaxSubscribers, nor start a
// detached request's on_disconnect countdown).
func (a *api) load(ctx context.Context, id, owner string) (*respConv, error) {
	ls, err := a.eng.Log(ctx, id, owner)
	if err != nil {
		return nil, engineError(err, "response", prefixResponse+id)
	}
	meta, ok := a.metaOf(ls.Snapshot)
	if !ok || !meta.store {
		return nil, notFound("response", prefixResponse+id)
	}
	conv := silentConv(meta)
	conv.apply(ls.Records)
	conv.input = ls.Input
	return conv, nil
}

// getResponse serves GET /v1/responses/{id}: the snapshot, or with
// stream=true the event stream after starting_after.
func (a *api) getResponse(c echo.Context) (streamer, error) {
	id, ok := engineID(c.Param("id"), prefixResponse)
	if !ok {
		return nil, notFound("response", c.Param("id"))
	}
	stream, after, err := a.streamParams(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	owner := tenantOf(c)
	if !stream {
		conv, err := a.load(ctx, id, owner)
		if err != nil {
			return nil, err
		}
		return nil, writeJSON(c, stdhttp.StatusOK, conv.response())
	}
	sub, err := a.eng.Subscribe(ctx, id, owner, 0)
	if err != nil {
		return nil, engineError(err, "response", prefixResponse+id)
	}
	meta, ok := a.metaOf(sub.Snapshot())
	if !ok || !meta.store {
		sub.Close()
		return nil, notFound("response", prefixResponse+id)
	}
	if !meta.background {
		sub.Close()
		return nil, invalid("stream", CodeNotBackground, "This response cannot be streamed because it was not created with background=true.")
	}
	conv := newRespConv(meta, after)
	return func() error { return a.stream(c, sub, id, false, conv.append, conv.errorEvent) }, nil
}

// streamParams reads stream and starting_after from the query, or from a
// JSON body: OpenAI's Go SDK sends {"stream":true} as the body of its GET.
func (a *api) streamParams(c echo.Context) (stream bool, after int64, err error) {
	after = -1
	q := c.QueryParams()
	if v := q.Get("stream"); v != "" {
		if stream, err = strconv.ParseBool(v); err != nil {
			return false, 0, invalid("stream", CodeInvalidValue, "Invalid value for 'stream': expected a boolean, got %q.", truncate(v, 20))
		}
	}
	if v := q.Get("starting_after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return false, 0, invalid("starting_after", CodeInvalidValue, "Invalid value for 'starting_after': expected a non-negative integer, got %q.", truncate(v, 20))
		}
		after = n
	}
	r := c.Request()
	if r.ContentLength == 0 || r.Body == nil || r.Body == stdhttp.NoBody {
		return stream, after, nil
	}
	data, err := a.readBody(r)
	if err != nil {
		return false, 0, err
	}
	if strings.TrimSpace(string(data)) == "" {
		return stream, after, nil
	}
	var body struct {
		Stream        *bool  `json:"stream"`
		StartingAfter *int64 `json:"starting_after"`
	}
	if err := decodeJSON(data, &body); err != nil {
		return false, 0, err
	}
	if body.Stream != nil && *body.Stream {
		stream = true
	}
	if body.StartingAfter != nil && after < 0 {
		if *body.StartingAfter < 0 {
			return false, 0, invalid("starting_after", CodeInvalidValue, "Invalid value for 'starting_after': expected a non-negative integer, got %d.", *body.StartingAfter)
		}
		after = *body.StartingAfter
	}
	return stream, after, nil
}

// cancelResponse serves POST /v1/responses/{id}/cancel. Cancelling again
// answers the same; a response that ended otherwise answers 400.
func (a *api) cancelResponse(c echo.Context) error {
	id, ok := engineID(c.Param("id"), prefixResponse)
	if !ok {
		return notFound("response", c.Param("id"))
	}
	ctx := c.Request().Context()
	owner := tenantOf(c)
	if _, err := a.stored(ctx, id, owner, true); err != nil {
		return err
	}
	if _, err := a.eng.Cancel(ctx, id, owner); err != nil {
		if errors.Is(err, actors.ErrAlreadyFinished) {
			return &Error{Status: stdhttp.StatusBadRequest, Type: TypeInvalidRequest, Code: CodeAlreadyFinished, Message: messageCompletedCancel, Err: err}
		}
		return engineError(err, "response", prefixResponse+id)
	}
	conv, err := a.load(ctx, id, owner)
	if err != nil {
		return err
	}
	return writeJSON(c, stdhttp.StatusOK, conv.response())
}

// deleteResponse serves DELETE /v1/responses/{id}.
func (a *api) deleteResponse(c echo.Context) error {
	id, ok := engineID(c.Param("id"), prefixResponse)
	if !ok {
		return notFound("response", c.Param("id"))
	}
	ctx := c.Request().Context()
	owner := tenantOf(c)
	if _, err := a.stored(ctx, id, owner, false); err != nil {
		return err
	}
	if _, err := a.eng.Delete(ctx, id, owner); err != nil {
		if errors.Is(err, actors.ErrNotFinished) {
			return invalid("", CodeNotFinished, "Cannot delete a response that is still in progress; cancel it first.")
		}
		return engineError(err, "response", prefixResponse+id)
	}
	return writeJSON(c, stdhttp.StatusOK, deletedJSON{ID: prefixResponse + id, Object: "response.deleted", Deleted: true})
}

// stored checks that id is a stored response of owner (and, when
// background is set, a background one).
func (a *api) stored(ctx context.Context, id, owner string, background bool) (respMeta, error) {
	snap, err := a.eng.Status(ctx, id, owner)
	if err != nil {
		return respMeta{}, engineError(err, "response", prefixResponse+id)
	}
	meta, ok := a.metaOf(snap)
	if !ok || !meta.store {
		return respMeta{}, notFound("response", prefixResponse+id)
	}
	if background && !meta.background {
		return respMeta{}, invalid("", CodeNotBackground, "Only responses created with background=true can be cancelled.")
	}
	return meta, nil
}

// engineID strips an OpenAI id's prefix; ok is false for ids no engine
// would hand out.
func engineID(id, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(id, prefix)
	return rest, ok && rest != "" && len(id) <= maxIDBytes
}

// modelJSON is one entry of GET /v1/models.
type modelJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelListJSON struct {
	Object string      `json:"object"`
	Data   []modelJSON `json:"data"`
}

func modelOf(name string) modelJSON {
	return modelJSON{ID: name, Object: "model", Created: 0, OwnedBy: "armistice"}
}

// listModels serves GET /v1/models: the configured models.
func (a *api) listModels(c echo.Context) error {
	list := modelListJSON{Object: "list", Data: make([]modelJSON, 0, len(a.cfg.Models))}
	for _, m := range a.cfg.Models {
		list.Data = append(list.Data, modelOf(m))
	}
	return writeJSON(c, stdhttp.StatusOK, list)
}

// getModel serves GET /v1/models/{model}.
func (a *api) getModel(c echo.Context) error {
	name := c.Param("model")
	for _, m := range a.cfg.Models {
		if m == name {
			return writeJSON(c, stdhttp.StatusOK, modelOf(m))
		}
	}
	return &Error{Status: stdhttp.StatusNotFound, Type: TypeInvalidRequest, Code: CodeModelNotFound, Param: "model",
		Message: "The model '" + truncate(name, 100) + "' does not exist."}
}

// priorTurns resolves previous_response_id: the stored response's input
// (without its instructions, which are not carried over, as OpenAI does)
// then its output (its text and function calls as one assistant turn).
// An unknown, unstored, expired or other tenant's id is the same 400.
// shared names the leading messages that are the stored response's own
// input messages, whose texts are shared with it, not copied (its output
// turn is made anew from its log).
func (a *api) priorTurns(ctx context.Context, owner, prevID string) (turns []llm.Message, shared actors.SharedInput, err error) {
	missing := &Error{Status: stdhttp.StatusBadRequest, Type: TypeInvalidRequest, Code: CodePreviousNotFound, Param: "previous_response_id",
		Message: fmt.Sprintf("Previous response with id '%s' not found.", truncate(prevID, 200))}
	id, ok := engineID(prevID, prefixResponse)
	if !ok {
		return nil, shared, missing
	}
	conv, err := a.load(ctx, id, owner)
	if err != nil {
		var oe *Error
		if errors.As(err, &oe) && oe.Status == stdhttp.StatusNotFound {
			return nil, shared, missing
		}
		return nil, shared, err
	}
	if conv.end == nil {
		return nil, shared, &Error{Status: stdhttp.StatusBadRequest, Type: TypeInvalidRequest, Code: CodeInvalidValue, Param: "previous_response_id",
			Message: fmt.Sprintf("Previous response with id '%s' is still in progress.", truncate(prevID, 200))}
	}
	input := conv.input
	if in := conv.meta.instructions; in != nil && *in != "" && len(input) > 0 && input[0].Role == llm.RoleSystem {
		input = input[1:]
	}
	shared = actors.SharedInput{ID: id, Count: len(input)}
	return slices.Concat(input, conv.outputMessages()), shared, nil
}

// resolveRefs replaces each item_reference in req's input with the stored
// item it names: an output message of a stored response of the same
// tenant (msg_…) becomes an assistant turn, a function call (fc_…) joins
// the assistant turn before it, a reasoning item (rs_…) is dropped (it
// carries no content to continue from). An id that names no such item,
// or another tenant's, answers 404 naming the parameter.
func (a *api) resolveRefs(ctx context.Context, owner string, req *responsesRequest) error {
	if !slices.ContainsFunc(req.messages, func(m llm.Message) bool { return m.Role == roleItemRef }) {
		return nil
	}
	loaded := map[string]*respConv{}
	out := make([]llm.Message, 0, len(req.messages))
	for _, m := range req.messages {
		if m.Role != roleItemRef {
			out = append(out, m)
			continue
		}
		missing := &Error{Status: stdhttp.StatusNotFound, Type: TypeInvalidRequest, Code: CodeNotFound, Param: m.ToolCallID,
			Message: fmt.Sprintf("Item with id '%s' not found.", truncate(m.Content, 200))}
		ref, ok := parseItemID(m.Content)
		if !ok {
			return missing
		}
		reqID := ref.request
		conv := loaded[reqID]
		if conv == nil {
			var err error
			if conv, err = a.load(ctx, reqID, owner); err != nil {
				var oe *Error
				if errors.As(err, &oe) && oe.Status == stdhttp.StatusNotFound {
					return missing
				}
				return err
			}
			loaded[reqID] = conv
		}
		if ref.input {
			var ok bool
			if out, ok = appendInputItem(out, conv, ref); !ok {
				return missing
			}
			continue
		}
		i := slices.IndexFunc(conv.items, func(it respItem) bool { return it.id == m.Content })
		if i < 0 {
			return missing
		}
		it := &conv.items[i]
		switch it.kind {
		case itemMessage:
			out = append(out, llm.Message{Role: llm.RoleAssistant, Content: it.text.String()})
		case itemFunctionCall:
			out = appendCall(out, llm.ToolCall{ID: it.callID, Name: it.name, Arguments: it.text.String()})
		}
	}
	req.messages = out
	req.refShares = shareTurns(out, req.inputFrom, loaded)
	return a.checkPrompt("input", out)
}

// shareTurns makes the conversation msgs (after its own instructions,
// which end at at) share its leading turns with the referenced stored
// response whose conversation they repeat: a client that sends the whole
// conversation each turn (the Vercel AI SDK: earlier answers by
// item_reference, the rest in full) sends, before its new turns, exactly
// the conversation of the response it continues. Those messages are
// replaced with that response's own (the same texts, not copies), so
// that a chain of turns holds each text once, and the returned
// SharedInput names them for retention to count once. It picks the
// response whose conversation (without its instructions) has the
// longest common prefix with msgs[at:]; nothing is shared when none has
// one.
func shareTurns(msgs []llm.Message, at int, loaded map[string]*respConv) actors.SharedInput {
	var best actors.SharedInput
	var base []llm.Message
	for id, conv := range loaded {
		input := conv.input
		if in := conv.meta.instructions; in != nil && *in != "" && len(input) > 0 && input[0].Role == llm.RoleSystem {
			input = input[1:]
		}
		if len(input) <= best.Count {
			continue // it cannot share more than the best so far
		}
		n := 0
		for n < len(input) && at+n < len(msgs) && sameMessage(input[n], msgs[at+n]) {
			n++
		}
		if n > best.Count || (n == best.Count && n > 0 && id < best.ID) {
			best, base = actors.SharedInput{ID: id, From: at, Count: n}, input
		}
	}
	copy(msgs[at:at+best.Count], base[:best.Count])
	return best
}

// sameMessage reports whether two messages are the same turn.
func sameMessage(a, b llm.Message) bool {
	return a.Role == b.Role && a.Content == b.Content && a.ToolCallID == b.ToolCallID && a.Name == b.Name && slices.Equal(a.ToolCalls, b.ToolCalls)
}

// appendCall adds a function call to the assistant turn at the end of
// out, or as an assistant turn of its own.
func appendCall(out []llm.Message, call llm.ToolCall) []llm.Message {
	if n := len(out); n > 0 && out[n-1].Role == llm.RoleAssistant {
		out[n-1].ToolCalls = append(slices.Clip(out[n-1].ToolCalls), call)
		return out
	}
	return append(out, llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{call}})
}

// appendInputItem adds the input item ref names (as inputItemsOf lists
// them) to out: a message as the turn it was, a function call joining the
// assistant turn before it, a function call output as the tool turn. It
// reports false when conv's input has no such item.
func appendInputItem(out []llm.Message, conv *respConv, ref itemRef) ([]llm.Message, bool) {
	from := min(conv.meta.inputFrom, len(conv.input))
	msgs := conv.input[from:]
	if ref.place >= len(msgs) {
		return out, false
	}
	m := msgs[ref.place]
	switch ref.prefix {
	case prefixMessage:
		if m.Role == llm.RoleTool || (m.Content == "" && len(m.ToolCalls) > 0) {
			return out, false
		}
		return append(out, llm.Message{Role: m.Role, Content: m.Content, Name: m.Name}), true
	case "fc_":
		if ref.call < 0 || ref.call >= len(m.ToolCalls) {
			return out, false
		}
		return appendCall(out, m.ToolCalls[ref.call]), true
	case "fco_":
		if m.Role != llm.RoleTool {
			return out, false
		}
		return append(out, m), true
	}
	return out, false
}

// itemRef is a parsed item id.
type itemRef struct {
	prefix  string // msg_, rs_, fc_ or fco_
	request string // the engine id of the response it belongs to
	// input: an input item (<prefix><id>_in<place>[_<call>]), else an
	// output item.
	input       bool
	place, call int
}

// parseItemID reads an item id: an output item, msg_<id>, msg_<id>_<n>,
// rs_<id>, rs_<id>_<n>, fc_<id>_<index>, or an input item, msg_<id>_in<n>,
// fc_<id>_in<n>_<j>, fco_<id>_in<n>.
func parseItemID(itemID string) (itemRef, bool) {
	var ref itemRef
	var rest string
	var ok bool
	for _, p := range []string{prefixMessage, "rs_", "fco_", "fc_"} {
		if rest, ok = strings.CutPrefix(itemID, p); ok {
			ref.prefix = p
			break
		}
	}
	if !ok || rest == "" {
		return ref, false
	}
	if i := strings.LastIndex(rest, "_in"); i > 0 && ref.prefix != "rs_" {
		place, call, isCall := strings.Cut(rest[i+len("_in"):], "_")
		n, err := strconv.Atoi(place)
		j := 0
		if err == nil && isCall {
			j, err = strconv.Atoi(call)
		}
		if err == nil && n >= 0 && j >= 0 && isCall == (ref.prefix == "fc_") && digits(place) && (!isCall || digits(call)) {
			ref.request, ref.input, ref.place, ref.call = rest[:i], true, n, j
			return ref, len(ref.request) <= maxIDBytes
		}
	}
	if ref.prefix == "fco_" {
		return ref, false
	}
	if i := strings.LastIndexByte(rest, '_'); i > 0 {
		if _, err := strconv.Atoi(rest[i+1:]); err == nil {
			rest = rest[:i]
		}
	}
	ref.request = rest
	return ref, rest != "" && len(rest) <= maxIDBytes
}

// digits reports a non-empty string of ASCII digits.
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
