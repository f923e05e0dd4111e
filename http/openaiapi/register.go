package openaiapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdhttp "net/http"
	"strconv"
	"strings"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/model"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// The echo context keys this package sets. accessLogTenantKey is the key
// the server's access log reads the tenant from.
const (
	tenantKey          = "openaiapi.tenant"
	accessLogTenantKey = "armistice.tenant"
)

// Limits on what a request may carry, as OpenAI documents them.
const (
	maxMetadataEntries  = 16
	maxMetadataKeyBytes = 64
	maxMetadataValBytes = 512
	maxModelBytes       = 256
	maxIDBytes          = 160
	// cancelTimeout bounds the cancel sent when a foreground client left.
	cancelTimeout = 5 * time.Second
)

// api holds the routes' dependencies. It keeps no state about requests:
// every call is one or two engine calls, and a stream is one
// subscription.
type api struct {
	cfg Config
	srv *armhttp.Server
	eng *actors.Engine
	log zerolog.Logger

	// streamDone, when set, runs as a streaming handler returns (tests).
	streamDone func()
}

// Register adds the OpenAI-compatible routes to srv's echo instance, and
// makes errors on them (including unknown methods, body limits and
// recovered panics) come out in OpenAI's shape. Call it once, before the
// server serves.
func Register(srv *armhttp.Server, cfg Config) error {
	_, err := register(srv, cfg)
	return err
}

func register(srv *armhttp.Server, cfg Config) (*api, error) {
	if srv == nil {
		return nil, fmt.Errorf("%w: nil server", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Models = append([]string(nil), cfg.Models...)
	a := &api{cfg: cfg, srv: srv, eng: srv.Engine(), log: cfg.Logger.With().Str("component", "openaiapi").Logger()}
	e := srv.Echo()
	// Auth is per route, as on the native routes, so that an unknown
	// method still answers 405.
	e.POST("/v1/chat/completions", streaming(a.chatCompletions), a.authenticate)
	e.POST("/v1/responses", streaming(a.createResponse), a.authenticate)
	e.GET("/v1/responses/:id", streaming(a.getResponse), a.authenticate)
	e.GET("/v1/responses/:id/input_items", a.inputItems, a.authenticate)
	e.DELETE("/v1/responses/:id", a.deleteResponse, a.authenticate)
	e.POST("/v1/responses/:id/cancel", a.cancelResponse, a.authenticate)
	e.GET("/v1/models", a.listModels, a.authenticate)
	e.GET("/v1/models/:model", a.getModel, a.authenticate)
	e.POST("/v1/responses/input_tokens", notServed, a.authenticate)
	e.POST("/v1/responses/compact", notServed, a.authenticate)
	next := e.HTTPErrorHandler
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if !owned(c.Request().URL.Path) {
			next(err, c)
			return
		}
		a.handleError(err, c)
	}
	return a, nil
}

// owned reports whether errors on path come out in OpenAI's shape: every
// path under /v1 but the native API's, so that an OpenAI SDK calling an
// endpoint Armistice does not serve reads a 404 it understands.
func owned(path string) bool {
	if path != "/v1" && !strings.HasPrefix(path, "/v1/") {
		return false
	}
	return path != nativePrefix && !strings.HasPrefix(path, nativePrefix+"/")
}

// nativePrefix is where the native API lives; its errors keep their shape.
const nativePrefix = "/v1/requests"

// notServed answers an OpenAI endpoint that Armistice does not implement
// but whose path would otherwise match one of its routes with a
// different method (POST /v1/responses/input_tokens is not a response id).
func notServed(c echo.Context) error {
	r := c.Request()
	return &Error{Status: stdhttp.StatusNotFound, Type: TypeInvalidRequest, Code: CodeNotFound,
		Message: fmt.Sprintf("Armistice does not serve %s %s (see docs/openai.md for what it serves)", r.Method, r.URL.Path)}
}

// authenticate resolves the Bearer key with the server's keys: the same
// tenants, so ids of other tenants answer 404 like unknown ones.
func (a *api) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tenant, ok := a.srv.TenantFor(c.Request())
		if !ok {
			msg := "Incorrect API key provided. You can find your API key in the server's configuration (ARMISTICE_API_KEYS)."
			if c.Request().Header.Get(echo.HeaderAuthorization) == "" {
				msg = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
			}
			return &Error{Status: stdhttp.StatusUnauthorized, Type: TypeInvalidRequest, Code: CodeInvalidAPIKey, Message: msg}
		}
		c.Set(tenantKey, tenant)
		c.Set(accessLogTenantKey, tenant)
		return next(c)
	}
}

func tenantOf(c echo.Context) string {
	t, _ := c.Get(tenantKey).(string)
	return t
}

