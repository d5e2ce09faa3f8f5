package watch

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// DigestInput is what a department digest is computed from.
type DigestInput struct {
	// Tickets are the department's tickets touched in the period: created,
	// answered, or still waiting at To. Tickets are deduplicated by ID
	// (non-zero IDs only); others are ignored by the counts they do not
	// fall into.
	Tickets []bridge.Ticket
	// Breaches is the number of SLA breaches in the period (from the
	// store's breach records); passed through.
	Breaches int
	// From and To bound the period [From, To): From is the previous
	// digest, To is now.
	From, To time.Time
}

// DigestStats are the figures of a department digest.
type DigestStats struct {
	From, To time.Time
	// New counts tickets created in [From, To).
	New int
	// Answered counts tickets whose first response went out in
	// [From, To), whenever they were created.
	Answered int
	// Unanswered lists the tickets created before To without a first
	// response at To and not closed at To, oldest first.
	Unanswered []WaitingTicket
	// MedianFirstResponse and P90FirstResponse are nearest-rank
	// percentiles (see Percentile) of FirstResponseAt − CreatedAt over the
	// Answered tickets, in wall-clock time (not business time: this is
	// what the customer waited). Zero when Answered is 0.
	MedianFirstResponse time.Duration
	P90FirstResponse    time.Duration
	// Breaches is DigestInput.Breaches.
	Breaches int
	// TopKeywords are the five keywords that routed the most new tickets.
	TopKeywords []KeywordCount
	// TagCounts counts new tickets per rule tag (each tag once per ticket).
	TagCounts map[string]int
}

// WaitingTicket is a ticket still waiting for its first response.
type WaitingTicket struct {
	ID         int64
	Department string
	CreatedAt  time.Time
	// Age is To − CreatedAt, wall-clock time.
	Age time.Duration
	// SlackChannel and SlackTS locate the ticket's thread, for a link.
	SlackChannel string
	SlackTS      string
}

// KeywordCount is how many tickets a keyword routed.
type KeywordCount struct {
	Keyword string
	Count   int
}

// DigestTopKeywords is how many keywords a department digest lists.
const DigestTopKeywords = 5

