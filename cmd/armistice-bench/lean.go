package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/armistice-go/armistice/llm"
)

// leanProvider is a diagnostic stand-in for llm/openai: the same Chat
// Completions streaming request, read with a hand-written SSE scanner
// instead of the SDK's reflective decoder. --provider lean runs both relays
// on it, to separate what the engine and server cost from what the SDK
// costs. It understands what the local upstream sends (content deltas,
// finish_reason, usage, error events, [DONE]), not every OpenAI feature.
type leanProvider struct {
	c   *http.Client
	url string // .../v1/chat/completions
}

func (p *leanProvider) Name() string { return "lean" }

type leanMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type leanRequest struct {
	Model         string          `json:"model"`
	Stream        bool            `json:"stream"`
	StreamOptions map[string]bool `json:"stream_options"`
	Messages      []leanMessage   `json:"messages"`
	MaxTokens     int             `json:"max_tokens,omitempty"`
}

func (p *leanProvider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	body := leanRequest{Model: req.Model, Stream: true, StreamOptions: map[string]bool{"include_usage": true}, MaxTokens: req.MaxTokens}
	for _, m := range req.Messages {
		body.Messages = append(body.Messages, leanMessage{Role: string(m.Role), Content: m.Content})
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	res, err := p.c.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lean: %w", ctx.Err())
		}
		return nil, fmt.Errorf("lean: %w: %w", llm.ErrUpstream, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("lean: %w: status %d", llm.ErrUpstream, res.StatusCode)
	}
	return &leanStream{ctx: ctx, body: res.Body, r: bufio.NewReader(res.Body)}, nil
}

type leanStream struct {
	ctx      context.Context
	body     io.ReadCloser
	r        *bufio.Reader
	finished bool
	end      error
}

var (
	leanContent = []byte(`"content":"`)
	leanFinish  = []byte(`"finish_reason":"`)
	leanUsage   = []byte(`"usage":{`)
	leanError   = []byte(`{"error"`)
)

func (s *leanStream) Recv() (llm.Chunk, error) {
	if s.end != nil {
		return llm.Chunk{}, s.end
	}
	for {
		if err := s.ctx.Err(); err != nil {
			return s.fail(fmt.Errorf("lean: %w", err))
		}
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			if s.ctx.Err() != nil {
				return s.fail(fmt.Errorf("lean: %w", s.ctx.Err()))
			}
			if s.finished && errors.Is(err, io.EOF) {
				return s.fail(io.EOF)
			}
			return s.fail(fmt.Errorf("lean: %w: %w", llm.ErrUpstream, llm.ErrStreamCut))
		}
		d, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("data: "))
		if !ok {
			continue
		}
		switch {
		case bytes.Equal(d, []byte("[DONE]")):
			if !s.finished {
				return s.fail(fmt.Errorf("lean: %w: %w", llm.ErrUpstream, llm.ErrStreamCut))
			}
			return s.fail(io.EOF)
		case bytes.HasPrefix(d, leanError):
			return s.fail(fmt.Errorf("lean: %w: error event", llm.ErrUpstream))
		}
		var c llm.Chunk
		if i := bytes.Index(d, leanUsage); i >= 0 {
			var u struct {
				Usage llm.Usage `json:"usage"`
			}
			if json.Unmarshal(d, &u) == nil {
				c.Usage = &u.Usage
			}
		}
		if !s.finished {
			if i := bytes.Index(d, leanContent); i >= 0 {
				t := d[i+len(leanContent):]
				j := bytes.IndexByte(t, '"')
				if j < 0 {
					return s.fail(fmt.Errorf("lean: %w: %w", llm.ErrUpstream, llm.ErrMalformed))
				}
				text := string(t[:j])
				if strings.IndexByte(text, '\\') >= 0 {
					var v string
					if json.Unmarshal(append(append([]byte{'"'}, t[:j]...), '"'), &v) == nil {
						text = v
					}
				}
				c.Text = text
			}
			if i := bytes.Index(d, leanFinish); i >= 0 {
				t := d[i+len(leanFinish):]
				if j := bytes.IndexByte(t, '"'); j >= 0 {
					switch string(t[:j]) {
					case "length":
						c.FinishReason = llm.FinishLength
					case "content_filter":
						c.FinishReason = llm.FinishContentFilter
					default:
						c.FinishReason = llm.FinishStop
					}
					s.finished = true
				}
			}
		}
		if c.Text != "" || c.FinishReason != llm.FinishNone || c.Usage != nil {
			return c, nil
		}
	}
}

func (s *leanStream) fail(err error) (llm.Chunk, error) {
	s.end = err
	s.body.Close()
	return llm.Chunk{}, err
}

func (s *leanStream) Close() error {
	if s.end == nil {
		s.end = errors.New("lean: closed")
	}
	return s.body.Close()
}
