// Package traffic generates customer-care traffic on X for tests and
// benchmarks that must not depend on files outside the repository: seeded,
// reproducible conversations between customers and a company's official
// accounts, in English, Japanese and Korean.
//
// A conversation opens with a customer's post — a complaint, a question or
// praise about the network, Wi-Fi, a bill, a shop or a phone, sometimes
// angry and sworn, sometimes grateful — that mentions an official account
// or names the company (so a mentions poller or a brand search finds it),
// with the product keywords of examples/carebridge.yaml's routes so that
// routing is exercised. An official account may answer (X puts the
// customer's @handle in front of a reply), the customer may follow up and
// the account answer again; some customers add to their own post, and some
// posts name no product at all (triage). Every customer post mentions an
// official account or names the company. Conversations overlap in time;
// Generate returns their posts oldest first, every reply after its parent.
//
// The texts are written for this package from templates; no real post is
// copied. WriteTWCSCSV writes posts in the column layout of the Kaggle
// "Customer Support on Twitter" data set that `carebridge route` and
// adapters/file read.
package traffic

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Post is one generated post.
type Post struct {
	// ID is unique in a generated set and increases with CreatedAt.
	ID string
	// Author is the author's handle without "@": a customer's, or one of
	// Options.Brands for an official account's answer.
	Author string
	// Brand is set on the official accounts' posts.
	Brand bool
	// Text is the post as X returns it (a reply starts with the @handle
	// of the author it answers, as X adds it).
	Text string
	// Lang is "en", "ja" or "ko".
	Lang string
	// InReplyTo is the ID of the post this one answers ("" for the post
	// that opens a conversation).
	InReplyTo string
	// Conversation is the ID of the conversation's first post.
	Conversation string
	// CreatedAt is when the post was written (UTC, whole seconds).
	CreatedAt time.Time
	// Topic is what the conversation is about: one of Topics.
	Topic string
}

// Topics are the subjects of conversations, named after the departments
// of examples/carebridge.yaml that their keywords route to; "other"
// carries no routing keyword (it belongs in triage).
var Topics = []string{"outage", "network", "wifi", "billing", "sales", "devices", "praise", "other"}

// Options shape the traffic. The zero value is usable.
type Options struct {
	// Seed selects the traffic: the same options give the same posts.
	Seed uint64
	// Posts is how many posts to return (default 100).
	Posts int
	// Brands are the official accounts (default SBCare and SBCareWiFi,
	// those of examples/carebridge.yaml); Wi-Fi conversations go to the
	// second when there is one.
	Brands []string
	// Start is when the first conversation opens (default 2026-11-02
	// 09:00 UTC).
	Start time.Time
	// Languages weighs the languages of conversations (default en 5, ja
	// 3, ko 2). Keys: "en", "ja", "ko".
	Languages map[string]int
}

// Generate returns o.Posts posts, oldest first.
func Generate(o Options) []Post {
	if o.Posts <= 0 {
		o.Posts = 100
	}
	if len(o.Brands) == 0 {
		o.Brands = []string{"SBCare", "SBCareWiFi"}
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	}
	if len(o.Languages) == 0 {
		o.Languages = map[string]int{"en": 5, "ja": 3, "ko": 2}
	}
	g := &generator{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed7a11c0ffee)), o: o}
	var posts []*Post
	at := o.Start
	// Conversations open about every 40 s and last up to an hour or so;
	// generate until the posts of conversations opened so far cover the
	// request, then a margin so that the oldest o.Posts are complete as
	// far as they go.
	for len(posts) < o.Posts*5/4+20 {
		posts = append(posts, g.conversation(at)...)
		at = at.Add(time.Duration(5+g.rng.IntN(70)) * time.Second)
	}
	sort.SliceStable(posts, func(i, j int) bool { return posts[i].CreatedAt.Before(posts[j].CreatedAt) })
	posts = posts[:o.Posts]
	// Number in time order; a reply always comes after its parent, which
	// the sort keeps (replies are strictly later).
	ids := map[*Post]string{}
	for i, p := range posts {
		ids[p] = strconv.Itoa(1_000_001 + i)
	}
	out := make([]Post, len(posts))
	for i, p := range posts {
		out[i] = *p
		out[i].ID = ids[p]
		out[i].InReplyTo = ids[g.parent[p]]
		out[i].Conversation = ids[g.root[p]]
	}
	return out
}

type generator struct {
	rng       *rand.Rand
	o         Options
	customers []customer
	handles   map[string]bool
	parent    map[*Post]*Post
	root      map[*Post]*Post
}

type customer struct{ handle, lang string }

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) lang() string {
	total := 0
	keys := []string{"en", "ja", "ko"}
	for _, k := range keys {
		total += g.o.Languages[k]
	}
	n := g.rng.IntN(max(total, 1))
	for _, k := range keys {
		if n < g.o.Languages[k] {
			return k
		}
		n -= g.o.Languages[k]
	}
	return "en"
}

