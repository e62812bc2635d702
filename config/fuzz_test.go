package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any file given as config is either a config or a list of
// problems, each with a message, found quickly (aliases and merge keys
// cannot make it walk without end). Seeded with the example configs.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"../examples/opsbot.yaml", "../examples/sandbox.yaml", "../sandbox/sandbox.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(laughs(3)))
	f.Add([]byte("teams: [{name: a, <<: &x {policy: p}}, {name: b, <<: *x}]\npolicies: [{name: p}]\n"))
	f.Add([]byte("scheduler: &s {tick: 1m, <<: *s}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, filepath.Join(dir, "opsbot.yaml"))
		if err == nil {
			if cfg == nil || cfg.Catalog == nil {
				t.Fatal("no error and no config")
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error %T %v is not a list of problems", err, err)
		}
		for _, p := range ps {
			if p.Message == "" {
				t.Fatalf("a problem without a message: %+v", p)
			}
		}
	})
}
