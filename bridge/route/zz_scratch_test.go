package route

import ("testing";"fmt";"time")

func bestOf(rounds int, texts []string, f func(string)) float64 {
	best := 0.0
	for round := 0; round < rounds; round++ {
		t0 := time.Now()
		for _, s := range texts { f(s) }
		d := float64(time.Since(t0).Nanoseconds()) / float64(len(texts))
		if best == 0 || d < best { best = d }
	}
	return best
}

func TestZCompare(t *testing.T) {
	c := loadCorpus(t)
	for _, n := range []int{100, 1000, 10000} {
		r, _ := New(ruleSet(keywordSet(c, n)), "t")
		sc := r.pool.Get().(*scratch)
		scan := func(s string) { sc.gen++; sc.hits = sc.hits[:0]; if !r.m.scan(s, sc, true) { sc.gen++; sc.hits = sc.hits[:0]; t := sc.norm.normalize(s); r.m.scan(string(t), sc, false) } }
		route := func(s string) { r.Route(Input{Text: s}) }
		fmt.Printf("%5d EN scan %4.0f route %4.0f", n, bestOf(30, c.en[:2000], scan), bestOf(30, c.en[:2000], route))
		if n == 1000 {
			fmt.Printf(" | JA scan %4.0f route %4.0f | KO scan %4.0f route %4.0f", bestOf(100, c.ja, scan), bestOf(100, c.ja, route), bestOf(30, c.ko, scan), bestOf(30, c.ko, route))
		}
		fmt.Println()
	}
}
