package embedded

import (
	"math"
	"math/rand/v2"
	"testing"
)

// In this corpus "a b" is followed by "c" three times and by "d" once.
const tinyCorpus = "X a b c. Y a b c. Z a b c. W a b d. V e f."

func TestSamplerDistribution(t *testing.T) {
	c := buildChain(tinyCorpus)
	var ab int32 = -1
	for i := range c.start {
		if c.word(int32(i), false) == "b" {
			ab = int32(i)
			break
		}
	}
	for _, tc := range []struct {
		name  string
		s     sampler
		wantC float64 // the share of "c."
	}{
		{"greedy", sampler{temp: 0, topP: 1}, 1},
		{"corpus", sampler{temp: 1, topP: 1}, 0.75},
		{"cold", sampler{temp: 0.5, topP: 1}, 9.0 / 10},                       // 3² : 1²
		{"hot", sampler{temp: 2, topP: 1}, math.Sqrt(3) / (math.Sqrt(3) + 1)}, // √3 : 1
		{"top_k 1", sampler{temp: 1, topP: 1, topK: 1}, 1},                    // only "c."
		{"top_p 0.7", sampler{temp: 1, topP: 0.7}, 1},                         // 0.75 covers it
		{"top_p 0.8", sampler{temp: 1, topP: 0.8}, 0.75},                      // needs both
		{"hot top_p 0.6", sampler{temp: 2, topP: 0.6}, 1},                     // 0.634 covers it
		{"hot top_p 0.7", sampler{temp: 2, topP: 0.7}, math.Sqrt(3) / (math.Sqrt(3) + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			const draws = 20000
			hits := 0
			for range draws {
				if c.word(tc.s.next(c, ab, r), false) == "c." {
					hits++
				}
			}
			if got := float64(hits) / draws; math.Abs(got-tc.wantC) > 0.015 {
				t.Fatalf("share of c. = %.3f, want %.3f", got, tc.wantC)
			}
		})
	}
}

func TestSamplerFirstGreedy(t *testing.T) {
	// Sentence starts: X Y Z W V once each, so greedy takes the first.
	c := buildChain(tinyCorpus)
	s := sampler{temp: 0, topP: 1}
	if got := c.word(s.first(c, rand.New(rand.NewPCG(1, 2))), false); got != c.word(c.starts[0], false) {
		t.Fatalf("greedy first word %q, want %q", got, c.word(c.starts[0], false))
	}
}

func TestWalkerLogprobs(t *testing.T) {
	c := buildChain(tinyCorpus)
	var ab int32
	for i := range c.start {
		if c.word(int32(i), false) == "b" {
			ab = int32(i)
			break
		}
	}
	seen := map[string]bool{}
	for seed := range uint64(20) {
		w := walker{chain: c, rng: rand.New(rand.NewPCG(seed, 0)), probs: true, topN: 5, pos: ab, words: 1}
		got := c.word(w.step(), false)
		want := map[string]float64{"c.": math.Log(0.75), "d.": math.Log(0.25)}[got]
		if w.lp != want {
			t.Fatalf("%q: logprob %v, want %v", got, w.lp, want)
		}
		if len(w.top) != 2 || c.word(w.top[0].pos, false) != "c." || w.top[0].n != 3 || w.top[1].n != 1 || w.total != 4 {
			t.Fatalf("top %+v of %d", w.top, w.total)
		}
		seen[got] = true
	}
	if len(seen) != 2 {
		t.Fatalf("20 seeds drew only %v", seen)
	}
}
