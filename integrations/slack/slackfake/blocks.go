package slackfake

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Block Kit limits that Slack enforces with invalid_blocks. The fake checks
// the common ones so a renderer that breaks them fails in tests, not in a
// real workspace.
const (
	maxMessageBlocks = 50
	maxViewBlocks    = 100
	maxSectionText   = 3000
	maxSectionFields = 10
	maxFieldText     = 2000
	maxHeaderText    = 150
	maxActionsElems  = 25
	maxContextElems  = 10
	maxButtonText    = 75
	maxActionID      = 255
	maxButtonValue   = 2000
	maxMessageText   = 40000
	maxBlockID       = 255
	// Input blocks and select menus (Block Kit reference: input block,
	// select menu element, option object).
	maxInputLabel  = 2000
	maxInputHint   = 2000
	maxPlaceholder = 150
	maxSelectOpts  = 100
	maxOptionText  = 75
	maxOptionValue = 150
	maxOptionDesc  = 75
	maxInputLength = 3000 // plain_text_input max_length, min_length
)

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type element struct {
	Type         string   `json:"type"`
	Text         *textObj `json:"text"`
	ActionID     string   `json:"action_id"`
	Value        string   `json:"value"`
	Style        string   `json:"style"`
	Placeholder  *textObj `json:"placeholder"`
	Options      []option `json:"options"`
	OptionGroups []struct {
		Label   *textObj `json:"label"`
		Options []option `json:"options"`
	} `json:"option_groups"`
	InitialOption *option `json:"initial_option"`
	MaxLength     int     `json:"max_length"`
	MinLength     int     `json:"min_length"`
}

type option struct {
	Text        *textObj `json:"text"`
	Value       string   `json:"value"`
	Description *textObj `json:"description"`
}

