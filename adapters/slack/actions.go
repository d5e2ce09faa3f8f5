package slack

import (
	"context"
	"errors"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/bridge"
)

var _ bridge.ChatActions = (*Publisher)(nil)

// React implements bridge.ChatActions. A reaction that is already there
// (or already gone) is not an error.
func (p *Publisher) React(ctx context.Context, ref bridge.ChatRef, name string, add bool) error {
	item := slack.NewRefToMessage(ref.Channel, ref.TS)
	var err error
	if add {
		err = p.api.AddReactionContext(ctx, name, item)
	} else {
		err = p.api.RemoveReactionContext(ctx, name, item)
	}
	var sr slack.SlackErrorResponse
	if errors.As(err, &sr) && (sr.Err == "already_reacted" || sr.Err == "no_reaction") {
		return nil
	}
	return Classify(err)
}

// Ephemeral implements bridge.ChatActions.
func (p *Publisher) Ephemeral(ctx context.Context, channel, user, text string) error {
	_, err := p.api.PostEphemeralContext(ctx, p.channelID(channel), user, slack.MsgOptionText(text, false))
	return Classify(err)
}

// GroupMembers implements bridge.ChatActions.
func (p *Publisher) GroupMembers(ctx context.Context, group string) ([]string, error) {
	users, err := p.api.GetUserGroupMembersContext(ctx, group)
	if err != nil {
		return nil, Classify(err)
	}
	return users, nil
}
