package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// timeLayout is how every time is written: UTC, fixed-width RFC 3339 with
// microseconds. In SQLite (TEXT columns) text order is then time order;
// PostgreSQL parses the same text into timestamptz.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// dbTime maps time.Time to a column: the zero time is NULL, anything else
// is kept in UTC at microsecond precision.
type dbTime time.Time

// Value implements driver.Valuer.
func (t dbTime) Value() (driver.Value, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return nil, nil
	}
	tt = tt.UTC().Truncate(time.Microsecond)
	if y := tt.Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("time %s is outside the years 1 to 9999", tt.Format(time.RFC3339))
	}
	return tt.Format(timeLayout), nil
}

// Scan implements sql.Scanner. SQLite hands back text, PostgreSQL a
// time.Time.
func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = dbTime{}
	case time.Time:
		*t = dbTime(v.UTC())
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	return nil
}

func (t *dbTime) parse(s string) error {
	tt, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", s, err)
	}
	*t = dbTime(tt.UTC())
	return nil
}

// time returns the value as a time.Time.
func (t dbTime) time() time.Time { return time.Time(t) }

// strList maps []string to a JSON text array; nil and empty are both "[]"
// and read back as nil.
type strList []string

// Value implements driver.Valuer.
func (l strList) Value() (driver.Value, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	if err != nil {
		return nil, fmt.Errorf("encode string list: %w", err)
	}
	return string(b), nil
}

// Scan implements sql.Scanner.
func (l *strList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan string list: unsupported type %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan string list %q: %w", b, err)
	}
	if len(out) == 0 {
		out = nil
	}
	*l = out
	return nil
}

// rawText maps json.RawMessage to a TEXT column, byte for byte; nil is the
// empty string.
type rawText []byte

// Value implements driver.Valuer. The bytes are sent as a string so that
// both drivers store text, never a blob.
func (r rawText) Value() (driver.Value, error) { return string(r), nil }

// Scan implements sql.Scanner.
func (r *rawText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*r = nil
	case string:
		*r = rawText(v)
	case []byte:
		*r = append(rawText(nil), v...) // the driver may reuse v
	default:
		return fmt.Errorf("scan raw text: unsupported type %T", src)
	}
	if len(*r) == 0 {
		*r = nil
	}
	return nil
}

// json returns the value as a json.RawMessage.
func (r rawText) json() json.RawMessage { return json.RawMessage(r) }

// nullID maps an optional reference to a row id: 0 is NULL.
type nullID int64

// Value implements driver.Valuer.
func (n nullID) Value() (driver.Value, error) {
	if n == 0 {
		return nil, nil
	}
	return int64(n), nil
}

// Scan implements sql.Scanner.
func (n *nullID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n = 0
	case int64:
		*n = nullID(v)
	default:
		return fmt.Errorf("scan id: unsupported type %T", src)
	}
	return nil
}