// customerFor returns a returning customer of the language now and then,
// a new one otherwise.
func (g *generator) customerFor(lang string) customer {
	if len(g.customers) > 10 && g.chance(0.15) {
		c := g.customers[g.rng.IntN(len(g.customers))]
		if c.lang == lang {
			return c
		}
	}
	var h string
	for h == "" || g.handles[h] {
		h = fmt.Sprintf("%s%s%d", g.pick(handleStems[lang]), g.pick([]string{"", "_"}), 1+g.rng.IntN(9999))
	}
	if g.handles == nil {
		g.handles = map[string]bool{}
	}
	g.handles[h] = true
	c := customer{handle: h, lang: lang}
	g.customers = append(g.customers, c)
	return c
}

// conversation writes the posts of one conversation opening at at.
func (g *generator) conversation(at time.Time) []*Post {
	if g.parent == nil {
		g.parent, g.root = map[*Post]*Post{}, map[*Post]*Post{}
	}
	lang := g.lang()
	topic := Topics[g.rng.IntN(len(Topics))]
	cust := g.customerFor(lang)
	brand := g.o.Brands[0]
	if topic == "wifi" && len(g.o.Brands) > 1 {
		brand = g.o.Brands[1]
	}
	ph := phrases[lang]
	var out []*Post
	add := func(p *Post, parent *Post) *Post {
		p.Lang, p.Topic = lang, topic
		if parent != nil {
			p.CreatedAt = parent.CreatedAt.Add(time.Duration(20+g.rng.IntN(900)) * time.Second)
			g.parent[p] = parent
			g.root[p] = g.root[parent]
		} else {
			p.CreatedAt = at
			g.root[p] = p
		}
		out = append(out, p)
		return p
	}

	// The opening post: mentions the account, or names the company where
	// a brand search finds it.
	text := g.fill(g.pick(ph.open[topic]), lang)
	if topic != "praise" && g.chance(0.25) {
		text = g.pick(ph.swear) + " " + text
	}
	switch {
	case g.chance(0.75):
		if g.chance(0.5) {
			text = "@" + brand + " " + text
		} else {
			text = text + " @" + brand
		}
	default:
		text = ph.company + " " + text
	}
	if g.chance(0.15) {
		if topic == "praise" {
			text += " " + g.pick(happyEmoji)
		} else {
			text += " " + g.pick(angryEmoji)
		}
	}
	if g.chance(0.08) {
		text += " #" + ph.company
	}
	last := add(&Post{Author: cust.handle, Text: text}, nil)
	if g.chance(0.2) {
		// The customer adds to their own post (X puts no @ in front of a
		// self-reply) and tags the account again.
		last = add(&Post{Author: cust.handle, Text: g.fill(g.pick(byTopic(ph.more, topic)), lang) + " @" + brand}, last)
	}
	// The account's answer, the customer's follow-up, a second answer and
	// a last word.
	if !g.chance(0.6) {
		return out
	}
	last = add(&Post{Author: brand, Brand: true, Text: "@" + cust.handle + " " + g.pick(byTopic(ph.answer, topic))}, last)
	if topic == "praise" || !g.chance(0.55) {
		return out
	}
	follow := g.fill(g.pick(ph.followUp), lang)
	if g.chance(0.2) {
		follow = g.pick(ph.swear) + " " + follow
	}
	last = add(&Post{Author: cust.handle, Text: "@" + brand + " " + follow}, last)
	if !g.chance(0.6) {
		return out
	}
	last = add(&Post{Author: brand, Brand: true, Text: "@" + cust.handle + " " + g.pick(ph.second)}, last)
	if g.chance(0.5) {
		add(&Post{Author: cust.handle, Text: "@" + brand + " " + g.pick(ph.thanks)}, last)
	}
	return out
}

// byTopic returns the topic's entry of m, or the entry for any topic.
func byTopic(m map[string][]string, topic string) []string {
	if l, ok := m[topic]; ok {
		return l
	}
	return m[""]
}

// fill replaces the placeholders of a template: {place}, {n} a small
// number, {amount} money, {device} a phone.
func (g *generator) fill(s, lang string) string {
	ph := phrases[lang]
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return s
		}
		var v string
		switch s[i+1 : i+j] {
		case "place":
			v = g.pick(ph.places)
		case "n":
			v = strconv.Itoa(2 + g.rng.IntN(11))
		case "amount":
			v = ph.amount(g.rng)
		case "device":
			v = g.pick(ph.devices)
		default:
			panic("traffic: unknown placeholder in " + s)
		}
		s = s[:i] + v + s[i+j+1:]
	}
}

// WriteTWCSCSV writes posts as the Kaggle "Customer Support on Twitter"
// CSV: tweet_id, author_id, inbound, created_at, text,
// response_tweet_id, in_response_to_tweet_id.
func WriteTWCSCSV(w io.Writer, posts []Post) error {
	children := map[string][]string{}
	for _, p := range posts {
		if p.InReplyTo != "" {
			children[p.InReplyTo] = append(children[p.InReplyTo], p.ID)
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id", "in_response_to_tweet_id"}); err != nil {
		return fmt.Errorf("write CSV header: %w", err)
	}
	for _, p := range posts {
		inbound := "True"
		if p.Brand {
			inbound = "False"
		}
		in := ""
		if p.InReplyTo != "" {
			in = p.InReplyTo + ".0"
		}
		rec := []string{p.ID, p.Author, inbound, p.CreatedAt.UTC().Format(time.RubyDate), p.Text, strings.Join(children[p.ID], ","), in}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write post %s: %w", p.ID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}
