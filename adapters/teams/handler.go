package teams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carebridge/carebridge/bridge"
)

// HandlerConfig configures the inbound Handler.
type HandlerConfig struct {
	AppID string // the bot's Microsoft App ID: the aud of every token
	// OpenIDMetadataURL is where Bot Framework's keys are published; ""
	// means BotFrameworkOpenIDMetadataURL.
	OpenIDMetadataURL string
	// ExtraIssuers are trusted besides Bot Framework's (EntraIssuers of
	// the bot's tenant, when Teams sends it Entra ID tokens).
	ExtraIssuers []TrustedIssuer
	// ChannelID is the channel activities must come from and the
	// signing key must endorse; "" means "msteams".
	ChannelID    string
	MaxBodyBytes int64   // 0 means 256 KiB
	Client       *Client // optional: told the serviceUrl and people's names
	HTTPClient   *http.Client
	Clock        bridge.Clock
	Logger       *slog.Logger
}

// Handler is the bot's messaging endpoint (POST /teams/messages, mounted
// wherever the configuration says): it validates each request's token,
// turns the activity into bridge.ChatEvents and hands them to the core.
type Handler struct {
	cfg      HandlerConfig
	botID    string // "28:<app id>"
	gestures map[string]string
	core     bridge.ChatEventHandler
	issuers  map[string]*issuerKeys
	clock    bridge.Clock
	log      *slog.Logger
}

type issuerKeys struct {
	TrustedIssuer
	keys *keySet
}

// NewHandler returns the endpoint. gestures names what each draft card
// button means to the core: Approve, ApproveDM (Send as DM) and Reject
// become reactions with those names on the card (the same names a
// reaction on the card would carry, e.g. "like" to approve).
func NewHandler(cfg HandlerConfig, gestures bridge.Gestures, core bridge.ChatEventHandler) (*Handler, error) {
	if cfg.AppID == "" {
		return nil, errors.New("teams handler: app id is required")
	}
	if core == nil {
		return nil, errors.New("teams handler: no event handler")
	}
	if gestures.Approve == "" || gestures.ApproveDM == "" || gestures.Reject == "" {
		return nil, errors.New("teams handler: the approve, send-as-DM and reject gestures are required")
	}
	if cfg.OpenIDMetadataURL == "" {
		cfg.OpenIDMetadataURL = BotFrameworkOpenIDMetadataURL
	}
	if cfg.ChannelID == "" {
		cfg.ChannelID = "msteams"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 256 << 10
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = bridge.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{
		cfg: cfg, botID: "28:" + cfg.AppID, core: core, clock: cfg.Clock, log: cfg.Logger,
		gestures: map[string]string{ActionApprove: gestures.Approve, ActionApproveDM: gestures.ApproveDM, ActionReject: gestures.Reject},
		issuers:  map[string]*issuerKeys{},
	}
	sets := map[string]*keySet{} // one cache per metadata document
	add := func(ti TrustedIssuer) {
		ks, ok := sets[ti.OpenIDMetadataURL]
		if !ok {
			ks = &keySet{metadataURL: ti.OpenIDMetadataURL, hc: cfg.HTTPClient, clock: cfg.Clock, log: cfg.Logger}
			sets[ti.OpenIDMetadataURL] = ks
		}
		h.issuers[ti.Issuer] = &issuerKeys{TrustedIssuer: ti, keys: ks}
	}
	add(TrustedIssuer{Issuer: BotFrameworkIssuer, OpenIDMetadataURL: cfg.OpenIDMetadataURL, RequireEndorsement: true})
	for _, ti := range cfg.ExtraIssuers {
		if ti.Issuer == "" || ti.OpenIDMetadataURL == "" {
			return nil, fmt.Errorf("teams handler: trusted issuer %q needs an issuer and a metadata URL", ti.Issuer)
		}
		add(ti)
	}
	return h, nil
}

// KeyFetches counts the JWKS fetches of the Bot Framework key set.
func (h *Handler) KeyFetches() int {
	ks := h.issuers[BotFrameworkIssuer].keys
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
}

// authError is a refused request: 401 or 403.
type authError struct {
	status int
	why    string
}

func (e *authError) Error() string { return e.why }

func unauthorized(format string, a ...any) *authError {
	return &authError{http.StatusUnauthorized, fmt.Sprintf(format, a...)}
}

func forbidden(format string, a ...any) *authError {
	return &authError{http.StatusForbidden, fmt.Sprintf(format, a...)}
}

// tokenSkew is the clock tolerance on exp and nbf.
const tokenSkew = 5 * time.Minute

// verified is what a valid token vouches for.
type verified struct {
	key        signingKey
	issuer     *issuerKeys
	serviceURL string
}

// verifyToken checks the token's signature, algorithm, issuer, times and
// audience. The activity's channel and serviceUrl are checked against the
// result once the body is parsed.
func (h *Handler) verifyToken(ctx context.Context, raw string) (*verified, error) {
	var v verified
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithLeeway(tokenSkew),
		jwt.WithTimeFunc(h.clock.Now),
		jwt.WithExpirationRequired(),
	)
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		iss, _ := claims.GetIssuer()
		ik, ok := h.issuers[iss]
		if !ok {
			return nil, fmt.Errorf("issuer %q is not trusted", iss)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		k, err := ik.keys.key(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		v.key, v.issuer = k, ik
		return k.key, nil
	})
	if err != nil {
		return nil, unauthorized("token: %v", err)
	}
	aud, _ := claims.GetAudience()
	if !slices.Contains(aud, h.cfg.AppID) {
		return nil, forbidden("token is for audience %v, not this bot", aud)
	}
	v.serviceURL, _ = claims["serviceurl"].(string)
	return &v, nil
}

