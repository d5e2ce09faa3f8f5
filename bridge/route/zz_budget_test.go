package route

import ("testing";"fmt")

func TestZBudget(t *testing.T) {
	c := loadCorpus(t)
	for _, n := range []int{1000, 10000} {
		for _, budget := range []uint32{1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22} {
			maxDenseCells = budget
			r, _ := New(ruleSet(keywordSet(c, n)), "t")
			maxDenseCells = 1 << 21
			route := func(s string) { r.Route(Input{Text: s}) }
			_, d := r.States()
			fmt.Printf("%5d budget %8d dense %6d: EN %4.0f JA %4.0f KO %4.0f\n", n, budget, d, bestOf(20, c.en[:2000], route), bestOf(50, c.ja, route), bestOf(10, c.ko, route))
		}
	}
}
