package xfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// problem is an RFC 7807 problem body as X sends it. Extra members
// (connection_issue, errors) are added by the callers that need them.
type problem struct {
	Title           string       `json:"title"`
	Detail          string       `json:"detail,omitempty"`
	Type            string       `json:"type"`
	Status          int          `json:"status,omitempty"`
	ConnectionIssue string       `json:"connection_issue,omitempty"`
	Errors          []paramError `json:"errors,omitempty"`
}

// paramError is an entry of a 400's errors array.
type paramError struct {
	Parameters map[string][]string `json:"parameters,omitempty"`
	Message    string              `json:"message"`
}

const (
	typeInvalidRequest = "https://api.twitter.com/2/problems/invalid-request"
	typeNotFound       = "https://api.twitter.com/2/problems/resource-not-found"
	typeStreaming      = "https://api.twitter.com/2/problems/streaming-connection"
)

var (
	problemUnauthorized    = problem{Title: "Unauthorized", Type: "about:blank", Status: 401, Detail: "Unauthorized"}
	problemTooManyRequests = problem{Title: "Too Many Requests", Detail: "Too Many Requests", Type: "about:blank", Status: 429}
	problemDuplicate       = problem{Detail: "You are not allowed to create a Tweet with duplicate content.", Type: "about:blank", Title: "Forbidden", Status: 403}
	// problemReplyNotAllowed is the 2026 restriction on programmatic replies
	// and quotes (reference §1.2, second 403).
	problemReplyNotAllowed = problem{
		Detail: "You can only reply to or quote posts where you are mentioned or are the author.",
		Status: 403, Title: "Authorization Error",
		Type: "https://api.x.com/2/problems/not-authorized-for-resource",
	}
	// problemReplyRestricted is the conversation's author limiting who may
	// reply (reply_settings; reference §1.2, first 403).
	problemReplyRestricted = problem{
		Detail: "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the author of the post you are replying to.",
		Type:   "about:blank", Title: "Forbidden", Status: 403,
	}
	// problemReplyTargetGone: the v1.1-era wording X still uses when the
	// reply target is deleted or invisible. Assumption: not verified for v2.
	problemReplyTargetGone = problem{Detail: "You attempted to reply to a Tweet that is deleted or not visible to you.", Type: "about:blank", Title: "Forbidden", Status: 403}
	// problemDMRejected: ASSUMPTION. The reference does not give X's body
	// for a recipient who does not accept our DMs; we use the v1.1 message
	// of error 349 in a v2 Forbidden problem.
	problemDMRejected = problem{Detail: "You cannot send messages to this user.", Type: "about:blank", Title: "Forbidden", Status: 403}
	// problemTooManyConnections is X's answer to a second stream connection.
	problemTooManyConnections = problem{
		Title: "ConnectionException", Detail: "This stream is currently at the maximum allowed connection limit.",
		ConnectionIssue: "TooManyConnections", Type: typeStreaming,
	}
	// problemNoRules: X answers 409 when connecting without rules; the
	// exact body is an ASSUMPTION (a streaming-connection problem with the
	// RuleConfigurationIssue connection_issue from X's OpenAPI enum).
	problemNoRules = problem{
		Title: "ConnectionException", Detail: "This stream has no rules. Add rules with POST /2/tweets/search/stream/rules before connecting.",
		ConnectionIssue: "RuleConfigurationIssue", Type: typeStreaming, Status: 409,
	}
)

func unsupportedAuth(used, supported string) problem {
	return problem{
		Title:  "Unsupported Authentication",
		Detail: fmt.Sprintf("Authenticating with %s is forbidden for this endpoint.  Supported authentication types are %s.", used, supported),
		Type:   "https://api.twitter.com/2/problems/unsupported-authentication",
		Status: 403,
	}
}

// invalidRequest is X's 400 body: no status member, an errors array naming
// the parameter.
func invalidRequest(param, value, msg string) problem {
	return problem{
		Title: "Invalid Request", Detail: "One or more parameters to your request was invalid.", Type: typeInvalidRequest,
		Errors: []paramError{{Parameters: map[string][]string{param: {value}}, Message: msg}},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"title":"Internal Server Error","type":"about:blank","status":500}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeProblem sends a problem body. X labels top-level problems
// application/problem+json.
func writeProblem(w http.ResponseWriter, status int, p problem) {
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// resourceError is a partial error inside a 200 response.
type resourceError struct {
	Value        string `json:"value"`
	Detail       string `json:"detail"`
	Title        string `json:"title"`
	ResourceType string `json:"resource_type"`
	Parameter    string `json:"parameter"`
	ResourceID   string `json:"resource_id"`
	Type         string `json:"type"`
	Section      string `json:"section,omitempty"`
}

func notFound(resourceType, parameter, value string) resourceError {
	by := "id"
	switch parameter {
	case "ids":
		by = "ids"
	case "username", "entities.mentions.username":
		by = "username"
	}
	return resourceError{
		Value: value, Detail: fmt.Sprintf("Could not find %s with %s: [%s].", resourceType, by, value),
		Title: "Not Found Error", ResourceType: resourceType, Parameter: parameter, ResourceID: value, Type: typeNotFound,
	}
}

func csv(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