// ServeHTTP handles one activity.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		h.refuse(w, unauthorized("no bearer token"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "activity too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	v, err := h.verifyToken(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		h.refuse(w, err)
		return
	}
	var act activity
	if err := json.Unmarshal(body, &act); err != nil || act.Type == "" {
		http.Error(w, "malformed activity", http.StatusBadRequest)
		return
	}
	if act.ServiceURL == "" || v.serviceURL != act.ServiceURL {
		h.refuse(w, forbidden("serviceurl claim %q does not match the activity's serviceUrl %q", v.serviceURL, act.ServiceURL))
		return
	}
	if act.ChannelID != h.cfg.ChannelID {
		h.refuse(w, forbidden("activity from channel %q, not %q", act.ChannelID, h.cfg.ChannelID))
		return
	}
	if v.key.hasEndorsements && !v.key.endorses(act.ChannelID) || !v.key.hasEndorsements && v.issuer.RequireEndorsement {
		h.refuse(w, forbidden("signing key does not endorse channel %q", act.ChannelID))
		return
	}
	h.handle(w, r.Context(), &act)
}

func (h *Handler) refuse(w http.ResponseWriter, err error) {
	status := http.StatusUnauthorized
	var ae *authError
	if errors.As(err, &ae) {
		status = ae.status
	}
	h.log.Warn("teams activity refused", "status", status, "err", err)
	http.Error(w, http.StatusText(status), status)
}

// invokeResponse is the body of the answer to an invoke activity.
type invokeResponse struct {
	StatusCode int    `json:"statusCode"`
	Type       string `json:"type"`
	Value      any    `json:"value"`
}

// handle acts on a validated activity.
func (h *Handler) handle(w http.ResponseWriter, ctx context.Context, act *activity) {
	if c := h.cfg.Client; c != nil {
		c.SetServiceURL(act.ServiceURL)
		if act.From != nil {
			c.LearnName(act.From.AADObjectID, act.From.Name)
			c.LearnName(act.From.ID, act.From.Name)
		}
	}
	if act.From != nil && (act.From.ID == h.botID || act.From.ID == h.cfg.AppID) {
		w.WriteHeader(http.StatusOK) // our own message
		return
	}
	switch act.Type {
	case "installationUpdate", "conversationUpdate":
		tenant := ""
		if act.Conversation != nil {
			tenant = act.Conversation.TenantID
		}
		h.log.Info("teams "+act.Type, "action", act.Action, "service_url", act.ServiceURL, "tenant", tenant)
	}
	events := h.translate(act)
	for _, ev := range events {
		if err := h.core.HandleChatEvent(ctx, ev); err != nil {
			h.log.Error("teams event not handled", "event_id", ev.ID, "kind", ev.Kind, "err", err)
			http.Error(w, "not handled; retry", http.StatusInternalServerError)
			return
		}
	}
	if act.Type == "invoke" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(invokeResponse{StatusCode: 200, Type: "application/vnd.microsoft.activity.message", Value: "Got it."})
		return
	}
	w.WriteHeader(http.StatusOK)
}

// where splits an activity's conversation into the channel and the
// thread root ("" when the conversation is not a channel thread).
func where(act *activity) (channel, root string) {
	if act.Conversation != nil {
		channel, root, _ = strings.Cut(act.Conversation.ID, ";messageid=")
	}
	if cd := act.ChannelData; cd != nil && cd.TeamsChannelID != "" {
		channel = cd.TeamsChannelID
	}
	return channel, root
}

