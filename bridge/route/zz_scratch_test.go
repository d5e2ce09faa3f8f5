package route

import ("testing";"fmt")

func BenchmarkZScan(b *testing.B) {
	c := loadCorpus(b)
	for _, n := range []int{1000, 10000} {
		for _, cap := range []uint32{1<<17, 1 << 18, 1<<19, 1<<20, 1<<21, 1<<22} {
			maxDenseCells = cap
			r, _ := New(ruleSet(keywordSet(c, n)), "t")
			maxDenseCells = 1<<21
			b.Run(fmt.Sprint(n, "/", cap), func(b *testing.B) {
				hits := 0
				for i := 0; b.Loop(); i++ {
					hits += len(r.Route(Input{Text:c.en[i%len(c.en)]}).Matched)
				}
				b.ReportMetric(float64(hits)/float64(b.N), "matched/post")
				b.ReportMetric(float64(r.m.nDense), "dense")
			})
		}
	}
}
