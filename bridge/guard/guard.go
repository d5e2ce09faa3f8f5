package guard

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	// EligibleDMOnly: the author did not mention or quote our account, so X
	// refuses a public API reply; answer by DM or in the X app.
	EligibleDMOnly Eligibility = "dm_only"
	// EligibleDM: the post is itself a DM; answers go back by DM.
	EligibleDM Eligibility = "dm"
)

// PlatformX is the Draft.Platform value for X. An empty Platform is
// treated as X too.
const PlatformX = "x"

// Limits on X, in the units Result.Weighted reports.
const (
	// XLimit is the weighted length limit of a public X post.
	XLimit = 280
	// XDMLimit is the length limit of an X DM, in characters (code points
	// after NFC).
	XDMLimit = 10000
	// URLWeight is what every URL weighs in a public X post, however long.
	URLWeight = 23
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
	// Platform is where the answer goes: "x" (or "") for now. Length limits
	// are checked only for X.
	Platform string
}

// Finding is one reason a guard objects to a draft.
type Finding struct {
	// Guard is the guard that objected: GuardEmpty, GuardLength,
	// GuardEligibility or GuardPII.
	Guard string
	// Kind refines Guard. For GuardPII it is KindPhone, KindEmail, KindCard
	// or KindAccountNumber; for GuardEligibility the post's eligibility
	// ("dm_only" or "dm"); otherwise "".
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
	// Weighted is the length counted against Limit: X's weighted length
	// for a public reply, the number of characters (code points after NFC)
	// for a DM.
	Weighted int
	// Limit is the length limit that applies: XLimit for a public X reply,
	// XDMLimit for an X DM, 0 when no length limit is known (other
	// platforms).
	Limit int
}

// Check runs every guard on d and returns all findings, not just the
// first. It is pure and safe for concurrent use.
func Check(d Draft) Result {
	var res Result
	public := d.Visibility != VisibilityDM
	isX := d.Platform == "" || strings.EqualFold(d.Platform, PlatformX)

	if isBlank(d.Text) {
		res.Findings = append(res.Findings, Finding{
			Guard:   GuardEmpty,
			Message: "This reply has no text to send. Write the answer first (for a DM, put it after dm:).",
		})
	}

	if public {
		switch d.Eligibility {
		case EligibleDMOnly:
			res.Findings = append(res.Findings, Finding{
				Guard: GuardEligibility,
				Kind:  string(EligibleDMOnly),
				Message: "X only lets us reply publicly to posts that mention or quote our account. " +
					"This post didn't, so answer by DM (start with dm:) or reply in the X app.",
			})
		case EligibleDM:
			res.Findings = append(res.Findings, Finding{
				Guard: GuardEligibility,
				Kind:  string(EligibleDM),
				Message: "This conversation is a DM, so a public reply isn't possible. " +
					"Answer by DM: start your reply with dm:",
			})
		}
	}

	if public {
		res.Weighted = WeightedLength(d.Text)
		if isX {
			res.Limit = XLimit
			if res.Weighted > XLimit {
				res.Findings = append(res.Findings, Finding{
					Guard: GuardLength,
					Message: fmt.Sprintf("Too long for X: %s of %s characters "+
						"(Japanese, Korean and emoji count double, links count 23). Shorten it by %s.",
						groupDigits(res.Weighted), groupDigits(XLimit), groupDigits(res.Weighted-XLimit)),
				})
			}
		}
		res.Findings = append(res.Findings, FindPII(d.Text)...)
	} else {
		res.Weighted = utf8.RuneCountInString(norm.NFC.String(d.Text))
		if isX {
			res.Limit = XDMLimit
			if res.Weighted > XDMLimit {
				res.Findings = append(res.Findings, Finding{
					Guard: GuardLength,
					Message: fmt.Sprintf("Too long for an X DM: %s of %s characters. Shorten it by %s.",
						groupDigits(res.Weighted), groupDigits(XDMLimit), groupDigits(res.Weighted-XDMLimit)),
				})
			}
		}
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
