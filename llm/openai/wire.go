package openai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/armistice-go/armistice/llm"
)

// The request is encoded in body.go and sent in post.go; the stream's
// events are decoded here. openai-go's own stream decoder parses every chunk with a reflection-heavy JSON layer
// that cost about 20 µs per chunk in cmd/armistice-bench's profiles and
// capped a relay near 50k tokens/s on two cores; the chunks need a few
// fields, which encoding/json decodes into the small types below.

// wireChunk is the part of a chat.completion.chunk the provider reads.
type wireChunk struct {
	Choices []wireChoice    `json:"choices"`
	Usage   *wireUsage      `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type wireChoice struct {
	Index        int64         `json:"index"`
	Delta        wireDelta     `json:"delta"`
	Logprobs     *wireLogprobs `json:"logprobs"`
	FinishReason string        `json:"finish_reason"`
}

// wireDelta is a choice's delta. A plain text chunk sets only Content;
// the other fields cost nothing when their keys are absent.
type wireDelta struct {
	Content string `json:"content"`
	// ReasoningContent (vLLM, DeepSeek, llama.cpp) and Reasoning (newer
	// vLLM, OpenRouter, Ollama) carry a reasoning model's thinking.
	ReasoningContent lenientString  `json:"reasoning_content"`
	Reasoning        lenientString  `json:"reasoning"`
	ToolCalls        []wireToolCall `json:"tool_calls"`
	// FunctionCall is the legacy single function call (finish_reason
	// "function_call").
	FunctionCall *wireFunction `json:"function_call"`
}

type wireToolCall struct {
	Index    int          `json:"index"`
	ID       string       `json:"id"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// wireLogprobs are a choice's logprobs; llm.TokenLogprob has OpenAI's
// field names, so the tokens decode straight into it.
type wireLogprobs struct {
	Content []llm.TokenLogprob `json:"content"`
}

// lenientString is a string field that some servers fill with another
// shape (an object, an array): anything but a JSON string reads as empty
// rather than failing the whole chunk, since the field is optional
// commentary, never the answer.
type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = lenientString(v)
	}
	return nil
}

type wireUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// eventError is an error object inside the stream; data is the event.
type eventError struct{ data []byte }

func (e *eventError) Error() string { return "received error while streaming" }

// maxEvent bounds one event, like openai-go's decoder.
const maxEvent = 1 << 20

// chunkReader reads Server-Sent Events from a Chat Completions response
// body and decodes each data payload. It implements upstream.SDKStream.
type chunkReader struct {
	body io.ReadCloser
	r    *bufio.Reader
	data []byte // the event's data lines
	long []byte // a line longer than the reader's buffer
	cur  wireChunk
	err  error
	done bool
	// waitErr is what the read in Wait ended with when it brought
	// nothing; Next reports it in place of reading again.
	waitErr error
}

// readBuffer holds a typical chunk line (a few hundred bytes) with room
// to spare; longer lines are gathered in long. The connection below keeps
// a 4 KB buffer of its own, and a silent stream holds both for its life.
const readBuffer = 1024

func newChunkReader(res *http.Response) *chunkReader {
	return &chunkReader{body: res.Body, r: bufio.NewReaderSize(res.Body, readBuffer)}
}

// Next decodes the next event. It returns false at "data: [DONE]", at the
// end of the body (Err nil), or on an error (Err set): a read error, an
// event over maxEvent (bufio.ErrTooLong), malformed JSON (an encoding/json
// error), or an error object (*eventError).
func (c *chunkReader) Next() bool {
	if c.done || c.err != nil {
		return false
	}
	c.data = c.data[:0]
	for {
		line, err := c.readLine()
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: gather it, within maxEvent.
			c.long = append(c.long[:0], line...)
			for err == bufio.ErrBufferFull {
				if len(c.long) > maxEvent {
					c.err = bufio.ErrTooLong
					return false
				}
				line, err = c.r.ReadSlice('\n')
				c.long = append(c.long, line...)
			}
			line = c.long
		}
		eof := err == io.EOF
		if err != nil && !eof {
			c.err = err
			return false
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if len(c.data) > 0 {
				return c.dispatch()
			}
		case line[0] == ':':
			// a comment (keep-alive)
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			if bytes.Equal(field, []byte("data")) {
				value = bytes.TrimPrefix(value, []byte(" "))
				if len(c.data)+len(value) > maxEvent {
					c.err = bufio.ErrTooLong
					return false
				}
				if len(c.data) > 0 {
					c.data = append(c.data, '\n')
				}
				c.data = append(c.data, value...)
			}
			// event:, id:, retry: carry nothing the provider needs
		}
		if eof {
			// An event without its blank line is incomplete and dropped,
			// as EventSource does; the body simply ended.
			c.done = true
			return false
		}
	}
}

// Wait returns once the next event's first byte is buffered or the body
// ended (llm.Waiter, through upstream.Stream): between events the reading
// goroutine parks here, above Next and the JSON decoder.
func (c *chunkReader) Wait() {
	if c.done || c.err != nil || c.waitErr != nil || c.r.Buffered() > 0 {
		return
	}
	if _, err := c.r.Peek(1); err != nil && c.r.Buffered() == 0 {
		c.waitErr = err
	}
}

// readLine is the next line from the body; a read error Wait met is
// reported once the buffer is empty, not read again.
func (c *chunkReader) readLine() ([]byte, error) {
	if c.waitErr != nil && c.r.Buffered() == 0 {
		return nil, c.waitErr
	}
	return c.r.ReadSlice('\n')
}

func (c *chunkReader) dispatch() bool {
	if bytes.HasPrefix(c.data, []byte("[DONE]")) {
		c.done = true
		return false
	}
	c.reset()
	if !decodeChunkFast(c.data, &c.cur) {
		// Outside the fast decoder's shapes: encoding/json is the
		// reference, its result or its error.
		c.reset()
		if err := json.Unmarshal(c.data, &c.cur); err != nil {
			c.err = err
			return false
		}
	}
	if len(c.cur.Error) > 0 && !bytes.Equal(c.cur.Error, []byte("null")) {
		c.err = &eventError{data: bytes.Clone(c.data)}
		return false
	}
	return true
}

// reset empties c.cur for the next decoding but keeps the choices' array:
// encoding/json appends into its capacity without zeroing, so the
// elements are cleared first. What a chunk handed out refers to (strings,
// the logprobs and tool-call slices) is allocated afresh by each
// decoding, never reused. Not inlined: inlined into dispatch, it made
// the goroutine reading a stream keep a doubled stack
// (BenchmarkStackPerOpenStream: 26 → 38 KB per stream), most likely a
// frame on the way into json.Unmarshal crossing a stack-growth step.
//
//go:noinline
func (c *chunkReader) reset() {
	choices := c.cur.Choices[:cap(c.cur.Choices)]
	clear(choices)
	c.cur = wireChunk{Choices: choices[:0]}
}

func (c *chunkReader) Current() wireChunk { return c.cur }
func (c *chunkReader) Err() error         { return c.err }
func (c *chunkReader) Close() error       { return c.body.Close() }

// asEventError reports whether err is an error object from the stream.
func asEventError(err error) (*eventError, bool) {
	var e *eventError
	return e, errors.As(err, &e)
}
