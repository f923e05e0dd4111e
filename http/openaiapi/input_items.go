package openaiapi

import (
	stdhttp "net/http"
	"slices"
	"strconv"

	"github.com/armistice-go/armistice/llm"
	"github.com/labstack/echo/v4"
)

// inputItemJSON is one item of GET /v1/responses/{id}/input_items.
type inputItemJSON struct {
	ID      string             `json:"id"`
	Type    string             `json:"type"`
	Status  string             `json:"status"`
	Role    string             `json:"role,omitempty"`
	Content []inputContentJSON `json:"content,omitempty"`
	CallID  string             `json:"call_id,omitempty"`
	Name    string             `json:"name,omitempty"`
	Args    *string            `json:"arguments,omitempty"`
	Output  *string            `json:"output,omitempty"`
}

type inputContentJSON struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type inputListJSON struct {
	Object  string          `json:"object"`
	Data    []inputItemJSON `json:"data"`
	FirstID *string         `json:"first_id"`
	LastID  *string         `json:"last_id"`
	HasMore bool            `json:"has_more"`
}

// inputItems serves GET /v1/responses/{id}/input_items: the input the
// response was created with (its instructions and the turns
// previous_response_id added are not its input items, as at OpenAI), with
// OpenAI's paging: after, before (item ids), limit (1–100, default 20)
// and order (asc or desc, default desc).
func (a *api) inputItems(c echo.Context) error {
	id, ok := engineID(c.Param("id"), prefixResponse)
	if !ok {
		return notFound("response", c.Param("id"))
	}
	q := c.QueryParams()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalid("limit", CodeInvalidValue, "Invalid value for 'limit': expected an integer from 1 to 100, got %q.", truncate(v, 20))
		}
		limit = n
	}
	order := q.Get("order")
	switch order {
	case "":
		order = "desc"
	case "asc", "desc":
	default:
		return invalid("order", CodeInvalidValue, "Invalid value for 'order': expected 'asc' or 'desc', got %q.", truncate(order, 20))
	}
	conv, err := a.load(c.Request().Context(), id, tenantOf(c))
	if err != nil {
		return err
	}
	items := inputItemsOf(id, conv.input, conv.meta.inputFrom)
	if order == "desc" {
		slices.Reverse(items)
	}
	from, to := 0, len(items)
	if v := q.Get("after"); v != "" {
		i := slices.IndexFunc(items, func(it inputItemJSON) bool { return it.ID == v })
		if i < 0 {
			return invalid("after", CodeInvalidValue, "No input item with id %q in this response.", truncate(v, 200))
		}
		from = i + 1
	}
	if v := q.Get("before"); v != "" {
		i := slices.IndexFunc(items, func(it inputItemJSON) bool { return it.ID == v })
		if i < 0 {
			return invalid("before", CodeInvalidValue, "No input item with id %q in this response.", truncate(v, 200))
		}
		to = min(to, i)
	}
	page := items[min(from, to):to]
	list := inputListJSON{Object: "list", Data: page, HasMore: len(page) > limit}
	if len(page) > limit {
		list.Data = page[:limit]
	}
	if len(list.Data) > 0 {
		list.FirstID, list.LastID = &list.Data[0].ID, &list.Data[len(list.Data)-1].ID
	}
	if list.Data == nil {
		list.Data = []inputItemJSON{}
	}
	return writeJSON(c, stdhttp.StatusOK, list)
}

// inputItemsOf lists a response's own input items, oldest first, with ids
// made from the response's id and the item's place, so they are stable.
func inputItemsOf(id string, msgs []llm.Message, from int) []inputItemJSON {
	if from > len(msgs) {
		from = len(msgs)
	}
	var items []inputItemJSON
	for i, m := range msgs[from:] {
		n := strconv.Itoa(i)
		switch {
		case m.Role == llm.RoleTool:
			out := m.Content
			items = append(items, inputItemJSON{ID: "fco_" + id + "_in" + n, Type: "function_call_output", Status: "completed", CallID: m.ToolCallID, Output: &out})
		default:
			if m.Content != "" || len(m.ToolCalls) == 0 {
				kind := "input_text"
				if m.Role == llm.RoleAssistant {
					kind = "output_text"
				}
				items = append(items, inputItemJSON{ID: prefixMessage + id + "_in" + n, Type: "message", Status: "completed", Role: string(m.Role),
					Content: []inputContentJSON{{Type: kind, Text: m.Content}}})
			}
			for j, tc := range m.ToolCalls {
				args := tc.Arguments
				items = append(items, inputItemJSON{ID: "fc_" + id + "_in" + n + "_" + strconv.Itoa(j), Type: "function_call", Status: "completed",
					CallID: tc.ID, Name: tc.Name, Args: &args})
			}
		}
	}
	return items
}
