package scripted_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// result is what one Recv call did.
type result struct {
	chunk    llm.Chunk
	err      error
	panicked bool
	value    any           // the panic value
	at       time.Duration // since consume started
}

// consume reads s in a new goroutine and reports every Recv on the returned
// channel. After the first error or panic it makes one more Recv (to check
// that the end is sticky), reports it too, closes s and returns.
func consume(s llm.Stream) <-chan result {
	out := make(chan result)
	start := time.Now()
	recv := func() (r result) {
		defer func() {
			if v := recover(); v != nil {
				r = result{panicked: true, value: v}
			}
			r.at = time.Since(start)
		}()
		c, err := s.Recv()
		return result{chunk: c, err: err}
	}
	go func() {
		defer close(out)
		defer s.Close()
		for {
			r := recv()
			out <- r
			if r.err != nil || r.panicked {
				out <- recv()
				return
			}
		}
	}()
	return out
}

// returned reports whether a call whose completion is signalled on done has
// returned, once every goroutine in the bubble is blocked.
func returned[T any](done <-chan T) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
