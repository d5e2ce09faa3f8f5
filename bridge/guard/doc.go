// Package guard checks a draft answer before a manager is asked to approve
// it: is there any text, can the post be answered this way at all, does the
// answer fit, and does a public answer leak personal data. It is pure — no
// I/O, no clock, no configuration — and safe for concurrent use.
//
// Check runs every guard and returns all findings, each with a plain
// English message for the support agent; where a DM is the remedy the
// message says to start the reply with "dm:".
//
// # Guards
//
//   - empty: the text has nothing visible (white space, zero-width and
//     other format characters, variation selectors, Hangul fillers).
//   - eligibility (public drafts): a post marked "dm_only" cannot be
//     answered publicly through the platform's API (on X: it did not
//     mention or quote our account); the platform's rules say why
//     (Draft.DMOnlyWhy). A post marked "dm" is a DM conversation.
//   - length: the platform's rules measure the text for the visibility and
//     give the limit (Draft.Length); the guard compares and explains. No
//     limit (0) checks nothing. X's weighted 280 lives in adapters/x.
//   - pii (public drafts): phone numbers, e-mail addresses, card numbers
//     and long account or contract numbers (FindPII).
//
// # Decisions
//
// Visibility: anything but "dm", including "", is checked as public, the
// stricter case. An empty Eligibility counts as "public". Draft.Text is the
// body after the "dm:" prefix.
//
// URLs (URLSpans, also what X counts as 23): http:// and https:// URLs
// (internationalized hosts included), www.<domain>.<tld>, and bare ASCII
// domains under a two-letter country code or a short list of common
// generic TLDs (<name>.<cc> needs a path, except .co and .tv, as in
// twitter-text). A bare domain under a TLD missing from the list is read as
// text. Paths and queries use twitter-text's character sets, so trailing
// punctuation is not part of a URL. URLs with user:password@ or IPv6 hosts
// are not recognized.
//
// Personal data is searched in a folded copy of the text: NFKC per rune
// (full-width digits, ＠, ＋, （）), dash-like characters including the
// katakana prolonged sound mark as '-', all white space as ' ', zero-width
// characters dropped. Excerpts come from the original text. E-mail
// addresses and URLs are found first and their digits ignored, so order
// and status ids inside links are never flagged. Digits then form runs of
// groups joined by space, '-', '.', '/' or parentheses; a run is cut into
// chunks at separators holding a space or a '/', and read left to right,
// taking the longest span of chunks that is:
//
//   - a phone number: '+' and 8–15 digits (international: +81, +82, +1,
//     +44, +33 …); or starting with 0, 9–11 digits in groups, the first of
//     2–5 (Japan 090-1234-5678, 03-1234-5678, 0120-123-456; Korea
//     010-1234-5678, 02-123-4567; UK and France domestic), or 10–11 digits
//     without separators; or North American [1-]NXX-NXX-XXXX with the area
//     code in parentheses or not. A span holding a date is not a phone
//     number.
//   - a card number: 13–19 digits, in one group or in 2–5 groups of 3–6
//     digits joined by spaces or dashes, passing the Luhn check. The same
//     shape failing the Luhn check (4111 1111 1111 1112) is reported as an
//     account_number: a mistyped card number or a contract number written
//     like one is still not for a public reply.
//
// Otherwise a single chunk of 8 or more digits, alone or joined by dashes,
// is an account_number, unless it is a date (2026-11-20, 20261120, with a
// year 1900–2099), a year range (2025-2026), a US ZIP+4 code (94103-1234)
// or an amount of money (a currency sign before it, or 円, 원, %, yen, won
// … after it). Digits joined by '.' (versions, IP addresses, decimals) and
// space-separated groups that are not phone- or card-shaped are never
// account numbers. Digits right after letters are still checked
// ("ID12345678" is flagged). Times, prices with thousands separators,
// percentages and numbers under 8 digits do not match any rule. Other
// long dashed identifiers (an ISBN such as 978-4-06-123456-7) are flagged
// as account numbers: a false alarm costs the agent one edit, a leak
// cannot be undone. Every occurrence is reported, duplicates included.
// There is no allowlist for the company's own hotline: a public 0120
// number is flagged like any other phone number.
//
// Masking: an excerpt keeps the last 4 characters of the match (the last 2
// when the match is shorter than 8 characters) and the layout characters
// ' ', '-', '(', ')', '+', '.', '@'; every other character becomes '•'
// ("•••-••••-5678", "••••@•••••••.com").
package guard
