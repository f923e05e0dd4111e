package openai

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func readerOf(body string) *chunkReader {
	return newChunkReader(&http.Response{Body: io.NopCloser(strings.NewReader(body))})
}

func TestChunkReaderFraming(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct {
		name  string
		body  string
		texts []string
		err   func(error) bool
	}{
		{"plain", "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n", []string{"a"}, nil},
		{"CRLF, comments, event and id lines", ": ping\r\nevent: chunk\r\nid: 7\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\r\n\r\n", []string{"b"}, nil},
		{"no space after the colon", "data:{\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\n", []string{"c"}, nil},
		{"data split over lines", "data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"d\"}}]}\n\n", []string{"d"}, nil},
		{"a line longer than the buffer", "data: {\"choices\":[{\"delta\":{\"content\":\"" + long + "\"}}]}\n\n", []string{long}, nil},
		{"blank lines between events", "\n\ndata: {\"choices\":[]}\n\n\n", []string{""}, nil},
		{"an event without its blank line is dropped", "data: {\"choices\":[{\"delta\":{\"content\":\"e\"}}]}", nil, nil},
		{"malformed JSON", "data: {\"choices\":[\n\n", nil, func(err error) bool {
			var syn *json.SyntaxError
			return errors.As(err, &syn)
		}},
		{"choices not an array", "data: {\"choices\":3}\n\n", nil, func(err error) bool {
			var typ *json.UnmarshalTypeError
			return errors.As(err, &typ)
		}},
		{"error object", "data: {\"error\":{\"message\":\"overloaded\"}}\n\n", nil, func(err error) bool {
			e, ok := asEventError(err)
			return ok && strings.Contains(string(e.data), "overloaded")
		}},
		{"an event over the limit", "data: " + strings.Repeat("y", maxEvent+10) + "\n\n", nil, func(err error) bool { return errors.Is(err, bufio.ErrTooLong) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := readerOf(tc.body)
			var texts []string
			for r.Next() {
				text := ""
				for _, ch := range r.Current().Choices {
					text += ch.Delta.Content
				}
				texts = append(texts, text)
			}
			if strings.Join(texts, "|") != strings.Join(tc.texts, "|") {
				t.Fatalf("texts = %q, want %q", texts, tc.texts)
			}
			if tc.err == nil && r.Err() != nil || tc.err != nil && !tc.err(r.Err()) {
				t.Fatalf("err = %v", r.Err())
			}
			if r.Next() {
				t.Fatal("Next after the end")
			}
		})
	}
}

func BenchmarkChunkReader(b *testing.B) {
	event := "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	body := strings.Repeat(event, 1000)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := readerOf(body)
		for r.Next() {
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/chunk")
}
