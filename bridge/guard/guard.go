package guard

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Visibility says how a draft answer goes out. It mirrors bridge.Visibility
// so that this package does not import bridge.
type Visibility string

// Visibilities.
const (
	// VisibilityPublic is a public reply on the platform.
	VisibilityPublic Visibility = "public"
	// VisibilityDM is a direct message to the customer.
	VisibilityDM Visibility = "dm"
)

// Eligibility says how the post being answered can be answered through the
// platform's API. It mirrors bridge.Eligibility.
type Eligibility string

// Eligibilities.
const (
	// EligiblePublic: a public reply through the API is possible.
	EligiblePublic Eligibility = "public"
	// EligibleDMOnly: the platform refuses a public API reply to this post
	// (on X: the author did not mention or quote our account); answer by
	// DM or in the platform's own app.
	EligibleDMOnly Eligibility = "dm_only"
	// EligibleDM: the post is itself a DM; answers go back by DM.
	EligibleDM Eligibility = "dm"
	// EligiblePublicOnly: the platform refuses a DM in answer to this
	// post now; answer publicly.
	EligiblePublicOnly Eligibility = "public_only"
	// EligibleNone: the platform refuses any answer to this post now, or
	// never takes one (a listen-only network: a blog or forum, where staff
	// answer on the site itself).
	EligibleNone Eligibility = "none"
)

// Guard names, used in Finding.Guard.
const (
	GuardEmpty       = "empty"
	GuardLength      = "length"
	GuardEligibility = "eligibility"
	GuardPII         = "pii"
)

// Kinds of personal data, used in Finding.Kind when Guard is GuardPII.
const (
	KindPhone         = "phone"
	KindEmail         = "email"
	KindCard          = "card"
	KindAccountNumber = "account_number"
)

// Draft is an answer a staff member wrote, as the guards see it.
type Draft struct {
	// Text is the answer body, without the "dm:" prefix that chose the
	// visibility.
	Text string
	// Visibility is how the answer would go out. Anything other than
	// VisibilityDM (including "") is checked as a public reply.
	Visibility Visibility
	// Eligibility is that of the post being answered. "" is treated as
	// EligiblePublic.
	Eligibility Eligibility
	// Length is the text's length as the platform counts it for this
	// visibility, and its limit; the platform's rules measure it. A zero
	// Limit checks nothing.
	Length Length
	// DMOnlyWhy says, for a post the platform lets us answer only by DM
	// (EligibleDMOnly), only publicly (EligiblePublicOnly) or not at all
	// (EligibleNone), why and what to do, in the platform's terms. ""
	// gives a general message.
	DMOnlyWhy string
}

// Length is a text's length as its platform counts it.
type Length struct {
	// N is the length.
	N int
	// Limit is the most the platform accepts; 0 when no limit is known.
	Limit int
	// Of names what the limit is of, for people: "X", "an X DM".
	Of string
	// How says how the platform counts, for people, when it is not plain
	// characters ("links count 23"); "" otherwise.
	How string
}

// Finding is one reason a guard objects to a draft.
type Finding struct {
	// Guard is the guard that objected: GuardEmpty, GuardLength,
	// GuardEligibility or GuardPII.
	Guard string
	// Kind refines Guard. For GuardPII it is KindPhone, KindEmail, KindCard
	// or KindAccountNumber; for GuardEligibility the post's eligibility
	// ("dm_only", "dm" or "none"); otherwise "".
	Kind string
	// Excerpt is the offending text with everything but its last 2–4
	// characters masked ("•••-••••-5678"); "" for guards that do not point
	// at a piece of the text.
	Excerpt string
	// Message says, in plain English for a busy support agent, what is
	// wrong and what to do.
	Message string
}

// Result is what Check found.
type Result struct {
	// OK is true iff Findings is empty.
	OK bool
	// Findings lists every objection, in this order: empty, eligibility,
	// length, then personal data in text order.
	Findings []Finding
	// Weighted is the length counted against Limit (Draft.Length.N).
	Weighted int
	// Limit is the length limit that applies (Draft.Length.Limit); 0 when
	// none is known.
	Limit int
}

// Check runs every guard on d and returns all findings, not just the
// first. It is pure and safe for concurrent use.
func Check(d Draft) Result {
	var res Result
	public := d.Visibility != VisibilityDM

	if isBlank(d.Text) {
		res.Findings = append(res.Findings, Finding{
			Guard:   GuardEmpty,
			Message: "This reply has no text to send. Write the answer first (for a DM, put it after dm:).",
		})
	}

	if public {
		switch d.Eligibility {
		case EligibleDMOnly:
			why := d.DMOnlyWhy
			if why == "" {
				why = "The platform doesn't let us reply publicly to this post, so answer by DM (start with dm:)."
			}
			res.Findings = append(res.Findings, Finding{Guard: GuardEligibility, Kind: string(EligibleDMOnly), Message: why})
		case EligibleDM:
			res.Findings = append(res.Findings, Finding{
				Guard: GuardEligibility,
				Kind:  string(EligibleDM),
				Message: "This conversation is a DM, so a public reply isn't possible. " +
					"Answer by DM: start your reply with dm:",
			})
		}
	}
	switch {
	case d.Eligibility == EligibleNone:
		why := d.DMOnlyWhy
		if why == "" {
			why = "carebridge can't answer this post on its platform now. Answer on the site itself if you can; a note: in the thread keeps the team informed."
		}
		res.Findings = append(res.Findings, Finding{Guard: GuardEligibility, Kind: string(EligibleNone), Message: why})
	case !public && d.Eligibility == EligiblePublicOnly:
		why := d.DMOnlyWhy
		if why == "" {
			why = "The platform doesn't let us answer this post by DM, so reply publicly (without dm:)."
		}
		res.Findings = append(res.Findings, Finding{Guard: GuardEligibility, Kind: string(EligiblePublicOnly), Message: why})
	}

	res.Weighted, res.Limit = d.Length.N, d.Length.Limit
	if l := d.Length; l.Limit > 0 && l.N > l.Limit {
		how := ""
		if l.How != "" {
			how = " (" + l.How + ")"
		}
		res.Findings = append(res.Findings, Finding{
			Guard: GuardLength,
			Message: fmt.Sprintf("Too long for %s: %s of %s characters%s. Shorten it by %s.",
				l.Of, groupDigits(l.N), groupDigits(l.Limit), how, groupDigits(l.N-l.Limit)),
		})
	}
	if public {
		res.Findings = append(res.Findings, FindPII(d.Text)...)
	}

	res.OK = len(res.Findings) == 0
	return res
}

// isBlank reports whether s has nothing visible: only white space, format
// characters (zero-width spaces and joiners, BOM, bidi marks, soft hyphen),
// variation selectors and the Hangul and Braille blank fillers.
func isBlank(s string) bool {
	for _, r := range s {
		switch {
		case unicode.IsSpace(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Variation_Selector, r):
		case r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0, r == 0x2800:
		default:
			return false
		}
	}
	return true
}

// groupDigits formats n with commas between groups of three digits.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if len(s) <= 3 {
		if neg {
			return "-" + s
		}
		return s
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	first := len(s) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(s[:first])
	for i := first; i < len(s); i += 3 {
		b.WriteByte(',')
		b.WriteString(s[i : i+3])
	}
	return b.String()
}