// ComputeDigest computes a department digest over in.Tickets for [in.From, in.To).
func ComputeDigest(in DigestInput) DigestStats {
	tickets := uniqueTickets(in.Tickets)
	st := DigestStats{From: in.From, To: in.To, Breaches: in.Breaches, TagCounts: map[string]int{}}
	var newTickets []bridge.Ticket
	var firsts []time.Duration
	for _, t := range tickets {
		if within(t.CreatedAt, in.From, in.To) {
			newTickets = append(newTickets, t)
			for _, tag := range distinct(t.Tags) {
				st.TagCounts[tag]++
			}
		}
		if within(t.FirstResponseAt, in.From, in.To) {
			firsts = append(firsts, firstResponse(t))
		}
		if t.CreatedAt.Before(in.To) && (t.FirstResponseAt.IsZero() || !t.FirstResponseAt.Before(in.To)) && !closedAt(t, in.To) {
			st.Unanswered = append(st.Unanswered, WaitingTicket{
				ID: t.ID, Department: t.Department, CreatedAt: t.CreatedAt, Age: in.To.Sub(t.CreatedAt),
				SlackChannel: t.SlackChannel, SlackTS: t.SlackTS,
			})
		}
	}
	st.New = len(newTickets)
	st.Answered = len(firsts)
	slices.Sort(firsts)
	st.MedianFirstResponse = Percentile(firsts, 50)
	st.P90FirstResponse = Percentile(firsts, 90)
	slices.SortStableFunc(st.Unanswered, func(a, b WaitingTicket) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	st.TopKeywords = TopKeywords(newTickets, DigestTopKeywords)
	return st
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted (in
// ascending order) by the nearest-rank method: the value at rank
// ⌈p/100 × n⌉ (1-based, at least 1). The result is always one of the
// observed values, never an interpolation; the median (p = 50) of an even
// count is the lower of the two middle values. It is 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// Rounded to 1e-9 first so that 0.9 × 10 is rank 9, not 10.
	rank := int(math.Ceil(math.Round(p/100*float64(n)*1e9) / 1e9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// TopKeywords counts, for each keyword, the tickets it routed (a keyword
// counts once per ticket) and returns the n most frequent, by count then
// keyword in byte order. n <= 0 returns them all.
func TopKeywords(tickets []bridge.Ticket, n int) []KeywordCount {
	counts := map[string]int{}
	for _, t := range tickets {
		for _, k := range distinct(t.Matched) {
			counts[k]++
		}
	}
	out := make([]KeywordCount, 0, len(counts))
	for k, c := range counts {
		out = append(out, KeywordCount{Keyword: k, Count: c})
	}
	slices.SortFunc(out, func(a, b KeywordCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Keyword, b.Keyword))
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// ExecInput is what the executive digest is computed from.
type ExecInput struct {
	// PerDept holds each department's tickets touched in the period, by
	// department id. Every key gets a summary, even with no tickets.
	PerDept map[string][]bridge.Ticket
	// From and To bound the period [From, To).
	From, To time.Time
	// SLA holds each department's effective SLA (see EffectiveSLA);
	// departments missing here use DefaultSLA.
	SLA        map[string]config.SLA
	DefaultSLA config.SLA
	// Calendar measures first responses against the first-response target
	// in business time (nil: around the clock).
	Calendar *Calendar
	// Breaches and Spikes count SLA breaches and spike alerts per
	// department in the period; passed through.
	Breaches map[string]int
	Spikes   map[string]int
}

// DeptSummary is one department's line in the executive digest.
type DeptSummary struct {
	Department string
	// Volume counts tickets created in [From, To).
	Volume int
	// VolumeAnswered counts those of them with a first response before To.
	VolumeAnswered int
	// AnsweredShare is VolumeAnswered / Volume (0 when Volume is 0).
	AnsweredShare float64
	// FirstResponses counts tickets whose first response went out in
	// [From, To), whenever created.
	FirstResponses int
	// MedianFirstResponse is the nearest-rank median wall-clock first
	// response time over FirstResponses (0 when none).
	MedianFirstResponse time.Duration
	// SLAHits counts the FirstResponses that went out within the
	// first-response target, measured in business time from creation as
	// SLAFor does. A department with a zero target counts every answer as
	// a hit.
	SLAHits int
	// SLAHitRate is SLAHits / FirstResponses (0 when FirstResponses is
	// 0: check it before showing a rate).
	SLAHitRate float64
	// Breaches and Spikes are ExecInput's counts for the department.
	Breaches int
	Spikes   int
}

// ComputeExecDigest summarizes every department of in.PerDept, by Volume (largest
// first), then department id.
//
// The SLA hit rate is computed from the tickets rather than from breach
// records: a first response is a hit when it went out no later than
// Calendar.Add(NextOpen(CreatedAt), target). Breach records also count
// next-response breaches and tickets still unanswered, so they are shown
// apart (Breaches) rather than mixed into the rate.
func ComputeExecDigest(in ExecInput) []DeptSummary {
	out := make([]DeptSummary, 0, len(in.PerDept))
	for dept, list := range in.PerDept {
		sla, ok := in.SLA[dept]
		if !ok {
			sla = in.DefaultSLA
		}
		target := sla.FirstResponse.D()
		s := DeptSummary{Department: dept, Breaches: in.Breaches[dept], Spikes: in.Spikes[dept]}
		var firsts []time.Duration
		for _, t := range uniqueTickets(list) {
			if within(t.CreatedAt, in.From, in.To) {
				s.Volume++
				if !t.FirstResponseAt.IsZero() && t.FirstResponseAt.Before(in.To) {
					s.VolumeAnswered++
				}
			}
			if within(t.FirstResponseAt, in.From, in.To) {
				firsts = append(firsts, firstResponse(t))
				if slaHit(in.Calendar, target, t) {
					s.SLAHits++
				}
			}
		}
		s.FirstResponses = len(firsts)
		slices.Sort(firsts)
		s.MedianFirstResponse = Percentile(firsts, 50)
		if s.Volume > 0 {
			s.AnsweredShare = float64(s.VolumeAnswered) / float64(s.Volume)
		}
		if s.FirstResponses > 0 {
			s.SLAHitRate = float64(s.SLAHits) / float64(s.FirstResponses)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b DeptSummary) int {
		return cmp.Or(cmp.Compare(b.Volume, a.Volume), strings.Compare(a.Department, b.Department))
	})
	return out
}

// Representative picks up to n posts that show the raw voice of the
// customers, deterministically:
//
//   - direct messages are left out (they are private);
//   - each post's substance is its text without URLs, @mentions and a
//     leading "RT", case-folded, white space collapsed; posts without
//     substance are left out;
//   - posts are ranked by the length of their substance in characters
//     (longest first: they say the most), then by CreatedAt (earliest
//     first), then by platform and external id;
//   - going down the ranking, a post is taken unless its substance equals
//     one already taken (copies, retweets) or its author already has one.
//
// The posts are returned unchanged (raw text), in ranking order.
func Representative(posts []bridge.Post, n int) []bridge.Post {
	if n <= 0 {
		return nil
	}
	ranked := rankPosts(posts)
	seenText, seenAuthor := map[string]bool{}, map[string]bool{}
	var out []bridge.Post
	for _, c := range ranked {
		if len(out) == n {
			break
		}
		if pick(c, seenText, seenAuthor) {
			out = append(out, c.post)
		}
	}
	return out
}

// RepresentativeByDept picks up to n representative posts across
// departments: departments are ordered by their number of posts (largest
// first, then id), and one post is taken from each in turn, round after
// round, each department's posts ranked as in Representative; substance and
// author are unique across the whole selection.
func RepresentativeByDept(perDept map[string][]bridge.Post, n int) []bridge.Post {
	if n <= 0 {
		return nil
	}
	depts := make([]string, 0, len(perDept))
	for d := range perDept {
		depts = append(depts, d)
	}
	slices.SortFunc(depts, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(perDept[b]), len(perDept[a])), strings.Compare(a, b))
	})
	queues := make([][]candidate, len(depts))
	for i, d := range depts {
		queues[i] = rankPosts(perDept[d])
	}
	seenText, seenAuthor := map[string]bool{}, map[string]bool{}
	var out []bridge.Post
	for progress := true; progress && len(out) < n; {
		progress = false
		for i := range queues {
			if len(out) == n {
				break
			}
			for len(queues[i]) > 0 {
				c := queues[i][0]
				queues[i] = queues[i][1:]
				if pick(c, seenText, seenAuthor) {
					out = append(out, c.post)
					progress = true
					break
				}
			}
		}
	}
	return out
}

type candidate struct {
	post      bridge.Post
	substance string
	length    int
}

// rankPosts returns the eligible posts in Representative's ranking order.
func rankPosts(posts []bridge.Post) []candidate {
	out := make([]candidate, 0, len(posts))
	for _, p := range posts {
		if p.IsDM() {
			continue
		}
		s := substance(p.Text)
		if s == "" {
			continue
		}
		out = append(out, candidate{post: p, substance: s, length: utf8.RuneCountInString(s)})
	}
	slices.SortStableFunc(out, func(a, b candidate) int {
		return cmp.Or(
			cmp.Compare(b.length, a.length),
			a.post.CreatedAt.Compare(b.post.CreatedAt),
			strings.Compare(string(a.post.Platform), string(b.post.Platform)),
			strings.Compare(a.post.ExternalID, b.post.ExternalID),
		)
	})
	return out
}

// pick takes c unless its substance or author was taken already.
func pick(c candidate, seenText, seenAuthor map[string]bool) bool {
	author := string(c.post.Platform) + "\x00" + c.post.AuthorID
	if seenText[c.substance] || (c.post.AuthorID != "" && seenAuthor[author]) {
		return false
	}
	seenText[c.substance] = true
	seenAuthor[author] = true
	return true
}

// substance is text without URLs, @mentions and a leading "RT", lower
// case, white space collapsed.
func substance(text string) string {
	fields := strings.Fields(strings.ToLower(text))
	kept := fields[:0]
	for i, f := range fields {
		switch {
		case i == 0 && f == "rt":
		case strings.HasPrefix(f, "@"), strings.HasPrefix(f, "http://"), strings.HasPrefix(f, "https://"):
		default:
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " ")
}

// uniqueTickets drops later copies of a ticket ID (zero IDs are kept).
func uniqueTickets(ts []bridge.Ticket) []bridge.Ticket {
	seen := make(map[int64]bool, len(ts))
	out := make([]bridge.Ticket, 0, len(ts))
	for _, t := range ts {
		if t.ID != 0 {
			if seen[t.ID] {
				continue
			}
			seen[t.ID] = true
		}
		out = append(out, t)
	}
	return out
}

// distinct returns ss without repeats and empty strings, in order.
func distinct(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// within reports whether t is set and in [from, to).
func within(t, from, to time.Time) bool {
	return !t.IsZero() && !t.Before(from) && t.Before(to)
}

// firstResponse is FirstResponseAt − CreatedAt, never negative.
func firstResponse(t bridge.Ticket) time.Duration {
	return max(t.FirstResponseAt.Sub(t.CreatedAt), 0)
}
