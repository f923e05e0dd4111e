package main

import (
	"context"
	"testing"
)

// TestUpstreamNotesEveryAbort drops many connections while their
// handlers wait (held, or between paced tokens) and checks that the
// upstream noted each abort. The handler can see its context end and
// return before the context starts the AfterFunc that notes it; the
// cancel scenario then counted a miss now and then (once in a few
// thousand cancels).
func TestUpstreamNotesEveryAbort(t *testing.T) {
	e, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	const cancels = 400
	for i := range cancels {
		tag := tagSeq.Add(1)
		sc := script{Tokens: 1000, Rate: 1000, Tag: tag}
		if i%2 == 0 {
			sc = script{Tokens: 1, Hold: true, Tag: tag}
		}
		st, err := e.direct.Open(ctx, sc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Next(); err != nil { // the role chunk or the first token
			t.Fatal(err)
		}
		st.Close()
		if _, ok := e.up.Aborted(tag, waitLimit); !ok {
			t.Fatalf("cancel %d (%+v): the upstream did not note the abort", i, sc)
		}
	}
}
