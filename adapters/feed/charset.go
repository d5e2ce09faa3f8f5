package feed

import (
	"bytes"
	"io"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// prologEncoding finds the encoding declared in an XML prolog.
var prologEncoding = regexp.MustCompile(`^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']`)

// toUTF8 returns a feed document as UTF-8, with the characters XML 1.0
// forbids (stray control characters) removed. Feeds often declare the
// wrong charset, so the bytes decide first:
//
//   - a byte order mark names the encoding (UTF-8, UTF-16);
//   - bytes that are valid UTF-8 are UTF-8, whatever the Content-Type or
//     the XML prolog says (text in ISO-8859-1 or Shift_JIS with bytes
//     above 0x7F is practically never valid UTF-8), except for the 7-bit
//     stateful encodings (ISO-2022-JP), which look like ASCII;
//   - otherwise the charset of the Content-Type header, else the one of
//     the XML prolog, decodes them; when neither names a known charset
//     other than UTF-8, Windows-1252 does (a superset of ISO-8859-1, the
//     usual mislabelled case).
//
// It also reports the charset it used.
func toUTF8(body []byte, contentType string) ([]byte, string) {
	switch {
	case bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}):
		return clean(body[3:]), "utf-8"
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		return decodeWith(body[2:], "utf-16le")
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		return decodeWith(body[2:], "utf-16be")
	}
	declared := ""
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		declared = strings.ToLower(strings.TrimSpace(params["charset"]))
	}
	if declared == "" {
		if m := prologEncoding.FindSubmatch(body[:min(len(body), 512)]); m != nil {
			declared = strings.ToLower(string(m[1]))
		}
	}
	stateful := strings.HasPrefix(declared, "iso-2022") || declared == "utf-7"
	if utf8.Valid(body) && !stateful {
		return clean(body), "utf-8"
	}
	if declared == "" || declared == "utf-8" || declared == "utf8" {
		declared = "windows-1252"
	}
	if enc, _ := charset.Lookup(declared); enc == nil {
		declared = "windows-1252"
	}
	return decodeWith(body, declared)
}

// decodeWith decodes body from the named charset (known to exist);
// what cannot be decoded becomes U+FFFD.
func decodeWith(body []byte, name string) ([]byte, string) {
	r, err := charset.NewReaderLabel(name, bytes.NewReader(body))
	if err != nil {
		return clean(body), "utf-8"
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return clean(body), "utf-8"
	}
	return clean(out), name
}

// clean makes b valid UTF-8 and drops the characters XML 1.0 does not
// allow (C0 controls other than tab, newline and carriage return;
// U+FFFE and U+FFFF), which encoding/xml would refuse the whole document
// for.
func clean(b []byte) []byte {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	ok := true
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if !xmlChar(r) {
			ok = false
			break
		}
		i += n
	}
	if ok {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if xmlChar(r) {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r == 0xFFFE || r == 0xFFFF:
		return false
	}
	return true
}
