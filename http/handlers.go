package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	stdhttp "net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/labstack/echo/v4"
)

// CodeUnsupportedSetting answers a submit that sets a field the provider
// cannot honour; the message names the field.
const CodeUnsupportedSetting = "unsupported_setting"

// Limits on metadata, so a snapshot stays small.
const (
	maxMetadataEntries  = 64
	maxMetadataKeyBytes = 64
	maxMetadataValBytes = 512
	maxModelBytes       = 256
	maxIDBytes          = 128
)

// submit serves POST /v1/requests: the snapshot (202), or, for a client
// that accepts text/event-stream, the request's event stream from its
// first event in the same round trip. The stream parks under this frame,
// which holds little: the parsing and the submit are in functions of
// their own.
func (s *Server) submit(c echo.Context) error {
	if !acceptsEventStream(c.Request()) {
		return s.submitSnapshot(c)
	}
	sub, err := s.openSubmitted(c)
	if err != nil {
		return err
	}
	return s.serveStream(c, sub)
}

// submitSnapshot creates the request and answers its snapshot.
//
//go:noinline
func (s *Server) submitSnapshot(c echo.Context) error {
	spec, err := s.submitSpec(c)
	if err != nil {
		return err
	}
	snap, err := s.eng.Submit(c.Request().Context(), tenant(c), spec)
	if err != nil {
		return s.submitError(err, snap)
	}
	MarkSubmitted(c, snap.ID, snap.Replayed)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/requests/"+snap.ID)
	return c.JSON(stdhttp.StatusAccepted, s.snapshotJSON(snap))
}

// submitSpec reads and checks a submit.
func (s *Server) submitSpec(c echo.Context) (actors.Spec, error) {
	if s.draining.Load() {
		return actors.Spec{}, apiError(stdhttp.StatusServiceUnavailable, CodeShuttingDown, "the server is shutting down")
	}
	spec, err := s.readSubmit(c.Request())
	if err != nil {
		return actors.Spec{}, err
	}
	key, ok := IdempotencyKey(c.Request())
	if !ok {
		return actors.Spec{}, apiError(stdhttp.StatusBadRequest, CodeInvalidRequest, "the Idempotency-Key header must be at most %d printable ASCII characters", maxIdempotencyKeyBytes)
	}
	spec.IdempotencyKey, spec.TraceID = key, TraceID(c)
	return spec, nil
}

