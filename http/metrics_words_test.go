package http

import (
	"regexp"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
)

var bucketBound = regexp.MustCompile(`(armistice_\w+)_bucket\{[^}]*le="([^"]+)"`)

// The metrics read well: histogram buckets at round values, the gauge of
// requests by state not named like a counter, and a token counter that
// moves while a request streams (and counts each token once).
func TestMetricsReadWell(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hi"}`)
	s := e.script()
	s.Token("a")
	s.Token("b")
	st := e.mustOpen(snap.ID, "")
	st.readN(4) // pending, streaming, a, b
	_, data := e.do("GET", "/metrics", "")
	text := string(data)
	for _, want := range []string{
		"armistice_tokens_total 2\n",
		`armistice_requests_in_state{state="streaming"} 1`,
		`armistice_time_to_first_token_seconds_bucket{le="0.0025"}`,
		`armistice_time_to_first_token_seconds_bucket{le="60"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "\narmistice_requests{") {
		t.Error("the gauge is still named armistice_requests")
	}
	bounds := bucketBound.FindAllStringSubmatch(text, -1)
	if len(bounds) == 0 {
		t.Fatal("no buckets")
	}
	for _, m := range bounds {
		if m[2] == "+Inf" {
			continue
		}
		digits := strings.Trim(strings.ReplaceAll(m[2], ".", ""), "0")
		if len(digits) > 2 {
			t.Errorf("%s has a bucket at %s; want round bounds (1, 2.5, 5 times a power of ten)", m[1], m[2])
		}
	}
	s.Token("c")
	s.Finish(llm.FinishStop, nil)
	st.readToEnd()
	_, data = e.do("GET", "/metrics", "")
	if !strings.Contains(string(data), "armistice_tokens_total 3\n") {
		t.Errorf("after the end: %s", grepLines(string(data), "armistice_tokens_total"))
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