// translate turns an activity into the core's events (none for what the
// core does not need).
func (h *Handler) translate(act *activity) []bridge.ChatEvent {
	channel, root := where(act)
	ev := bridge.ChatEvent{ID: act.ID, Channel: channel, At: h.when(act)}
	thread := root
	if root == act.ID {
		thread = "" // a top-level message is not in a thread
	}
	if f := act.From; f != nil {
		ev.User = f.AADObjectID
		if ev.User == "" {
			ev.User = f.ID
		}
		ev.Bot = f.Role == "bot" || strings.HasPrefix(f.ID, "28:")
	}
	eventType := ""
	if act.ChannelData != nil {
		eventType = act.ChannelData.EventType
	}
	switch act.Type {
	case "message":
		if len(act.Value) > 0 && string(act.Value) != "null" && act.ReplyToID != "" {
			ev.ThreadTS = root
			return h.cardAction(ev, act.ReplyToID, act.Value)
		}
		ev.Kind, ev.TS, ev.Text, ev.ThreadTS = bridge.EventMessage, act.ID, h.typed(act), thread
		return []bridge.ChatEvent{ev}
	case "messageUpdate":
		switch eventType {
		case "editMessage":
			ev.Kind, ev.TS, ev.ItemTS, ev.Text = bridge.EventMessageChanged, act.ID, act.ID, h.typed(act)
			// An edit carries the edited message's id: two edits of one
			// message differ by their time and text.
			ev.ID = "edit:" + act.ID + ":" + digest(act.Timestamp, act.Text)
		case "softDeleteMessage":
			ev.Kind, ev.TS, ev.ItemTS = bridge.EventMessageDeleted, act.ID, act.ID
			ev.ID = "delete:" + act.ID
		default:
			h.log.Info("teams message update ignored", "event_type", eventType, "id", act.ID)
			return nil
		}
		ev.ThreadTS = thread
		return []bridge.ChatEvent{ev}
	case "messageDelete":
		if eventType != "" && eventType != "softDeleteMessage" {
			h.log.Info("teams message delete ignored", "event_type", eventType, "id", act.ID)
			return nil
		}
		ev.Kind, ev.TS, ev.ItemTS = bridge.EventMessageDeleted, act.ID, act.ID
		ev.ID = "delete:" + act.ID
		ev.ThreadTS = thread
		return []bridge.ChatEvent{ev}
	case "messageReaction":
		if act.ReplyToID == "" {
			return nil
		}
		var out []bridge.ChatEvent
		add := func(kind bridge.ChatEventKind, rs []reaction, tag string) {
			for i, r := range rs {
				e := ev
				e.Kind, e.ItemTS, e.Reaction = kind, act.ReplyToID, r.Type
				e.ThreadTS = root
				e.ID = fmt.Sprintf("%s:%s:%d:%s", reactionID(act, ev.User), tag, i, r.Type)
				out = append(out, e)
			}
		}
		add(bridge.EventReactionAdded, act.ReactionsAdded, "add")
		add(bridge.EventReactionRemoved, act.ReactionsRemoved, "remove")
		return out
	case "invoke":
		if act.Name != "adaptiveCard/action" || act.ReplyToID == "" {
			h.log.Info("teams invoke ignored", "name", act.Name)
			return nil
		}
		var v struct {
			Action struct {
				Data json.RawMessage `json:"data"`
			} `json:"action"`
		}
		if json.Unmarshal(act.Value, &v) != nil {
			return nil
		}
		ev.ThreadTS = root
		return h.cardAction(ev, act.ReplyToID, v.Action.Data)
	}
	return nil
}

// reactionID names a reaction activity for deduplication: its id when
// Teams gave one, else what it is about.
func reactionID(act *activity, user string) string {
	if act.ID != "" {
		return "reaction:" + act.ID
	}
	return "reaction:" + act.ReplyToID + ":" + user + ":" + act.Timestamp
}

// cardAction turns a draft card button into the reaction its gesture
// is, and a bundle's Answer button into bridge.EventAction "answer" with
// the entry's value, on the card's message.
func (h *Handler) cardAction(ev bridge.ChatEvent, card string, data json.RawMessage) []bridge.ChatEvent {
	var d map[string]any
	if json.Unmarshal(data, &d) != nil {
		return nil
	}
	action, _ := d[cardActionKey].(string)
	if action == bridge.ActionAnswer {
		value, _ := d[cardValueKey].(string)
		if value == "" || ev.User == "" {
			h.log.Info("teams answer button without a value or a user ignored", "card", card)
			return nil
		}
		ev.Kind, ev.ItemTS, ev.Action, ev.Value = bridge.EventAction, card, bridge.ActionAnswer, value
		return []bridge.ChatEvent{ev}
	}
	gesture, ok := h.gestures[action]
	if !ok {
		h.log.Info("teams card action ignored", "action", action)
		return nil
	}
	ev.Kind, ev.ItemTS, ev.Reaction = bridge.EventReactionAdded, card, gesture
	ev.Action = action
	ev.Value, _ = d[cardDraftKey].(string)
	return []bridge.ChatEvent{ev}
}

// typed is the text a person typed: our bot's mention removed, HTML made
// plain text.
func (h *Handler) typed(act *activity) string {
	text := act.Text
	for _, e := range act.Entities {
		if e.Type == "mention" && e.Mentioned != nil && (e.Mentioned.ID == h.botID || e.Mentioned.ID == h.cfg.AppID) && e.Text != "" {
			text = strings.ReplaceAll(text, e.Text, "")
		}
	}
	text = plainFromHTML(text)
	return strings.TrimSpace(strings.ReplaceAll(text, "\u00a0", " "))
}

func (h *Handler) when(act *activity) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, act.Timestamp); err == nil {
		return t
	}
	return h.clock.Now()
}

func digest(parts ...string) string {
	s := sha256.New()
	for _, p := range parts {
		s.Write([]byte(p))
		s.Write([]byte{0})
	}
	return hex.EncodeToString(s.Sum(nil))[:16]
}
