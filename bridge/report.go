package bridge

// MessageReport is a chat message kind: a structured message from
// carebridge itself (a digest, the executive digest, a spike alert, an
// FYI line in the watch channel), rendered by the Publisher.
const MessageReport MessageKind = "report"

// Report is a platform-neutral structured message. Every string is plain
// text: the Publisher escapes it, so customer text and keywords can never
// ping anyone or forge a link.
type Report struct {
	Title    string          `json:"title"`              // headline
	Subtitle string          `json:"subtitle,omitempty"` // a small line under it (the period, say)
	Mention  string          `json:"mention,omitempty"`  // a user group (S…) or user (U…) to notify
	Sections []ReportSection `json:"sections,omitempty"`
	// Chart is the week behind the report, for a surface that can draw it
	// (nil: none). The text above must not depend on it.
	Chart *ReportChart `json:"chart,omitempty"`
}

// ReportSection is one part of a Report.
type ReportSection struct {
	Heading string        `json:"heading,omitempty"`
	Text    string        `json:"text,omitempty"`
	Fields  []ReportField `json:"fields,omitempty"` // short label/value pairs, two per row
	Items   []ReportItem  `json:"items,omitempty"`  // a bulleted list
	Posts   []Post        `json:"posts,omitempty"`  // customers' raw posts, quoted as they wrote them
}

// ReportField is one label/value pair.
type ReportField struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// ReportItem is one bulleted line, linked to a URL or to a chat message
// (the Publisher turns Ref into a link).
type ReportItem struct {
	Text string   `json:"text"`
	URL  string   `json:"url,omitempty"`
	Ref  *ChatRef `json:"ref,omitempty"`
}
