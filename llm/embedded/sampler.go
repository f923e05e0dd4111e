package embedded

import (
	"math"
	"math/rand/v2"
	"sort"
)

// sampler draws the next word from the chain's distribution reshaped by
// temperature, top_k and top_p, as a neural model's sampler does with its
// logits. The chain's "logit" of a word is the log of how often it follows
// the current word pair in the corpus, so
//
//	p(w) ∝ count(w)^(1/temperature)
//
// which is the corpus distribution at temperature 1, the most frequent word
// at temperature 0 (ties go to the word met first in the corpus), and
// closer to uniform over the possible words as the temperature grows.
// top_k keeps the k most likely words, top_p the smallest set of most likely
// words whose probabilities add up to at least top_p; the rest is
// renormalised. A nil *sampler is today's plain walk (temperature 1, no
// truncation), which draws exactly the same words.
type sampler struct {
	temp float64 // >= 0; 0 is greedy
	topP float64 // in [0, 1]; 1 keeps every word
	topK int     // 0 keeps every word
	cand []cand  // scratch, reused between draws
}

// cand is one distinct word that may come next.
type cand struct {
	pos int32   // a corpus position holding the word
	id  int32   // the word
	n   int     // how many of the candidate positions hold it
	w   float64 // its weight after temperature
}

// first picks the position of the answer's first word.
func (s *sampler) first(c *chain, r *rand.Rand) int32 {
	s.collect(c, 0, true)
	return s.draw(r)
}

// next picks the position following p.
func (s *sampler) next(c *chain, p int32, r *rand.Rand) int32 {
	s.collect(c, p, false)
	return s.draw(r)
}

// collect counts the distinct words that may come first, or after p, and
// returns the number of positions counted.
func (s *sampler) collect(c *chain, p int32, first bool) int {
	s.cand = s.cand[:0]
	if first {
		for _, q := range c.starts {
			s.add(c, q)
		}
		return len(c.starts)
	}
	g := c.group[p]
	n := int32(len(c.start))
	for _, q := range c.pos[c.groupOff[g]:c.groupOff[g+1]] {
		s.add(c, (q+1)%n)
	}
	return int(c.groupOff[g+1] - c.groupOff[g])
}

// add counts the word at position p.
func (s *sampler) add(c *chain, p int32) {
	id := c.id[p]
	for i := range s.cand {
		if s.cand[i].id == id {
			s.cand[i].n++
			return
		}
	}
	s.cand = append(s.cand, cand{pos: p, id: id, n: 1})
}

func (s *sampler) draw(r *rand.Rand) int32 {
	cs := s.cand
	if s.temp == 0 {
		best := 0
		for i := range cs {
			if cs[i].n > cs[best].n {
				best = i
			}
		}
		return cs[best].pos
	}
	maxN := 0
	for _, c := range cs {
		maxN = max(maxN, c.n)
	}
	for i := range cs {
		// Relative to the most frequent word, so no weight overflows
		// however low the temperature.
		cs[i].w = math.Exp((math.Log(float64(cs[i].n)) - math.Log(float64(maxN))) / s.temp)
	}
	if s.topK > 0 || s.topP < 1 {
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].w > cs[j].w })
		if s.topK > 0 && s.topK < len(cs) {
			cs = cs[:s.topK]
		}
		if s.topP < 1 {
			total := 0.0
			for _, c := range cs {
				total += c.w
			}
			sum := 0.0
			for i, c := range cs {
				sum += c.w
				if sum >= s.topP*total {
					cs = cs[:i+1]
					break
				}
			}
		}
	}
	total := 0.0
	for _, c := range cs {
		total += c.w
	}
	x := r.Float64() * total
	for _, c := range cs {
		if x < c.w {
			return c.pos
		}
		x -= c.w
	}
	return cs[len(cs)-1].pos
}
