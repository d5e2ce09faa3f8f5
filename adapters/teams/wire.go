package teams

import "encoding/json"

// The Bot Framework activity schema, as much of it as carebridge reads or
// writes. Unknown fields are ignored on the way in.

type activity struct {
	Type             string               `json:"type"`
	ID               string               `json:"id,omitempty"`
	Timestamp        string               `json:"timestamp,omitempty"`
	ServiceURL       string               `json:"serviceUrl,omitempty"`
	ChannelID        string               `json:"channelId,omitempty"`
	From             *channelAccount      `json:"from,omitempty"`
	Recipient        *channelAccount      `json:"recipient,omitempty"`
	Conversation     *conversationAccount `json:"conversation,omitempty"`
	ReplyToID        string               `json:"replyToId,omitempty"`
	Text             string               `json:"text,omitempty"`
	TextFormat       string               `json:"textFormat,omitempty"`
	Summary          string               `json:"summary,omitempty"`
	Attachments      []attachment         `json:"attachments,omitempty"`
	Entities         []entity             `json:"entities,omitempty"`
	ChannelData      *channelData         `json:"channelData,omitempty"`
	Value            json.RawMessage      `json:"value,omitempty"`
	Name             string               `json:"name,omitempty"`   // invoke: what is invoked
	Action           string               `json:"action,omitempty"` // installationUpdate: add, remove, …
	ReactionsAdded   []reaction           `json:"reactionsAdded,omitempty"`
	ReactionsRemoved []reaction           `json:"reactionsRemoved,omitempty"`
}

type channelAccount struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
	Role        string `json:"role,omitempty"`
}

type conversationAccount struct {
	ID               string `json:"id"`
	IsGroup          bool   `json:"isGroup,omitempty"`
	ConversationType string `json:"conversationType,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type channelData struct {
	TeamsChannelID string  `json:"teamsChannelId,omitempty"`
	TeamsTeamID    string  `json:"teamsTeamId,omitempty"`
	Channel        *idName `json:"channel,omitempty"`
	Team           *idName `json:"team,omitempty"`
	Tenant         *idName `json:"tenant,omitempty"`
	EventType      string  `json:"eventType,omitempty"`
}

type attachment struct {
	ContentType string `json:"contentType"`
	Content     any    `json:"content,omitempty"`
}

type entity struct {
	Type      string     `json:"type"`
	Text      string     `json:"text,omitempty"`
	Mentioned *mentioned `json:"mentioned,omitempty"`
}

type mentioned struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type,omitempty"` // "tag" for a tag mention; empty for a person
}

type reaction struct {
	Type string `json:"type"`
}

// conversationParameters is the body of POST /v3/conversations.
type conversationParameters struct {
	IsGroup     bool         `json:"isGroup"`
	ChannelData *channelData `json:"channelData,omitempty"`
	Activity    *activity    `json:"activity,omitempty"`
	TenantID    string       `json:"tenantId,omitempty"`
}

// conversationResource is the answer to POST /v3/conversations.
type conversationResource struct {
	ID         string `json:"id"`
	ActivityID string `json:"activityId"`
	ServiceURL string `json:"serviceUrl,omitempty"`
}

// resourceResponse is the answer to posting or updating an activity.
type resourceResponse struct {
	ID string `json:"id"`
}

// errorResponse is the Bot Connector's error body.
type errorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// teamsChannelAccount is the answer to GET …/members/{id}.
type teamsChannelAccount struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	AADObjectID string `json:"aadObjectId,omitempty"`
}