// acceptsEventStream reports whether a submit asks for the request's
// event stream as its answer: an Accept header that names
// text/event-stream (a client that accepts anything gets the snapshot).
func acceptsEventStream(r *stdhttp.Request) bool {
	for _, v := range r.Header.Values(echo.HeaderAccept) {
		for part := range strings.SplitSeq(v, ",") {
			media, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(media), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

// openSubmitted creates the request with its reader attached, in one
// command to the engine, and names it in Location before the first event.
// A client that loses the stream resumes it with GET
// /v1/requests/{id}/events and Last-Event-ID, as with any stream.
//
//go:noinline
func (s *Server) openSubmitted(c echo.Context) (*actors.Subscription, error) {
	spec, err := s.submitSpec(c)
	if err != nil {
		return nil, err
	}
	snap, sub, err := s.eng.SubmitAndSubscribe(c.Request().Context(), tenant(c), spec)
	if err != nil && snap.ID == "" {
		return nil, s.submitError(err, snap)
	}
	MarkSubmitted(c, snap.ID, snap.Replayed)
	if err != nil {
		return nil, s.engineError(err, snap)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/requests/"+snap.ID)
	return sub, nil
}

// submitError names the setting the provider cannot honour, or maps the
// engine's error. (A function of its own, so that the errors.As target
// does not escape on every submit.)
func (s *Server) submitError(err error, snap actors.Snapshot) error {
	var ue *llm.UnsupportedError
	if errors.As(err, &ue) {
		return &APIError{Status: stdhttp.StatusBadRequest, Code: CodeUnsupportedSetting, Err: err,
			Message: fmt.Sprintf("the provider %q cannot honour %s", ue.Provider, ue.Field)}
	}
	return s.engineError(err, snap)
}

// reservedMetadataPrefix starts the metadata keys the OpenAI routes use.
const reservedMetadataPrefix = "openai."

// readSubmit checks and decodes a submit body. Every way it can be wrong
// gets its own message.
func (s *Server) readSubmit(r *stdhttp.Request) (actors.Spec, error) {
	if err := requireJSON(r); err != nil {
		return actors.Spec{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		var maxErr *stdhttp.MaxBytesError
		if errors.As(err, &maxErr) || isBodyLimit(err) {
			return actors.Spec{}, apiError(stdhttp.StatusRequestEntityTooLarge, CodePayloadTooLarge, "the body is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return actors.Spec{}, apiError(stdhttp.StatusBadRequest, CodeInvalidRequest, "could not read the body")
	}
	if int64(len(data)) > s.cfg.MaxBodyBytes {
		return actors.Spec{}, apiError(stdhttp.StatusRequestEntityTooLarge, CodePayloadTooLarge, "the body is larger than %d bytes", s.cfg.MaxBodyBytes)
	}
	var body submitBody
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return actors.Spec{}, apiError(stdhttp.StatusBadRequest, CodeInvalidRequest, "the body is not a valid request: %s", jsonProblem(err))
	}
	if dec.More() || dec.InputOffset() < int64(len(bytes.TrimRight(data, " \t\r\n"))) {
		return actors.Spec{}, apiError(stdhttp.StatusBadRequest, CodeInvalidRequest, "the body holds more than one JSON value")
	}
	return s.specOf(body)
}

func (s *Server) specOf(body submitBody) (actors.Spec, error) {
	bad := func(format string, args ...any) (actors.Spec, error) {
		return actors.Spec{}, apiError(stdhttp.StatusBadRequest, CodeInvalidRequest, format, args...)
	}
	switch {
	case body.Prompt == nil && len(body.Messages) == 0:
		return bad("prompt or messages is required")
	case body.Prompt != nil && len(body.Messages) > 0:
		return bad("send prompt or messages, not both")
	case body.Prompt != nil && strings.TrimSpace(*body.Prompt) == "":
		return bad("prompt must not be empty")
	case len(body.Model) > maxModelBytes:
		return bad("model is longer than %d bytes", maxModelBytes)
	case body.MaxTokens != nil && *body.MaxTokens <= 0:
		return bad("max_tokens must be a positive integer, got %d", *body.MaxTokens)
	case len(body.Metadata) > maxMetadataEntries:
		return bad("metadata has %d entries; the limit is %d", len(body.Metadata), maxMetadataEntries)
	}
	for k, v := range body.Metadata {
		if k == "" || len(k) > maxMetadataKeyBytes || len(v) > maxMetadataValBytes {
			return bad("metadata keys must be 1 to %d bytes and values at most %d bytes", maxMetadataKeyBytes, maxMetadataValBytes)
		}
		if strings.HasPrefix(k, reservedMetadataPrefix) {
			// The OpenAI routes keep a Response's fields under these keys;
			// a native request must not pose as one.
			return bad("metadata key %q is reserved (keys starting with %q belong to the OpenAI routes)", k, reservedMetadataPrefix)
		}
	}
	spec := actors.Spec{Model: body.Model, Metadata: body.Metadata}
	if body.Prompt != nil {
		spec.Messages = []llm.Message{{Role: llm.RoleUser, Content: *body.Prompt}}
	} else {
		spec.Messages = body.Messages
	}
	size := 0
	for i, m := range spec.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleUser, llm.RoleAssistant:
		case llm.RoleTool:
			if m.ToolCallID == "" {
				return bad("messages[%d] is a tool result without tool_call_id", i)
			}
		default:
			return bad(`messages[%d].role must be "system", "user", "assistant" or "tool", got %q`, i, truncate(string(m.Role), 32))
		}
		for j, tc := range m.ToolCalls {
			if m.Role != llm.RoleAssistant || tc.ID == "" || tc.Name == "" {
				return bad("messages[%d].tool_calls[%d] needs an assistant message, an id and a name", i, j)
			}
		}
		size += len(m.Content)
	}
	if size > s.cfg.MaxPromptBytes {
		return actors.Spec{}, apiError(stdhttp.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			"the prompt is %d bytes; the limit is %d", size, s.cfg.MaxPromptBytes)
	}
	if body.MaxTokens != nil {
		spec.MaxTokens = *body.MaxTokens
		spec.Settings.MaxTokensField = llm.FieldMaxTokens
	}
	settings, err := settingsOf(body)
	if err != nil {
		return actors.Spec{}, err
	}
	settings.MaxTokensField = spec.Settings.MaxTokensField
	spec.Settings = settings
	if body.OnDisconnect != nil {
		var p model.DisconnectPolicy
		if err := p.UnmarshalText([]byte(*body.OnDisconnect)); err != nil || *body.OnDisconnect == "" {
			return bad(`on_disconnect must be "continue" or "cancel", got %q`, *body.OnDisconnect)
		}
		spec.OnDisconnect = p
	}
	return spec, nil
}

// settingsOf reads and checks the generation settings of a submit.
func settingsOf(body submitBody) (llm.Settings, error) {
	bad := func(format string, args ...any) (llm.Settings, error) {
		return llm.Settings{}, apiError(stdhttp.StatusBadRequest, CodeInvalidRequest, format, args...)
	}
	ranges := []struct {
		name   string
		v      *float64
		lo, hi float64
	}{
		{"temperature", body.Temperature, 0, 2}, {"top_p", body.TopP, 0, 1},
		{"presence_penalty", body.PresencePenalty, -2, 2}, {"frequency_penalty", body.FrequencyPenalty, -2, 2},
	}
	for _, r := range ranges {
		if r.v != nil && (*r.v < r.lo || *r.v > r.hi) {
			return bad("%s must be from %g to %g, got %g", r.name, r.lo, r.hi, *r.v)
		}
	}
	for k, v := range body.LogitBias {
		if v < -100 || v > 100 {
			return bad("logit_bias values must be from -100 to 100, got %g for %q", v, truncate(k, 20))
		}
	}
	switch {
	case body.TopK != nil && *body.TopK < 1:
		return bad("top_k must be a positive integer, got %d", *body.TopK)
	case body.TopLogprobs != nil && (*body.TopLogprobs < 0 || *body.TopLogprobs > 20):
		return bad("top_logprobs must be from 0 to 20, got %d", *body.TopLogprobs)
	}
	s := llm.Settings{
		Temperature: body.Temperature, TopP: body.TopP, TopK: body.TopK, Seed: body.Seed,
		PresencePenalty: body.PresencePenalty, FrequencyPenalty: body.FrequencyPenalty,
		User: body.User, ServiceTier: body.ServiceTier, ReasoningEffort: body.ReasoningEffort,
		Logprobs: body.Logprobs || body.TopLogprobs != nil, TopLogprobs: body.TopLogprobs,
		ResponseFormat: body.ResponseFormat, Tools: body.Tools, ParallelToolCalls: body.ParallelToolCalls,
	}
	if len(body.LogitBias) > 0 {
		s.LogitBias = body.LogitBias
	}
	if rf := s.ResponseFormat; rf != nil && (rf.Type == llm.FormatText || rf.Type == "") {
		s.ResponseFormat = nil // the default, asked for explicitly
	}
	if stop := bytes.TrimSpace(body.Stop); len(stop) > 0 && !bytes.Equal(stop, []byte("null")) {
		var list []string // not &s.Stop: s would escape on every submit
		if err := json.Unmarshal(stop, &list); err != nil {
			var one string
			if json.Unmarshal(stop, &one) != nil {
				return bad("stop must be a string or an array of strings")
			}
			list = []string{one}
		}
		s.Stop = list
	}
	s.Stop = slices.DeleteFunc(s.Stop, func(x string) bool { return x == "" })
	if len(s.Stop) == 0 {
		s.Stop = nil
	}
	if len(s.Stop) > 4 {
		return bad("stop holds at most 4 sequences, got %d", len(s.Stop))
	}
	if tc := bytes.TrimSpace(body.ToolChoice); len(tc) > 0 && !bytes.Equal(tc, []byte("null")) {
		var mode string
		var named struct {
			Name string `json:"name"`
		}
		switch {
		case json.Unmarshal(tc, &mode) == nil:
			s.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceMode(mode)}
		case json.Unmarshal(tc, &named) == nil:
			s.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: named.Name}
		default:
			return bad(`tool_choice must be "auto", "none", "required" or {"name": ...}`)
		}
	}
	if err := s.Validate(); err != nil {
		return bad("%s", strings.TrimPrefix(err.Error(), llm.ErrInvalidRequest.Error()+": "))
	}
	return s, nil
}

// requireJSON accepts application/json, with or without parameters, and
// any +json media type.
func requireJSON(r *stdhttp.Request) error {
	ct := r.Header.Get(echo.HeaderContentType)
	media, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !(media == echo.MIMEApplicationJSON || strings.HasSuffix(media, "+json")) {
		return apiError(stdhttp.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the body must be application/json")
	}
	return nil
}

// isBodyLimit recognises echo's body-limit error, which surfaces through
// the body reader.
func isBodyLimit(err error) bool {
	var he *echo.HTTPError
	return errors.As(err, &he) && he.Code == stdhttp.StatusRequestEntityTooLarge
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("the body must be a JSON object, got %s", jsonValueWords(typ.Value))
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q: expected %s, got %s", typ.Field, jsonTypeWords(typ.Type), jsonValueWords(typ.Value))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// jsonTypeWords says in words what JSON a Go type is decoded from.
func jsonTypeWords(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "another type"
}

// jsonValueWords names the kind of JSON value encoding/json found
// (UnmarshalTypeError.Value: "array", "string", "number 1.5", ...).
func jsonValueWords(v string) string {
	switch {
	case v == "array":
		return "an array"
	case v == "object":
		return "a JSON object"
	case v == "string":
		return "a string"
	case v == "bool":
		return "true or false"
	case strings.HasPrefix(v, "number"):
		return "a number"
	}
	return v
}

func (s *Server) status(c echo.Context) error {
	id := c.Param("id")
	if !plausibleID(id) {
		return notFound()
	}
	snap, err := s.eng.Status(c.Request().Context(), id, tenant(c))
	if err != nil {
		return s.engineError(err, snap)
	}
	return c.JSON(stdhttp.StatusOK, s.snapshotJSON(snap))
}

func (s *Server) cancel(c echo.Context) error {
	id := c.Param("id")
	if !plausibleID(id) {
		return notFound()
	}
	snap, err := s.eng.Cancel(c.Request().Context(), id, tenant(c))
	if err != nil {
		return s.engineError(err, snap)
	}
	return c.JSON(stdhttp.StatusOK, s.snapshotJSON(snap))
}

// plausibleID rejects ids no engine would hand out, without asking it.
func plausibleID(id string) bool { return id != "" && len(id) <= maxIDBytes }

// parseCursor reads the resume point: the larger of the Last-Event-ID
// header and the after parameter, each optional.
func parseCursor(header string, query []string) (uint64, error) {
	var cursor uint64
	values := append([]string{header}, query...)
	for i, v := range values {
		v = strings.TrimSpace(v)
		if v == "" && i == 0 {
			continue // no Last-Event-ID
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, apiError(stdhttp.StatusBadRequest, CodeInvalidCursor,
				"a cursor (Last-Event-ID or after) must be a non-negative integer, got %q", truncate(v, 32))
		}
		cursor = max(cursor, n)
	}
	return cursor, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// events streams the request's log as Server-Sent Events.
//
// The work is split into callees so that this frame stays small: net/http's
// first header write (chunkWriter.writeHeader alone has a 2.8 KB frame)
// then fits in the connection goroutine's 8 KB stack, which otherwise
// doubles to 16 KB and, parked under echo's middleware for the stream's
// whole life, never shrinks back (about 8 KB per attached stream).
func (s *Server) events(c echo.Context) error {
	sub, err := s.subscribe(c)
	if err != nil {
		return err
	}
	return s.serveStream(c, sub)
}

// subscribe reads the cursor and attaches to the request.
//
//go:noinline
func (s *Server) subscribe(c echo.Context) (*actors.Subscription, error) {
	id := c.Param("id")
	cursor, err := parseCursor(c.Request().Header.Get("Last-Event-ID"), c.QueryParams()["after"])
	if err != nil {
		return nil, err
	}
	if !plausibleID(id) {
		return nil, notFound()
	}
	sub, err := s.eng.Subscribe(c.Request().Context(), id, tenant(c), cursor)
	if err != nil {
		return nil, s.engineError(err, actors.Snapshot{})
	}
	return sub, nil
}

// startStream sends the event stream's headers.
//
//go:noinline
func startStream(w *echo.Response) {
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(stdhttp.StatusOK)
	w.Flush()
}

// serveStream answers with sub's event stream, records as they come
// until the end record, the client leaves, or the request stops without
// an end for this subscriber (204 when sub is exhausted), and closes sub.
//
//go:noinline
func (s *Server) serveStream(c echo.Context, sub *actors.Subscription) error {
	defer sub.Close()
	if s.streamDone != nil {
		defer s.streamDone()
	}
	if sub.Exhausted() {
		return c.NoContent(stdhttp.StatusNoContent)
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	startStream(c.Response())
	Pump(c.Request().Context(), c.Response(), sub, s.cfg.Heartbeat, appendEvents)
	return nil
}

func appendEvents(b []byte, records []model.Record) []byte {
	for _, r := range records {
		b = appendEvent(b, r)
	}
	return b
}

// StreamOutcome says how Pump ended.
type StreamOutcome uint8

// The outcomes of Pump.
const (
	StreamEnded       StreamOutcome = iota + 1 // the end record was written
	StreamClientGone                           // the client left, or a write failed (WriteTimeout included)
	StreamRequestGone                          // the request stopped before its end reached the stream
)

// Pump is the one SSE write loop of both front doors (the native event
// stream and the OpenAI routes): it reads sub, encodes everything that is
// ready into one buffer with encode, writes it once and flushes, until the
// end record; while nothing comes for heartbeat (0: never) it writes
// ": ping". An encode that returns nothing writes nothing (a foreground
// OpenAI stream sends no byte before its first output). Every write goes
// through the server's WriteTimeout, so a client that stops reading ends
// the loop like one that left.
func Pump(ctx context.Context, w *echo.Response, sub *actors.Subscription, heartbeat time.Duration,
	encode func(b []byte, records []model.Record) []byte) StreamOutcome {
	hb := newHeartbeat(ctx, heartbeat)
	defer hb.stop()
	for {
		records, err := hb.next(sub)
		switch {
		case err == nil:
		case errors.Is(err, errHeartbeat):
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return StreamClientGone
			}
			w.Flush()
			continue
		case ctx.Err() != nil:
			return StreamClientGone
		default:
			// The request stopped without an end for us: nothing more
			// can be said on this stream.
			return StreamRequestGone
		}
		// Coalesce: everything that is ready goes out in one write,
		// encoded delivery after delivery (the records stay the log's,
		// never copied into one slice). The buffer is borrowed only for
		// the write, so an idle stream holds none.
		buf := writeBuffers.Get().(*[]byte)
		b := encode((*buf)[:0], records)
		for len(b) < coalesceBytes && records[len(records)-1].Kind != model.KindEnd {
			more, ok := sub.TryNextBatch()
			if !ok {
				break
			}
			records = more
			b = encode(b, records)
		}
		if len(b) > 0 {
			_, err = w.Write(b)
		}
		if cap(b) <= 64<<10 { // do not keep a burst's buffer around
			*buf = b
			writeBuffers.Put(buf)
		}
		if err != nil {
			return StreamClientGone
		}
		if len(b) > 0 {
			w.Flush()
		}
		if records[len(records)-1].Kind == model.KindEnd {
			return StreamEnded
		}
	}
}

// coalesceBytes is about how much one write of Pump holds before it
// stops taking deliveries that are already waiting: a fast stream goes
// out in writes of this size, and the buffer stays under the 64 KB the
// pool keeps.
const coalesceBytes = 32 << 10

var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

var errHeartbeat = errors.New("heartbeat due")

// heartbeat bounds each wait for records by the heartbeat interval. It
// keeps one timer per stream and resets it before each wait, instead of a
// context and a timer per wait: at a paced rate every token is its own
// wait.
type heartbeat struct {
	parent context.Context
	every  time.Duration
	ctx    context.Context // parent, cancelled with errHeartbeat when the timer fires
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

func newHeartbeat(ctx context.Context, every time.Duration) *heartbeat {
	h := &heartbeat{parent: ctx, every: every}
	if every > 0 {
		h.arm()
	}
	return h
}

// arm starts a fresh wait context and its timer (stopped until reset).
func (h *heartbeat) arm() {
	ctx, cancel := context.WithCancelCause(h.parent)
	h.ctx, h.cancel = ctx, cancel
	h.timer = time.AfterFunc(h.every, func() { cancel(errHeartbeat) })
}

func (h *heartbeat) stop() {
	if h.timer != nil {
		h.timer.Stop()
		h.cancel(nil)
	}
}

// next waits for records at most one heartbeat interval; errHeartbeat
// means the interval passed without any.
func (h *heartbeat) next(sub *actors.Subscription) ([]model.Record, error) {
	if h.every <= 0 {
		return sub.NextBatch(h.parent)
	}
	if h.ctx.Err() == nil {
		h.timer.Reset(h.every)
		recs, err := sub.NextBatch(h.ctx)
		if err == nil || h.parent.Err() != nil || !errors.Is(context.Cause(h.ctx), errHeartbeat) {
			return recs, err
		}
	} else if err := h.parent.Err(); err != nil {
		return nil, err
	}
	// The timer fired (during the wait, or just after the last one):
	// a heartbeat is due, and the next wait needs a fresh context.
	h.stop()
	h.arm()
	return nil, errHeartbeat
}