// toError turns any error reaching the error handler on an owned route
// into an OpenAI-shaped one.
func toError(err error, r *stdhttp.Request) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case stdhttp.StatusNotFound:
			return &Error{Status: he.Code, Type: TypeInvalidRequest, Code: CodeNotFound,
				Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, truncate(r.URL.Path, 200)), Err: err}
		case stdhttp.StatusMethodNotAllowed:
			return &Error{Status: he.Code, Type: TypeInvalidRequest, Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, truncate(r.URL.Path, 200)), Err: err}
		case stdhttp.StatusRequestEntityTooLarge:
			return tooLarge(err)
		}
		if he.Code >= 400 && he.Code < 500 {
			return &Error{Status: he.Code, Type: TypeInvalidRequest, Code: CodeBadRequest, Message: fmt.Sprint(he.Message), Err: err}
		}
	}
	var ae *armhttp.APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == stdhttp.StatusRequestEntityTooLarge:
			return tooLarge(err)
		case ae.Status == stdhttp.StatusUnauthorized:
			return &Error{Status: ae.Status, Type: TypeInvalidRequest, Code: CodeInvalidAPIKey, Message: ae.Message, Err: err}
		case ae.Status == stdhttp.StatusTooManyRequests:
			return &Error{Status: ae.Status, Type: TypeRequests, Code: ae.Code, Message: ae.Message, RetryAfter: ae.RetryAfter, Err: err}
		case ae.Status >= 400 && ae.Status < 500:
			return &Error{Status: ae.Status, Type: TypeInvalidRequest, Code: ae.Code, Message: ae.Message, Err: err}
		default:
			return &Error{Status: ae.Status, Type: TypeServer, Code: ae.Code, Message: ae.Message, RetryAfter: ae.RetryAfter, Err: err}
		}
	}
	return internal(err)
}

func tooLarge(err error) *Error {
	return &Error{Status: stdhttp.StatusRequestEntityTooLarge, Type: TypeInvalidRequest, Code: CodeRequestTooLarge,
		Message: "The request body is too large.", Err: err}
}

