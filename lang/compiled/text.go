package compiled

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// text is a string that keeps every byte through JSON. A script may hold
// bytes that are not UTF-8 (printf("\xff"), a file name), which a JSON
// string cannot carry: such a text is written as {"base64": "..."}, and
// valid UTF-8 as a plain JSON string, which keeps the file readable.
type text string

type base64Text struct {
	Base64 []byte `json:"base64"`
}

func (t text) MarshalJSON() ([]byte, error) {
	if !utf8.ValidString(string(t)) {
		return json.Marshal(base64Text{Base64: []byte(t)})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(string(t)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var v base64Text
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		if v.Base64 == nil {
			return errors.New(`a text object needs "base64"`)
		}
		*t = text(v.Base64)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = text(s)
	return nil
}

func texts(ss []string) []text {
	if ss == nil {
		return nil
	}
	out := make([]text, len(ss))
	for i, s := range ss {
		out[i] = text(s)
	}
	return out
}

func strs(ts []text) []string {
	if ts == nil {
		return nil
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}
