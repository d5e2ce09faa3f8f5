package bsky

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/route"
)

// jetstreamSample generates n Jetstream frames as the firehose carries
// them with wantedCollections=app.bsky.feed.post: mostly new posts (a
// third of them replies, some with mention facets and languages), some
// deletes, a few identity and account events. Texts mix English and
// Japanese, and about 2% contain a care keyword.
func jetstreamSample(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the a my this that just today so really love new good day time people think know going see get want make back one still home work night morning coffee music game photo cat dog art book movie news world city weather train lunch friend family week happy tired finally")
	ja := strings.Fields("今日 は とても 楽しい 天気 ご飯 仕事 猫 電車 映画 音楽 写真 友達 週末 朝 夜")
	care := []string{"no signal", "my bill", "wifi", "refund", "電波", "料金"}
	var out [][]byte
	us := int64(1_741_000_000_000_000)
	for i := 0; i < n; i++ {
		us += int64(r.IntN(20_000))
		did := fmt.Sprintf("did:plc:%024d", r.IntN(5_000_000))
		rkey := NewTID(bridgeTime(us), uint(r.IntN(1024)))
		var ev map[string]any
		switch x := r.IntN(100); {
		case x < 2:
			ev = map[string]any{"did": did, "time_us": us, "kind": "identity", "identity": map[string]any{"did": did, "handle": "user.bsky.social", "seq": i, "time": "2026-03-09T10:00:00Z"}}
		case x < 3:
			ev = map[string]any{"did": did, "time_us": us, "kind": "account", "account": map[string]any{"active": true, "did": did, "seq": i, "time": "2026-03-09T10:00:00Z"}}
		case x < 12:
			ev = map[string]any{"did": did, "time_us": us, "kind": "commit", "commit": map[string]any{"rev": rkey, "operation": "delete", "collection": PostCollection, "rkey": rkey}}
		default:
			var text []string
			vocab, lang := words, "en"
			if r.IntN(4) == 0 {
				vocab, lang = ja, "ja"
			}
			for w := 5 + r.IntN(25); w > 0; w-- {
				text = append(text, vocab[r.IntN(len(vocab))])
			}
			if r.IntN(50) == 0 {
				text = append(text, care[r.IntN(len(care))])
			}
			sep := " "
			if lang == "ja" {
				sep = ""
			}
			rec := map[string]any{"$type": PostCollection, "text": strings.Join(text, sep), "createdAt": "2026-03-09T10:00:00.000Z", "langs": []string{lang}}
			if r.IntN(3) == 0 {
				p := map[string]string{"uri": PostURI(fmt.Sprintf("did:plc:%024d", r.IntN(5_000_000)), rkey), "cid": "bafyreib2rxk3rh6kzwq"}
				rec["reply"] = map[string]any{"root": p, "parent": p}
			}
			if r.IntN(10) == 0 {
				rec["facets"] = []any{map[string]any{"index": map[string]int{"byteStart": 0, "byteEnd": 4},
					"features": []any{map[string]string{"$type": FeatureMention, "did": "did:plc:someone"}}}}
			}
			ev = map[string]any{"did": did, "time_us": us, "kind": "commit", "commit": map[string]any{"rev": rkey, "operation": "create",
				"collection": PostCollection, "rkey": rkey, "cid": "bafyreib2rxk3rh6kzwq", "record": rec}}
		}
		b, _ := json.Marshal(ev)
		out = append(out, b)
	}
	return out
}

func bridgeTime(us int64) time.Time { return time.UnixMicro(us) }

// BenchmarkJetstreamRoute measures what one Jetstream frame costs the
// source before anything is stored: decoding, normalizing a post and
// routing it with the keyword router (100 keywords in 50 rules, as the
// router's own 100-keyword benchmark). Run with -cpu 1; posts/s counts
// every frame (posts, deletes, identity and account events).
func BenchmarkJetstreamRoute(b *testing.B) {
	var rules []route.Rule
	kw := strings.Fields("signal reception 5g 4g lte outage bill billing invoice charged refund overcharged wifi wi-fi hotspot router rude battery screen iphone android 電波 料金 請求 返金 圏外 故障 ワイファイ")
	for i := 0; i < 50; i++ {
		rules = append(rules, route.Rule{Department: fmt.Sprintf("d%d", i%20), Keywords: []string{kw[i%len(kw)], fmt.Sprintf("kw%dx", i)}})
	}
	router, err := route.New(rules, "triage")
	if err != nil {
		b.Fatal(err)
	}
	frames := jetstreamSample(20_000, 7)
	j := NewJetstream(NewClient(nil, ClientOptions{Logger: quiet}), JetstreamOptions{Instances: []string{"ws://x"}, Logger: quiet,
		Match: func(p *bridge.Post) bool {
			return router.Route(route.Input{Text: p.Text, Mentions: p.Mentions}).Rule >= 0
		}})
	ctx := context.Background()
	batch := &jetBatch{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j.handle(ctx, frames[i%len(frames)], batch)
		if len(batch.posts) > 1000 {
			batch.posts = batch.posts[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	st := j.Stats()
	b.ReportMetric(float64(st.Matched)/float64(max(st.Posts, 1)), "matched/post")
}
