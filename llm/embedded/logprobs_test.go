package embedded_test

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
)

// chunksOf reads a stream's text chunks, with their logprobs.
func chunksOf(t *testing.T, req llm.Request) []llm.Chunk {
	t.Helper()
	s, err := unpaced(t, 40).Stream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var cs []llm.Chunk
	for {
		c, err := s.Recv()
		if err == io.EOF {
			return cs
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.FinishReason == llm.FinishNone {
			cs = append(cs, c)
		} else if c.Logprobs != nil {
			t.Fatalf("logprobs on the finish chunk: %+v", c)
		}
	}
}

// checkLogprobs checks that each chunk's logprob tokens spell its text and
// that every logprob is a probability, the alternatives most likely first.
func checkLogprobs(t *testing.T, cs []llm.Chunk, top int) {
	t.Helper()
	for i, c := range cs {
		var spelled strings.Builder
		for _, e := range c.Logprobs {
			spelled.WriteString(e.Token)
			if e.Logprob > 0 || math.IsNaN(e.Logprob) || string(bytesOf(e.Bytes)) != e.Token {
				t.Fatalf("chunk %d: entry %+v", i, e)
			}
			if len(e.Top) > top || (top > 0 && len(e.Top) == 0) {
				t.Fatalf("chunk %d: %d alternatives, want 1..%d", i, len(e.Top), top)
			}
			sum := 0.0
			for j, a := range e.Top {
				sum += math.Exp(a.Logprob)
				if j > 0 && a.Logprob > e.Top[j-1].Logprob {
					t.Fatalf("chunk %d: alternatives out of order: %+v", i, e.Top)
				}
				if a.Token == e.Token && a.Logprob != e.Logprob {
					t.Fatalf("chunk %d: the token has %v, as an alternative %v", i, e.Logprob, a.Logprob)
				}
			}
			if sum > 1+1e-9 {
				t.Fatalf("chunk %d: alternatives add up to %v", i, sum)
			}
		}
		if spelled.String() != c.Text {
			t.Fatalf("chunk %d: logprobs spell %q, text is %q", i, spelled.String(), c.Text)
		}
	}
}

func bytesOf(b []int) []byte {
	out := make([]byte, len(b))
	for i, x := range b {
		out[i] = byte(x)
	}
	return out
}

func textOf(cs []llm.Chunk) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Text)
	}
	return b.String()
}

func TestLogprobs(t *testing.T) {
	prompt := "Tell me about rabbits."
	plain := textOf(chunksOf(t, llm.Prompt(prompt)))
	for _, tc := range []struct {
		name string
		set  func(*llm.Settings)
		top  int
	}{
		{"logprobs", func(s *llm.Settings) { s.Logprobs = true }, 0},
		{"top 3", func(s *llm.Settings) { s.Logprobs, s.TopLogprobs = true, ptr(3) }, 3},
		{"top 20", func(s *llm.Settings) { s.Logprobs, s.TopLogprobs = true, ptr(20) }, 20},
		{"top_logprobs alone", func(s *llm.Settings) { s.TopLogprobs = ptr(2) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := llm.Prompt(prompt)
			tc.set(&req.Settings)
			cs := chunksOf(t, req)
			if got := textOf(cs); got != plain {
				t.Fatalf("asking for logprobs changed the answer:\n%q\n%q", got, plain)
			}
			checkLogprobs(t, cs, tc.top)
			certain := 0
			for _, c := range cs {
				if len(c.Logprobs) != 1 {
					t.Fatalf("chunk %q has %d logprobs, want 1", c.Text, len(c.Logprobs))
				}
				if c.Logprobs[0].Logprob == 0 {
					certain++
				}
			}
			if certain == len(cs) {
				t.Fatal("every token is certain: the logprobs say nothing")
			}
		})
	}
}

// At temperature 0 the model takes the most likely word, which must be the
// first alternative it reports.
func TestLogprobsGreedyIsTop(t *testing.T) {
	req := llm.Prompt("x")
	req.Settings.Temperature = ptr(0.0)
	req.Settings.Logprobs, req.Settings.TopLogprobs = true, ptr(5)
	cs := chunksOf(t, req)
	checkLogprobs(t, cs, 5)
	for i, c := range cs {
		e := c.Logprobs[0]
		if e.Top[0].Token != e.Token || e.Top[0].Logprob != e.Logprob {
			t.Fatalf("token %d %q (%v): the most likely is %+v", i, e.Token, e.Logprob, e.Top[0])
		}
	}
}

func TestLogprobsWithStop(t *testing.T) {
	prompt := "Tell me about rabbits."
	full := textOf(chunksOf(t, llm.Prompt(prompt)))
	words := strings.SplitAfter(full, " ")
	// A stop that starts inside a word and spans the next two.
	stop := words[4][2:] + words[5] + words[6][:1]
	req := llm.Prompt(prompt)
	req.Settings.Stop = []string{stop, "zzz"}
	req.Settings.Logprobs, req.Settings.TopLogprobs = true, ptr(2)
	cs := chunksOf(t, req)
	if got, want := textOf(cs), full[:strings.Index(full, stop)]; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	checkLogprobs(t, cs, 2)
}

func TestLogprobsJSON(t *testing.T) {
	req := schemaRequest(schemaTable[22].schema, nil) // the weather tool: city, unit (2 values), days (7)
	req.Settings.Logprobs, req.Settings.TopLogprobs = true, ptr(1)
	cs := chunksOf(t, req)
	checkLogprobs(t, cs, 1)
	for _, c := range cs {
		e := c.Logprobs[0]
		var want float64
		switch {
		case c.Text == `{` || c.Text == `}` || strings.HasSuffix(c.Text, `":`):
			want = 0 // forced by the schema
		case c.Text == `"celsius"` || c.Text == `"fahrenheit"`:
			want = math.Log(0.5)
		case strings.Trim(c.Text, "0123456789") == "":
			want = -math.Log(7)
		default:
			if e.Logprob > 0 {
				t.Fatalf("%q: %v", c.Text, e.Logprob)
			}
			continue
		}
		if math.Abs(e.Logprob-want) > 1e-12 {
			t.Errorf("%q: logprob %v, want %v", c.Text, e.Logprob, want)
		}
	}
}

func TestNoLogprobsOnToolCalls(t *testing.T) {
	req := toolRequest("get weather", nil, nil)
	req.Settings.Logprobs = true
	s, err := unpaced(t, 8).Stream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for {
		c, err := s.Recv()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.Logprobs != nil {
			t.Fatalf("logprobs on a tool-call chunk: %+v", c)
		}
	}
}
