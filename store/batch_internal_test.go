package store

import (
	"reflect"
	"slices"
	"testing"
)

// TestBatchColumnsCoverRows fails when a column is added to a row type but
// not to the batched writes: ingest saves posts, customers and tickets
// through them, so a forgotten column would silently not be saved.
func TestBatchColumnsCoverRows(t *testing.T) {
	tags := func(row any) []string {
		var out []string
		rt := reflect.TypeOf(row)
		for i := range rt.NumField() {
			if tag := rt.Field(i).Tag.Get("db"); tag != "" && tag != "id" {
				out = append(out, tag)
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(cols []string) []string {
		out := slices.Clone(cols)
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		name string
		row  any
		cols []string
	}{
		{"posts", postRow{}, postInsertCols},
		{"customers", customerRow{}, customerInsertCols},
		{"tickets", ticketRow{}, append(slices.Clone(ticketInsertCols), "slack_channel", "slack_ts")}, // the thread: ticket_threads
	} {
		if got, want := sorted(c.cols), tags(c.row); !slices.Equal(got, want) {
			t.Errorf("%s: batched insert writes %v, the row has %v", c.name, got, want)
		}
	}
	var identity = []string{"platform", "conversation_key", "created_at"}
	var mutable []string
	for _, c := range ticketInsertCols {
		if !slices.Contains(identity, c) {
			mutable = append(mutable, c)
		}
	}
	if got, want := sorted(ticketUpdateCols), sorted(mutable); !slices.Equal(got, want) {
		t.Errorf("tickets: UpdateTickets writes %v, want every column but identity and created_at: %v", got, want)
	}
}
