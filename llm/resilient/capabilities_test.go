package resilient_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/resilient"
)

// capable is a fake provider that honours the given fields.
type capable struct {
	*fake
	caps llm.Capabilities
}

func (c capable) Capabilities() llm.Capabilities { return c.caps }

func caps(fields ...llm.Field) llm.Capabilities {
	c := llm.Capabilities{}
	for _, f := range fields {
		c[f] = true
	}
	return c
}

func TestCapabilitiesIntersect(t *testing.T) {
	all := llm.AllCapabilities()
	noTopK := llm.AllCapabilities()
	delete(noTopK, llm.FieldTopK)
	for _, tc := range []struct {
		name  string
		given []llm.Capabilities // nil: a provider without Capabilities
		want  llm.Capabilities
	}{
		{"one upstream", []llm.Capabilities{noTopK}, noTopK},
		{"all and all but top_k", []llm.Capabilities{all, noTopK}, noTopK},
		{"a fallback honours less", []llm.Capabilities{all, caps(llm.FieldMaxTokens, llm.FieldTemperature, llm.FieldTopK)},
			caps(llm.FieldMaxTokens, llm.FieldTemperature, llm.FieldTopK)},
		{"disjoint", []llm.Capabilities{caps(llm.FieldTopK), caps(llm.FieldSeed)}, caps()},
		{"a field set false", []llm.Capabilities{all, {llm.FieldSeed: false, llm.FieldStop: true}}, caps(llm.FieldStop)},
		{"a plain provider honours max_tokens only", []llm.Capabilities{all, nil}, llm.BasicCapabilities()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ups []resilient.Upstream
			for i, c := range tc.given {
				var p llm.Provider = newFake(string(rune('a' + i)))
				if c != nil {
					p = capable{fake: p.(*fake), caps: c}
				}
				ups = append(ups, resilient.Upstream{Provider: p})
			}
			p := newResilient(t, resilient.Config{Upstreams: ups})
			got := llm.CapabilitiesOf(p)
			if !equalCaps(got, tc.want) {
				t.Fatalf("capabilities %v, want %v", sorted(got), sorted(tc.want))
			}
			// The upstreams' own sets are left as they were.
			if tc.given[0] != nil && len(tc.given[0]) > 0 && !equalCaps(llm.CapabilitiesOf(ups[0].Provider), tc.given[0]) {
				t.Fatal("the first upstream's capabilities changed")
			}
		})
	}
	// Check refuses at submit what one upstream cannot honour.
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{
		{Provider: capable{fake: newFake("a"), caps: all}}, {Provider: capable{fake: newFake("b"), caps: noTopK}}}})
	req := llm.Prompt("x")
	k := 40
	req.Settings.TopK = &k
	if err := llm.Check(p, req); err == nil {
		t.Fatal("Check accepted top_k that the fallback cannot honour")
	}
}

func equalCaps(a, b llm.Capabilities) bool {
	return slices.Equal(sorted(a), sorted(b))
}

// sorted lists the fields a honours.
func sorted(a llm.Capabilities) []llm.Field {
	var fs []llm.Field
	for f, ok := range maps.All(a) {
		if ok {
			fs = append(fs, f)
		}
	}
	slices.Sort(fs)
	return fs
}

// checking refuses requests whose temperature is above 1.
type checking struct {
	*fake
}

func (c checking) Capabilities() llm.Capabilities { return llm.AllCapabilities() }
func (c checking) CheckRequest(req llm.Request) error {
	if t := req.Settings.Temperature; t != nil && *t > 1 {
		return fmt.Errorf("%w: temperature above 1", llm.ErrInvalidRequest)
	}
	return nil
}

// TestCheckRequestPassesThrough: a value an upstream refuses (primary or
// fallback) is refused at submit time through the wrapper too.
func TestCheckRequestPassesThrough(t *testing.T) {
	hot := 1.5
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, Settings: llm.Settings{Temperature: &hot}}
	for _, ups := range [][]resilient.Upstream{
		{{Provider: checking{newFake("a")}}},
		{{Provider: capable{fake: newFake("a"), caps: llm.AllCapabilities()}}, {Provider: checking{newFake("b")}}},
	} {
		p := newResilient(t, resilient.Config{Upstreams: ups})
		if err := llm.Check(p, req); !errors.Is(err, llm.ErrInvalidRequest) {
			t.Fatalf("Check through resilient = %v; want the upstream's refusal", err)
		}
	}
}