// handleError writes err as {"error":{...}} unless the response has
// started, in which case the stream already said how it ended.
func (a *api) handleError(err error, c echo.Context) {
	oe := toError(err, c.Request())
	if c.Response().Committed {
		a.log.Debug().Err(err).Msg("error after the response started")
		return
	}
	if oe.Status >= 500 {
		a.log.Error().Err(oe).Str("path", c.Request().URL.Path).Msg("request failed")
	}
	h := c.Response().Header()
	if oe.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(oe.RetryAfter))
	}
	if oe.Status == stdhttp.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="armistice"`)
	}
	if c.Request().Method == stdhttp.MethodHead {
		err = c.NoContent(oe.Status)
	} else {
		err = writeJSON(c, oe.Status, oe.body())
	}
	if err != nil {
		a.log.Debug().Err(err).Msg("could not write the error")
	}
}

// readBody reads a request body of at most MaxBodyBytes.
func (a *api) readBody(r *stdhttp.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, a.cfg.MaxBodyBytes+1))
	if err != nil {
		var maxErr *stdhttp.MaxBytesError
		var he *echo.HTTPError
		if errors.As(err, &maxErr) || (errors.As(err, &he) && he.Code == stdhttp.StatusRequestEntityTooLarge) {
			return nil, tooLarge(err)
		}
		return nil, invalid("", CodeInvalidJSON, "We could not read the body of your request.")
	}
	if int64(len(data)) > a.cfg.MaxBodyBytes {
		return nil, tooLarge(nil)
	}
	return data, nil
}

// decodeJSON decodes one JSON object; unknown fields are ignored, as
// OpenAI's SDKs send many optional ones.
func decodeJSON(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return invalid("", CodeInvalidJSON, "We could not parse the JSON body of your request: the body is empty. The API expects a JSON object.")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return invalid("", CodeInvalidJSON, "We could not parse the JSON body of your request: malformed JSON at byte %d.", syn.Offset)
		case errors.As(err, &typ) && typ.Field != "":
			return invalid(typ.Field, CodeInvalidType, "Invalid type for '%s': expected %s, but got %s.", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		case errors.As(err, &typ):
			return invalid("", CodeInvalidJSON, "We could not parse the JSON body of your request: expected a JSON object, got %s.", typ.Value)
		}
		return invalid("", CodeInvalidJSON, "We could not parse the JSON body of your request.")
	}
	return nil
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return "another type"
}

// displayModel is the model a response names.
func (a *api) displayModel(snapModel string) string {
	if snapModel != "" {
		return snapModel
	}
	return a.cfg.Models[0]
}

// sseHeaders starts an event stream.
func sseHeaders(c echo.Context) {
	setSSEHeaders(c)
	c.Response().Flush()
}

// setSSEHeaders writes an event stream's status and headers into the
// response without flushing them: they leave with the first write that
// is flushed.
func setSSEHeaders(c echo.Context) {
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(stdhttp.StatusOK)
}

// outcome says how a stream ended.
type outcome uint8

const (
	outcomeEnded       outcome = iota + 1 // the end record was written
	outcomeClientGone                     // the client left, or a write failed
	outcomeRequestGone                    // the request stopped before its end reached us
)

// streamer streams an answer a handler has submitted and subscribed to.
type streamer func() error

// streaming turns a handler that may hand back a streamer into an echo
// handler that runs the stream after the handler has returned. A stream's
// goroutine parks in Pump for as long as the answer lasts, and keeps a
// stack sized by how deep it parks (the garbage collector halves a stack
// only while less than a quarter of it is in use): parsing and submitting
// take frames of 2–3 KB, which under the stream kept its goroutine on a
// 16 KB stack where 8 KB do (docs/benchmarks.md, "Idle memory").
func streaming(h func(echo.Context) (streamer, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		stream, err := h(c)
		if err != nil || stream == nil {
			return err
		}
		return stream()
	}
}

// stream writes sub's records as an SSE answer through encode and closes
// sub. A foreground stream sends nothing before the first output, so that
// an upstream refusal keeps its status, and cancels the request when its
// client leaves; a background stream starts at once and leaves the
// request running. requestGone encodes the event that tells the client
// the request went away.
func (a *api) stream(c echo.Context, sub *actors.Subscription, id string, foreground bool,
	encode func(b []byte, recs []model.Record) []byte, requestGone func(b []byte) []byte) error {
	defer sub.Close()
	if a.streamDone != nil {
		defer a.streamDone()
	}
	if foreground {
		if done, err := a.startForeground(c, sub, id, encode); done {
			return err
		}
	} else {
		sseHeaders(c)
	}
	switch a.pump(c, sub, encode) {
	case outcomeClientGone:
		if foreground {
			a.abandon(c.Request().Context(), id, tenantOf(c))
		}
	case outcomeRequestGone:
		if _, err := c.Response().Write(requestGone(nil)); err == nil {
			c.Response().Flush()
		}
	}
	return nil
}

// startForeground holds a foreground stream until its first output (see
// hold) and starts it; done reports that the answer is over already:
// refused (err), ended, or its client gone (the request is cancelled).
//
//go:noinline
func (a *api) startForeground(c echo.Context, sub *actors.Subscription, id string, encode func(b []byte, recs []model.Record) []byte) (done bool, err error) {
	ctx := c.Request().Context()
	h := a.hold(ctx, sub)
	switch {
	case h.gone:
		a.abandon(ctx, id, tenantOf(c))
		return true, nil
	case h.err != nil:
		return true, h.err
	}
	ended, ok := startHeld(c, h, encode)
	switch {
	case !ok:
		a.abandon(ctx, id, tenantOf(c))
		return true, nil
	case ended:
		return true, nil
	}
	return false, nil
}

// pump writes the subscription's records as encode renders them, one
// write and one flush per ready batch, with heartbeats while idle.
func (a *api) pump(c echo.Context, sub *actors.Subscription, encode func(b []byte, recs []model.Record) []byte) outcome {
	// The native API's write loop: one loop for both front doors.
	switch armhttp.Pump(c.Request().Context(), c.Response(), sub, a.cfg.Heartbeat, encode) {
	case armhttp.StreamEnded:
		return outcomeEnded
	case armhttp.StreamClientGone:
		return outcomeClientGone
	}
	return outcomeRequestGone
}

var errHeartbeat = errors.New("heartbeat due")

// next waits for records at most one heartbeat interval.
func (a *api) next(ctx context.Context, sub *actors.Subscription) ([]model.Record, error) {
	if a.cfg.Heartbeat <= 0 {
		return sub.Next(ctx)
	}
	hctx, cancel := context.WithTimeoutCause(ctx, a.cfg.Heartbeat, errHeartbeat)
	defer cancel()
	recs, err := sub.Next(hctx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(hctx), errHeartbeat) {
		return nil, errHeartbeat
	}
	return recs, err
}

// readToEnd reads the subscription until its end record (or until ctx
// ends), handing every batch to apply.
func readToEnd(ctx context.Context, sub *actors.Subscription, apply func([]model.Record)) error {
	for {
		recs, err := sub.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		apply(recs)
		if recs[len(recs)-1].Kind == model.KindEnd {
			return nil
		}
	}
}

// readTo reads the subscription until it holds record last (the log as
// it was when the subscription attached).
func readTo(ctx context.Context, sub *actors.Subscription, last uint64, apply func([]model.Record)) error {
	for sub.Cursor() < last {
		recs, err := sub.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		apply(recs)
	}
	return nil
}

// abandon cancels a foreground request whose client left before its end,
// so that the upstream call is aborted. The request's own context is
// gone, so the cancel gets its own bounded one.
func (a *api) abandon(ctx context.Context, id, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	_, err := a.eng.Cancel(ctx, id, owner)
	if err != nil && !errors.Is(err, actors.ErrAlreadyFinished) && !errors.Is(err, actors.ErrNotFound) {
		a.log.Warn().Err(err).Str("request_id", id).Msg("could not cancel after the client left")
	}
}
