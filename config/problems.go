package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with the configuration, named so a person can
// find it: the field path ("teams[1].time_zone") or environment variable,
// and the line in the YAML file when there is one.
type Problem struct {
	// Source is the file the problem is in ("opsbot.yaml"), or
	// "environment" for environment variables.
	Source string
	// Path is the field path, like "templates[2].lifecycle.max_lease", or
	// the environment variable's name.
	Path string
	// Line is the 1-based line in Source, or 0 when there is none.
	Line int
	// Message says what is wrong and, where it can, how to fix it.
	Message string
}

// String renders the problem as `path (line N): message`, without the
// source, the way `opsbot config validate` prints it under the file name.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Path)
	if p.Line > 0 {
		if p.Path != "" {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "(line %d)", p.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in one configuration. It is the error
// Parse, Load and Env.Problems return, so callers can print all of them
// (Lines) while a log or an exit message gets one line (Error).
type Problems []Problem

// Error is one line: the source, how many problems, and the first one,
// e.g. `opsbot.yaml: 3 problems, first: teams[1].time_zone (line 12): ...`.
func (ps Problems) Error() string {
	if len(ps) == 0 {
		return "no problems"
	}
	prefix := ""
	if ps[0].Source != "" {
		prefix = ps[0].Source + ": "
	}
	if len(ps) == 1 {
		return prefix + ps[0].String()
	}
	return fmt.Sprintf("%s%d problems, first: %s", prefix, len(ps), ps[0])
}

// Lines returns every problem on its own line, in file order.
func (ps Problems) Lines() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// Err returns ps as an error, or nil when there are none. It exists so
// `return ps.Err()` never yields a non-nil error holding an empty list.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// sorted orders problems by line, keeping the order they were found in
// for problems on the same line (and lineless ones last).
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	return ps
}
