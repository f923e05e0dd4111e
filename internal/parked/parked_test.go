package parked

import (
	"slices"
	"testing"
)

func TestFunctionsDropArgumentsAndFiles(t *testing.T) {
	g := `goroutine 7 [select]:
github.com/armistice-go/armistice/actors.(*Subscription).Next(0x1, {0x2, 0x3})
	/src/actors/subscription.go:10 +0x91
github.com/armistice-go/armistice/http.Pump(...)
	/src/http/handlers.go:490 +0x10a
net/http.(*conn).serve(0x7f15acd1560, {0x1092bf8, 0x7f151d7d500})
	/usr/local/go/src/net/http/server.go:2067 +0x690
created by net/http.(*Server).Serve in goroutine 58
	/usr/local/go/src/net/http/server.go:3464 +0x485`
	want := []string{"github.com/armistice-go/armistice/actors.(*Subscription).Next", "github.com/armistice-go/armistice/http.Pump", "net/http.(*conn).serve"}
	if got := functions(g); !slices.Equal(got, want) {
		t.Errorf("functions = %q, want %q", got, want)
	}
}

func TestBelowFindsThisTest(t *testing.T) {
	frames, ok := Below("github.com/armistice-go/armistice/internal/parked.TestBelowFindsThisTest", "testing.tRunner")
	if !ok || len(frames) != 0 {
		t.Errorf("Below = %q, %v; want no frames between the test and tRunner", frames, ok)
	}
	if _, ok := Below("no.such.function", "testing.tRunner"); ok {
		t.Error("Below found a function no goroutine calls")
	}
}

func TestHoldingNeedsEveryMarker(t *testing.T) {
	const me = "github.com/armistice-go/armistice/internal/parked.TestHoldingNeedsEveryMarker"
	frames, ok := Holding(me, "testing.tRunner")
	if !ok || frames[len(frames)-2] != me {
		t.Errorf("Holding = %q, %v; want this goroutine, innermost first", frames, ok)
	}
	if _, ok := Holding(me, "no.such.function"); ok {
		t.Error("Holding found a goroutine without one of its markers")
	}
}
