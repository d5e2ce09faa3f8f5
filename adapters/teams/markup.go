package teams

import (
	"strings"
)

// The core writes notices (msg.Text) and report mentions in a small
// markup that Slack shows natively: <@ID> mentions a person,
// <!subteam^ID> a group, :name: is an emoji shortcode, *bold* is bold, and
// <https://…|label> is a link, and &amp; &lt; &gt; are the characters
// themselves. translateMarkup turns it
// into the text of a Teams message (textFormat "xml") and its mention
// entities; everything else is escaped (EscapeText), so nothing in the text
// can mention anyone or format anything that the core did not ask for.

// emoji maps the shortcodes carebridge uses (grep bridge/ and
// bridge/watch/ for :[a-z_]+:, and this package's own) to Unicode.
// An unknown shortcode stays as written.
var emoji = map[string]string{
	"ballot_box_with_check":     "☑️",
	"x":                         "❌",
	"white_check_mark":          "✅",
	"warning":                   "⚠️",
	"tada":                      "🎉",
	"rotating_light":            "🚨",
	"no_entry_sign":             "🚫",
	"leftwards_arrow_with_hook": "↩️",
	"information_source":        "ℹ️",
	"incoming_envelope":         "📨",
	"envelope":                  "✉️",
	"hourglass_flowing_sand":    "⏳",
	"hourglass":                 "⌛",
	"chart_with_upwards_trend":  "📈",
	"office":                    "🏢",
	"speech_balloon":            "💬",
	"lock":                      "🔒",
	"bell":                      "🔔",
	"eyes":                      "👀",
	"memo":                      "📝",
	"thumbsup":                  "👍",
	"+1":                        "👍",
	"heavy_check_mark":          "✔️",
	"alarm_clock":               "⏰",
	"mailbox":                   "📫",
	"clipboard":                 "📋",
	"sunrise":                   "🌅",
	"wave":                      "👋",
	"pencil2":                   "✏️",
	"pencil":                    "📝",
	"mag":                       "🔍",
	"sparkles":                  "✨",
}

// mentionTarget is who a mention notifies, as Teams needs it.
type mentionTarget struct {
	ID   string // AAD object id or Teams user id (29:…), or a tag id
	Name string // shown inside <at>…</at>
	Tag  bool   // a Teams tag: the entity's mentioned.type is "tag"
}

// resolver names the people and groups mentioned. person always returns a
// target (with a fallback name); group returns ok=false when the group is
// not a Teams tag carebridge knows, and it is then written as its plain
// name without a mention.
type resolver struct {
	person func(id string) mentionTarget
	group  func(id string) (mentionTarget, bool)
}

// translateMarkup renders core markup as Teams text and mention entities.
func translateMarkup(text string, res resolver) (string, []entity) {
	var b strings.Builder
	var ents []entity
	seen := map[string]bool{}
	addMention := func(t mentionTarget) {
		at := "<at>" + EscapeText(t.Name) + "</at>"
		b.WriteString(at)
		key := t.ID + "\x00" + at
		if seen[key] {
			return
		}
		seen[key] = true
		m := &mentioned{ID: t.ID, Name: t.Name}
		if t.Tag {
			m.Type = "tag"
		}
		ents = append(ents, entity{Type: "mention", Text: at, Mentioned: m})
	}
	translateInto(&b, text, res, addMention, true)
	return b.String(), ents
}

func translateInto(b *strings.Builder, text string, res resolver, addMention func(mentionTarget), allowBold bool) {
	plain := func(s string) { b.WriteString(EscapeText(s)) }
	for i := 0; i < len(text); {
		rest := text[i:]
		switch {
		case strings.HasPrefix(rest, "<@"):
			if end := strings.IndexByte(rest, '>'); end > 2 {
				id, _, _ := strings.Cut(rest[2:end], "|")
				if validChatID(id) && res.person != nil {
					addMention(res.person(id))
					i += end + 1
					continue
				}
			}
		case strings.HasPrefix(rest, "<!subteam^"):
			if end := strings.IndexByte(rest, '>'); end > 10 {
				id, label, _ := strings.Cut(rest[10:end], "|")
				if validChatID(id) {
					if t, ok := groupOf(res, id); ok {
						addMention(t)
					} else {
						name := strings.TrimPrefix(label, "@")
						if name == "" {
							name = t.Name
						}
						if name == "" {
							name = id
						}
						plain("@" + name)
					}
					i += end + 1
					continue
				}
			}
		case strings.HasPrefix(rest, "<https://"):
			// <URL|label>: a link, when the URL is a plain https one.
			if end := strings.IndexByte(rest, '>'); end > 0 {
				u, label, _ := strings.Cut(rest[1:end], "|")
				if safeURL(u) {
					if label == "" {
						label = u
					}
					b.WriteString(`<a href="` + EscapeText(u) + `">`)
					translateInto(b, label, resolver{}, addMention, false)
					b.WriteString("</a>")
					i += end + 1
					continue
				}
			}
		case strings.HasPrefix(rest, "&amp;"):
			plain("&")
			i += 5
			continue
		case strings.HasPrefix(rest, "&lt;"):
			plain("<")
			i += 4
			continue
		case strings.HasPrefix(rest, "&gt;"):
			plain(">")
			i += 4
			continue
		case rest[0] == ':':
			if end := strings.IndexByte(rest[1:], ':'); end > 0 {
				if e, ok := emoji[rest[1:end+1]]; ok {
					b.WriteString(e)
					i += end + 2
					continue
				}
			}
		case rest[0] == '*' && allowBold:
			if inner, ok := boldSpan(rest); ok {
				b.WriteString("<b>")
				translateInto(b, inner, res, addMention, false)
				b.WriteString("</b>")
				i += len(inner) + 2
				continue
			}
		}
		// One character as text; a run of ordinary text at once.
		n := strings.IndexAny(rest[1:], "<&:*")
		if n < 0 {
			plain(rest)
			return
		}
		plain(rest[:n+1])
		i += n + 1
	}
}

func groupOf(res resolver, id string) (mentionTarget, bool) {
	if res.group == nil {
		return mentionTarget{}, false
	}
	return res.group(id)
}

// boldSpan reports the text between a "*" at the start of s and the next
// "*" on the same line, as Slack reads *bold*: not empty, not starting or
// ending with a space.
func boldSpan(s string) (string, bool) {
	end := strings.IndexByte(s[1:], '*')
	if end <= 0 {
		return "", false
	}
	inner := s[1 : end+1]
	if strings.ContainsAny(inner, "\n") || inner[0] == ' ' || inner[len(inner)-1] == ' ' {
		return "", false
	}
	return inner, true
}

// validChatID accepts the ids a mention may carry: AAD object ids (GUIDs),
// Teams user ids ("29:1abc…"), Slack-style ids, and Teams tag ids (base64).
func validChatID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == ':' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
