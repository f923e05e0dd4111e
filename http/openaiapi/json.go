package openaiapi

import (
	"bytes"
	"encoding/json"

	"github.com/armistice-go/armistice/http/internal/jsonenc"
	"github.com/labstack/echo/v4"
)

// appendJSON appends v's JSON without HTML escaping, as OpenAI writes it;
// v is always one of this package's types.
func appendJSON(b []byte, v any) []byte {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return append(b, "{}"...) // unreachable: the types marshal
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeJSON answers with v's JSON and a newline.
func writeJSON(c echo.Context, status int, v any) error {
	data := appendJSON(make([]byte, 0, 1024), v)
	return c.Blob(status, echo.MIMEApplicationJSON, append(data, '\n'))
}

// appendJSONString appends s as a JSON string (see jsonenc.AppendString).
func appendJSONString(b []byte, s string) []byte { return jsonenc.AppendString(b, s, false) }
