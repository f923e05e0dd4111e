package llm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/armistice-go/armistice/llm"
)

// strictProvider honours every field but refuses a token cap of 1.
type strictProvider struct{}

func (strictProvider) Name() string { return "strict" }
func (strictProvider) Stream(context.Context, llm.Request) (llm.Stream, error) {
	return nil, errors.New("not used")
}
func (strictProvider) Capabilities() llm.Capabilities { return llm.AllCapabilities() }
func (strictProvider) CheckRequest(req llm.Request) error {
	if req.MaxTokens == 1 {
		return llm.ErrInvalidRequest
	}
	return nil
}

func TestCheckAsksTheProvidersValidator(t *testing.T) {
	req := llm.Prompt("x")
	if err := llm.Check(strictProvider{}, req); err != nil {
		t.Fatalf("Check = %v", err)
	}
	req.MaxTokens = 1
	if err := llm.Check(strictProvider{}, req); !errors.Is(err, llm.ErrInvalidRequest) {
		t.Fatalf("Check = %v, want the validator's error", err)
	}
	// An unsupported field is reported first.
	req.Settings.Seed = new(int64)
	var ue *llm.UnsupportedError
	if err := llm.Check(basic{}, req); !errors.As(err, &ue) {
		t.Fatalf("Check = %v, want UnsupportedError", err)
	}
}

type basic struct{ strictProvider }

func (basic) Capabilities() llm.Capabilities { return llm.BasicCapabilities() }
