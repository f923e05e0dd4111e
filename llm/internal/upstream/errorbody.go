package upstream

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// ErrorBody is what an error response's body says, with every field
// empty when it did not say.
type ErrorBody struct {
	Type, Code, Param, Message string
}

// ParseErrorBody reads an error response body in the shapes servers use:
// OpenAI's {"error":{"message","type","param","code"}}, Anthropic's
// {"type":"error","error":{"type","message"}}, a flat {"error":"text"}
// (some gateways), and vLLM's older top-level
// {"object":"error","message","type","param","code"}. A numeric code
// (vLLM, llama.cpp send the HTTP status) is kept as its decimal text.
func ParseErrorBody(body []byte) ErrorBody {
	var outer struct {
		Error json.RawMessage `json:"error"`
		errorFields
	}
	if json.Unmarshal(body, &outer) != nil {
		return ErrorBody{}
	}
	inner := bytes.TrimSpace(outer.Error)
	switch {
	case len(inner) > 0 && inner[0] == '{':
		var f errorFields
		if json.Unmarshal(inner, &f) != nil {
			return ErrorBody{}
		}
		return f.body()
	case len(inner) > 0 && inner[0] == '"':
		var msg string
		_ = json.Unmarshal(inner, &msg)
		return ErrorBody{Message: msg}
	case outer.Message != "":
		return outer.body()
	}
	return ErrorBody{}
}

// errorFields are the fields of an error object; Code and Param may be a
// string, a number or null.
type errorFields struct {
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
	Param   json.RawMessage `json:"param"`
	Message string          `json:"message"`
}

func (f errorFields) body() ErrorBody {
	return ErrorBody{Type: f.Type, Code: scalar(f.Code), Param: scalar(f.Param), Message: f.Message}
}

// scalar returns a JSON string's text or a number's digits; "" for null
// and anything else.
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if _, err := strconv.ParseFloat(string(n), 64); err == nil {
			return string(n)
		}
	}
	return ""
}
