package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// ---- draft cards (migration 0010)

// SetDraftCard records the chat message that shows draft draftID as a
// card; recording it again replaces it. The draft must exist.
func (t *tx) SetDraftCard(ctx context.Context, draftID int64, ref bridge.ChatRef) error {
	if ref.Channel == "" || ref.TS == "" {
		return fmt.Errorf("set card of draft %d: channel and ts are required", draftID)
	}
	// WHERE true: SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT.
	n, err := t.exec(ctx, `INSERT INTO draft_cards (draft_id, channel, ts)
		SELECT d.id, ?, ? FROM drafts d WHERE d.id = ? AND true
		ON CONFLICT (draft_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`,
		ref.Channel, ref.TS, draftID)
	if err != nil {
		return fmt.Errorf("set card of draft %d: %w", draftID, err)
	}
	if n == 0 {
		return fmt.Errorf("set card of draft %d: %w", draftID, bridge.ErrNotFound)
	}
	return nil
}

// DraftCard returns the chat message showing draft draftID as a card, or
// ErrNotFound when none was recorded.
func (t *tx) DraftCard(ctx context.Context, draftID int64) (bridge.ChatRef, error) {
	var r struct {
		Channel string `db:"channel"`
		TS      string `db:"ts"`
	}
	if err := t.get(ctx, &r, `SELECT channel, ts FROM draft_cards WHERE draft_id = ?`, draftID); err != nil {
		return bridge.ChatRef{}, fmt.Errorf("read card of draft %d: %w", draftID, err)
	}
	return bridge.ChatRef{Channel: r.Channel, TS: r.TS}, nil
}

// DraftByCard reads (and locks) the draft whose card is chat message
// channel/ts.
func (t *tx) DraftByCard(ctx context.Context, channel, ts string) (*bridge.Draft, error) {
	var r draftRow
	if err := t.get(ctx, &r, `SELECT `+prefixColumns("d", draftColumns)+` FROM draft_cards c JOIN drafts d ON d.id = c.draft_id
		WHERE c.channel = ? AND c.ts = ?`+t.forUpdateOf("d"), channel, ts); err != nil {
		return nil, fmt.Errorf("read draft of card %s/%s: %w", channel, ts, err)
	}
	d := r.draft()
	return &d, nil
}

// prefixColumns qualifies a comma-separated column list with alias.
func prefixColumns(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
