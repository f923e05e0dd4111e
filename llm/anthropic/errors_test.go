package anthropic_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
)

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		typ        string
		wait       time.Duration
	}{
		{400, "", "invalid_request_error", 0},
		{401, "", "authentication_error", 0},
		{403, "", "permission_error", 0},
		{404, "", "not_found_error", 0},
		{413, "", "request_too_large", 0},
		{429, "", "rate_limit_error", 0},
		{429, "7", "rate_limit_error", 7 * time.Second},
		{500, "", "api_error", 0},
		{529, "2", "overloaded_error", 2 * time.Second},
	} {
		sc := llmtest.Status(tc.status, tc.retryAfter)
		sc.Message = "bad key " + providertest.Secret
		s := llmtest.NewAnthropicServer(t, sc)
		p := newProvider(t, anthropic.Config{BaseURL: s.URL, APIKey: providertest.Secret, HTTPClient: s.Client()})
		_, err := p.Stream(t.Context(), llm.Prompt("x"))
		var se *llm.StatusError
		if !errors.As(err, &se) || !errors.Is(err, llm.ErrUpstream) {
			t.Errorf("%d: Stream = %v, want a StatusError", tc.status, err)
			continue
		}
		want := llm.StatusError{StatusCode: tc.status, RetryAfter: tc.wait, Message: "bad key [redacted]", Type: tc.typ}
		if *se != want {
			t.Errorf("%d: %+v, want %+v", tc.status, *se, want)
		}
		if strings.Contains(err.Error(), providertest.Secret) {
			t.Errorf("%d: the key leaks: %v", tc.status, err)
		}
	}
}