type block struct {
	Type     string            `json:"type"`
	BlockID  string            `json:"block_id"`
	Text     *textObj          `json:"text"`
	Fields   []textObj         `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
	Label    *textObj          `json:"label"`
	Hint     *textObj          `json:"hint"`
	Element  json.RawMessage   `json:"element"`
}

// checkBlocks validates a blocks array and returns Slack-style messages
// for what is wrong, or nil.
func checkBlocks(raw string, max int) (json.RawMessage, []string) {
	var blocks []block
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, []string{"[ERROR] failed to parse blocks: " + err.Error()}
	}
	var errs []string
	bad := func(i int, path, msg string) {
		errs = append(errs, fmt.Sprintf("[ERROR] %s [json-pointer:/blocks/%d%s]", msg, i, path))
	}
	if len(blocks) > max {
		errs = append(errs, fmt.Sprintf("[ERROR] no more than %d items allowed [json-pointer:/blocks]", max))
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		if utf8.RuneCountInString(b.BlockID) > maxBlockID {
			bad(i, "/block_id", fmt.Sprintf("must be less than %d characters", maxBlockID+1))
		}
		if b.BlockID != "" {
			if ids[b.BlockID] {
				bad(i, "/block_id", "duplicate block_id")
			}
			ids[b.BlockID] = true
		}
		switch b.Type {
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				bad(i, "", "must provide text or fields")
			}
			if b.Text != nil {
				checkText(b.Text, maxSectionText, func(m string) { bad(i, "/text/text", m) })
			}
			if len(b.Fields) > maxSectionFields {
				bad(i, "/fields", fmt.Sprintf("no more than %d items allowed", maxSectionFields))
			}
			for j := range b.Fields {
				checkText(&b.Fields[j], maxFieldText, func(m string) { bad(i, fmt.Sprintf("/fields/%d/text", j), m) })
			}
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" {
				bad(i, "/text", "must be a plain_text object")
			} else {
				checkText(b.Text, maxHeaderText, func(m string) { bad(i, "/text/text", m) })
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > maxContextElems {
				bad(i, "/elements", fmt.Sprintf("must have 1 to %d items", maxContextElems))
			}
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > maxActionsElems {
				bad(i, "/elements", fmt.Sprintf("must have 1 to %d items", maxActionsElems))
			}
			seen := map[string]bool{}
			for j, rawEl := range b.Elements {
				var el element
				if err := json.Unmarshal(rawEl, &el); err != nil {
					bad(i, fmt.Sprintf("/elements/%d", j), "invalid element")
					continue
				}
				path := fmt.Sprintf("/elements/%d", j)
				if el.ActionID != "" {
					if seen[el.ActionID] {
						bad(i, path+"/action_id", "duplicate action_id within block")
					}
					seen[el.ActionID] = true
				}
				if utf8.RuneCountInString(el.ActionID) > maxActionID {
					bad(i, path+"/action_id", fmt.Sprintf("must be less than %d characters", maxActionID+1))
				}
				if el.Type == "button" {
					if el.Text == nil || el.Text.Type != "plain_text" {
						bad(i, path+"/text", "must be a plain_text object")
					} else {
						checkText(el.Text, maxButtonText, func(m string) { bad(i, path+"/text/text", m) })
					}
					if utf8.RuneCountInString(el.Value) > maxButtonValue {
						bad(i, path+"/value", fmt.Sprintf("must be less than %d characters", maxButtonValue+1))
					}
					if el.Style != "" && el.Style != "primary" && el.Style != "danger" {
						bad(i, path+"/style", "must be one of primary, danger")
					}
				}
				checkInteractive(el, func(p, m string) { bad(i, path+p, m) })
			}
		case "input":
			if b.Label == nil || b.Label.Type != "plain_text" {
				bad(i, "/label", "must be a plain_text object")
			} else {
				checkText(b.Label, maxInputLabel, func(m string) { bad(i, "/label/text", m) })
			}
			if b.Hint != nil {
				checkText(b.Hint, maxInputHint, func(m string) { bad(i, "/hint/text", m) })
			}
			var el element
			if len(b.Element) == 0 || json.Unmarshal(b.Element, &el) != nil {
				bad(i, "/element", "must provide an element")
				break
			}
			if utf8.RuneCountInString(el.ActionID) > maxActionID {
				bad(i, "/element/action_id", fmt.Sprintf("must be less than %d characters", maxActionID+1))
			}
			checkInteractive(el, func(p, m string) { bad(i, "/element"+p, m) })
		case "divider", "image", "rich_text", "file", "video", "markdown":
		default:
			bad(i, "/type", fmt.Sprintf("unsupported block type %q", b.Type))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return json.RawMessage(raw), nil
}

// checkInteractive checks what select menus and text inputs carry:
// placeholders, options (at most 100, each within its limits) and the
// input length bounds.
func checkInteractive(el element, bad func(path, msg string)) {
	if el.Placeholder != nil {
		checkText(el.Placeholder, maxPlaceholder, func(m string) { bad("/placeholder/text", m) })
	}
	switch el.Type {
	case "static_select", "multi_static_select":
		if len(el.Options) == 0 && len(el.OptionGroups) == 0 {
			bad("/options", "must provide options or option_groups")
		}
		if len(el.Options) > maxSelectOpts {
			bad("/options", fmt.Sprintf("no more than %d items allowed", maxSelectOpts))
		}
		if len(el.OptionGroups) > maxSelectOpts {
			bad("/option_groups", fmt.Sprintf("no more than %d items allowed", maxSelectOpts))
		}
		for j, o := range el.Options {
			checkOption(o, func(p, m string) { bad(fmt.Sprintf("/options/%d%s", j, p), m) })
		}
		for g, grp := range el.OptionGroups {
			if len(grp.Options) > maxSelectOpts {
				bad(fmt.Sprintf("/option_groups/%d/options", g), fmt.Sprintf("no more than %d items allowed", maxSelectOpts))
			}
			for j, o := range grp.Options {
				checkOption(o, func(p, m string) { bad(fmt.Sprintf("/option_groups/%d/options/%d%s", g, j, p), m) })
			}
		}
		if el.InitialOption != nil {
			checkOption(*el.InitialOption, func(p, m string) { bad("/initial_option"+p, m) })
		}
	case "plain_text_input":
		if el.MaxLength < 0 || el.MaxLength > maxInputLength {
			bad("/max_length", fmt.Sprintf("must be between 1 and %d", maxInputLength))
		}
		if el.MinLength < 0 || el.MinLength > maxInputLength {
			bad("/min_length", fmt.Sprintf("must be between 0 and %d", maxInputLength))
		}
	}
}

func checkOption(o option, bad func(path, msg string)) {
	if o.Text == nil {
		bad("/text", "must provide text")
	} else {
		checkText(o.Text, maxOptionText, func(m string) { bad("/text/text", m) })
	}
	if n := utf8.RuneCountInString(o.Value); n == 0 || n > maxOptionValue {
		bad("/value", fmt.Sprintf("must be 1 to %d characters", maxOptionValue))
	}
	if o.Description != nil {
		checkText(o.Description, maxOptionDesc, func(m string) { bad("/description/text", m) })
	}
}

func checkText(t *textObj, max int, bad func(string)) {
	if t.Type != "plain_text" && t.Type != "mrkdwn" {
		bad("must be plain_text or mrkdwn")
	}
	n := utf8.RuneCountInString(t.Text)
	if n == 0 {
		bad("must be more than 0 characters")
	}
	if n > max {
		bad(fmt.Sprintf("must be less than %d characters", max+1))
	}
}
