package notionfake

import (
	"net/url"
	"slices"
)

// personUser is the workspace member whose edits EditBlock makes: Notion
// reports who last edited each block, which is how opsbot tells a page
// people have worked on from one only it has written.
var personUser = map[string]any{"object": "user", "id": "5f1c2d3e-0000-4000-8000-0000000a11ce"}

// PersonUserID is the ID of the person EditBlock edits as.
const PersonUserID = "5f1c2d3e-0000-4000-8000-0000000a11ce"

// getBlock is GET /v1/blocks/{id}.
func (s *Server) getBlock(id string, _ url.Values, _ map[string]any) (any, *apiError) {
	b := s.blocks[normID(id)]
	if b == nil || b.archived {
		return nil, notFound("block", id)
	}
	return s.blockJSON(b), nil
}

// deleteBlock is DELETE /v1/blocks/{id}: Notion moves the block to the
// trash (archived, in_trash) and it leaves its parent's children.
func (s *Server) deleteBlock(id string, _ url.Values, _ map[string]any) (any, *apiError) {
	key := normID(id)
	b := s.blocks[key]
	if b == nil || b.archived {
		return nil, notFound("block", id)
	}
	var list *[]string
	if b.parentPg {
		list = &s.pages[b.parent].children
	} else if parent := s.blocks[b.parent]; parent != nil {
		list = &parent.children
	}
	if list != nil {
		if i := slices.Index(*list, key); i >= 0 {
			*list = slices.Delete(*list, i, i+1)
		}
	}
	b.archived, b.edited = true, s.now()
	out := s.blockJSON(b)
	out["archived"], out["in_trash"] = true, true
	return out, nil
}

// EditBlock changes a block as a person in Notion would: new text (when
// not empty) and, for a to-do, its checkbox (when checked is not nil).
// The block's last_edited_by becomes that person.
func (s *Server) EditBlock(id, text string, checked *bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.blocks[normID(id)]
	if b == nil || b.archived {
		return false
	}
	if text != "" {
		b.text = []richText{{Content: text}}
	}
	if checked != nil && b.typ == "to_do" {
		if b.fields == nil {
			b.fields = map[string]any{}
		}
		b.fields["checked"] = *checked
	}
	b.editedBy, b.edited = PersonUserID, s.now()
	return true
}
