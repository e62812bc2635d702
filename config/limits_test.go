package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// laughs is a billion-laughs file built from merge keys: each level merges
// the one before it ten times, so a 525-byte file asks for 10^7 merges.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("scheduler: &a0 {tick: 1m}\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "x%d: &a%d {<<: [%s]}\n", i, i, refs)
	}
	fmt.Fprintf(&b, "policies: [{name: p, lifecycle: {<<: *a%d}}]\n", levels)
	return b.String()
}

func TestParse_MergeKeyBombRefusedQuickly(t *testing.T) {
	src := laughs(7)
	began := time.Now()
	_, err := Parse([]byte(src), "laughs.yaml")
	took := time.Since(began)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want problems", err)
	}
	if !strings.Contains(err.Error(), "aliases") {
		t.Fatalf("no word on the expansion in: %v", err)
	}
	if took > 2*time.Second {
		t.Fatalf("took %v to refuse a %d-byte file", took, len(src))
	}
	t.Logf("%d-byte file refused in %v", len(src), took)
}

func TestParse_ExpansionLimits(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"an anchor merged into itself", "scheduler: &s {tick: 1m, <<: *s}\n", "aliases"},
		{"nesting past the limit", "scheduler: " + strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2) + "\n", "nesting deeper"},
		{"a list of aliases to a big list", "pricing: {x: &l [" + strings.TrimSuffix(strings.Repeat("1, ", 2000), ", ") + "]}\nteams: [" + strings.TrimSuffix(strings.Repeat("*l, ", 60), ", ") + "]\n", "more than 100000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "opsbot.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestParse_MergesWithinLimitsStillWork: a file that uses anchors and
// merges the ordinary way is not refused.
func TestParse_MergesWithinLimitsStillWork(t *testing.T) {
	if _, err := Parse([]byte(laughs(2)), "opsbot.yaml"); err != nil && strings.Contains(err.Error(), "aliases") {
		t.Fatalf("a 100-merge file refused: %v", err)
	}
}
