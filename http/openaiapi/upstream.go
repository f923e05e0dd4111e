package openaiapi

import (
	"context"
	"errors"
	"fmt"
	stdhttp "net/http"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/model"
	"github.com/labstack/echo/v4"
)

// CodeUpstreamError is the code of an upstream failure that has no code
// of its own, and of every upstream 5xx.
const CodeUpstreamError = "upstream_error"

// mirrored reports whether end is an upstream refusal that came before
// any output, so that a front door that has sent nothing yet answers
// with the upstream's own status.
func mirrored(end *model.End) bool {
	u := end.Upstream
	return end.Status == model.StatusFailed && u != nil && u.BeforeOutput && u.Status >= 400
}

// upstreamError is how an upstream failure shows to an OpenAI client: a
// 4xx keeps its status, type, code and param (the client's request or
// account is at fault, and 429/408 tell it to retry); a 5xx becomes 502
// upstream_error naming the upstream status. Retry-After is kept.
func upstreamError(end *model.End) *Error {
	u := end.Upstream
	msg := failureMessage(end)
	if u == nil || u.Status == 0 {
		e := &Error{Status: stdhttp.StatusBadGateway, Type: TypeServer, Code: CodeUpstreamError, Message: msg}
		if u != nil && u.Code != "" {
			e.Code = u.Code
		}
		return e
	}
	e := &Error{Status: u.Status, Type: u.Type, Code: u.Code, Param: u.Param, Message: msg}
	if u.RetryAfter > 0 {
		e.RetryAfter = retryAfterSeconds(u.RetryAfter)
	}
	switch {
	case u.Status >= 500:
		e.Status, e.Type, e.Code, e.Param = stdhttp.StatusBadGateway, TypeServer, CodeUpstreamError, ""
		e.Message = fmt.Sprintf("The model provider answered %d (%s): %s", u.Status, stdhttp.StatusText(u.Status), msg)
	case e.Type == "" && u.Status == stdhttp.StatusTooManyRequests:
		e.Type = TypeRequests
	case e.Type == "":
		e.Type = TypeInvalidRequest
	}
	return e
}

// held is what a foreground stream read before it sent anything.
type held struct {
	recs []model.Record
	// err is the answer to send instead of a stream: the upstream's
	// refusal, or the request gone.
	err error
	// gone: the client left while nothing was sent.
	gone bool
}

// hold reads the subscription until the first output record, the end,
// or a heartbeat falls due, so that an upstream refusal before any
// output can still be answered with the upstream's status instead of a
// 200 stream (OpenAI answers a refused call with its status too).
func (a *api) hold(ctx context.Context, sub *actors.Subscription) held {
	var h held
	for {
		recs, err := a.next(ctx, sub)
		switch {
		case err == nil:
		case errors.Is(err, errHeartbeat):
			return h // a heartbeat commits the stream
		case ctx.Err() != nil:
			h.gone = true
			return h
		default:
			h.err = &Error{Status: stdhttp.StatusInternalServerError, Type: TypeServer, Code: CodeRequestGone, Err: err,
				Message: "The request stopped before its end could be sent."}
			return h
		}
		h.recs = append(h.recs, recs...)
		last := recs[len(recs)-1]
		if last.Kind == model.KindEnd && last.End != nil && mirrored(last.End) {
			h.err = upstreamError(last.End)
			return h
		}
		for _, r := range recs {
			if r.Kind != model.KindState {
				return h
			}
		}
	}
}

// startHeld sends the stream's headers and what hold read; ended is set
// when that already held the end.
//
// The headers go out with the held records in one write: a flush of the
// headers alone would cost a write, and the client a wake-up, on the way
// to the first token (TestTheHeadersLeaveWithTheFirstChunk).
func startHeld(c echo.Context, h held, encode func(b []byte, recs []model.Record) []byte) (ended bool, ok bool) {
	var b []byte
	if len(h.recs) > 0 {
		b = encode(nil, h.recs)
	}
	if len(b) == 0 {
		sseHeaders(c)
		return len(h.recs) > 0 && h.recs[len(h.recs)-1].Kind == model.KindEnd, true
	}
	setSSEHeaders(c)
	if _, err := c.Response().Write(b); err != nil {
		return false, false
	}
	c.Response().Flush()
	return h.recs[len(h.recs)-1].Kind == model.KindEnd, true
}
