package llm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/armistice-go/armistice/llm"
)

// checking honours temperature and refuses values above 1 itself.
type checking struct{ calls int }

var errTooHot = errors.New("too hot")

func (c *checking) Name() string { return "checking" }
func (c *checking) Stream(context.Context, llm.Request) (llm.Stream, error) {
	return nil, errors.New("not used")
}
func (c *checking) Capabilities() llm.Capabilities {
	return llm.Capabilities{llm.FieldTemperature: true}
}
func (c *checking) CheckRequest(req llm.Request) error {
	c.calls++
	if t := req.Settings.Temperature; t != nil && *t > 1 {
		return errTooHot
	}
	return nil
}

func TestCheckAsksTheProvider(t *testing.T) {
	temp := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name  string
		set   llm.Settings
		want  error
		calls int
	}{
		{"nothing set", llm.Settings{}, nil, 1},
		{"a value it takes", llm.Settings{Temperature: temp(0.5)}, nil, 1},
		{"a value it refuses", llm.Settings{Temperature: temp(1.5)}, errTooHot, 1},
		// An unsupported field is refused before the provider is asked.
		{"a field it lacks", llm.Settings{Temperature: temp(1.5), User: "u"}, llm.ErrUnsupported, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &checking{}
			req := llm.Prompt("x")
			req.Settings = tc.set
			err := llm.Check(p, req)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if p.calls != tc.calls {
				t.Fatalf("CheckRequest called %d times, want %d", p.calls, tc.calls)
			}
		})
	}
}
