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
	"strconv"
	"strings"
	"sync"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/labstack/echo/v4"
)

// Limits on metadata, so a snapshot stays small.
const (
	maxMetadataEntries  = 64
	maxMetadataKeyBytes = 64
	maxMetadataValBytes = 512
	maxModelBytes       = 256
	maxIDBytes          = 128
)

func (s *Server) submit(c echo.Context) error {
	if s.draining.Load() {
		return apiError(stdhttp.StatusServiceUnavailable, CodeShuttingDown, "the server is shutting down")
	}
	spec, err := s.readSubmit(c.Request())
	if err != nil {
		return err
	}
	snap, err := s.eng.Submit(c.Request().Context(), tenant(c), spec)
	if err != nil {
		return s.engineError(err, snap)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/requests/"+snap.ID)
	return c.JSON(stdhttp.StatusAccepted, s.snapshotJSON(snap))
}

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
	case body.Prompt == nil:
		return bad("prompt is required")
	case strings.TrimSpace(*body.Prompt) == "":
		return bad("prompt must not be empty")
	case len(*body.Prompt) > s.cfg.MaxPromptBytes:
		return actors.Spec{}, apiError(stdhttp.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			"the prompt is %d bytes; the limit is %d", len(*body.Prompt), s.cfg.MaxPromptBytes)
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
	}
	spec := actors.Spec{
		Model:    body.Model,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: *body.Prompt}},
		Metadata: body.Metadata,
	}
	if body.MaxTokens != nil {
		spec.MaxTokens = *body.MaxTokens
	}
	if body.OnDisconnect != nil {
		var p model.DisconnectPolicy
		if err := p.UnmarshalText([]byte(*body.OnDisconnect)); err != nil || *body.OnDisconnect == "" {
			return bad(`on_disconnect must be "continue" or "cancel", got %q`, *body.OnDisconnect)
		}
		spec.OnDisconnect = p
	}
	return spec, nil
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
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
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
func (s *Server) events(c echo.Context) error {
	id := c.Param("id")
	cursor, err := parseCursor(c.Request().Header.Get("Last-Event-ID"), c.QueryParams()["after"])
	if err != nil {
		return err
	}
	if !plausibleID(id) {
		return notFound()
	}
	ctx := c.Request().Context()
	sub, err := s.eng.Subscribe(ctx, id, tenant(c), cursor)
	if err != nil {
		return s.engineError(err, actors.Snapshot{})
	}
	defer sub.Close()
	if s.streamDone != nil {
		defer s.streamDone()
	}
	if sub.Exhausted() {
		return c.NoContent(stdhttp.StatusNoContent)
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(stdhttp.StatusOK)
	w.Flush()

	for {
		records, err := s.next(ctx, sub)
		switch {
		case err == nil:
		case errors.Is(err, errHeartbeat):
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return nil
			}
			w.Flush()
			continue
		default:
			// The client left (ctx), or the request stopped without an
			// end for us: nothing more can be said on this stream.
			return nil
		}
		// Coalesce: everything that is ready goes out in one write. The
		// buffer is borrowed only for the write, so an idle stream holds
		// none.
		buf := writeBuffers.Get().(*[]byte)
		b := (*buf)[:0]
		for _, r := range records {
			b = appendEvent(b, r)
		}
		_, err = w.Write(b)
		if cap(b) <= 64<<10 { // do not keep a burst's buffer around
			*buf = b
			writeBuffers.Put(buf)
		}
		if err != nil {
			return nil
		}
		w.Flush()
		if records[len(records)-1].Kind == model.KindEnd {
			return nil
		}
	}
}

var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

var errHeartbeat = errors.New("heartbeat due")

// next waits for records at most one heartbeat interval.
func (s *Server) next(ctx context.Context, sub *actors.Subscription) ([]model.Record, error) {
	if s.cfg.Heartbeat <= 0 {
		return sub.Next(ctx)
	}
	hctx, cancel := context.WithTimeoutCause(ctx, s.cfg.Heartbeat, errHeartbeat)
	defer cancel()
	recs, err := sub.Next(hctx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(hctx), errHeartbeat) {
		return nil, errHeartbeat
	}
	return recs, err
}
