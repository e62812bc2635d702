package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/opsbot/opsbot/config"
)

// validate prints every problem in a config file, one per line, and fails
// unless there are none.
func validate(path string, out io.Writer) error {
	cfg, err := config.Load(path)
	var ps config.Problems
	switch {
	case errors.As(err, &ps):
		for _, l := range ps.Lines() {
			fmt.Fprintln(out, l)
		}
		fmt.Fprintf(out, "%s: %d problem(s)\n", path, len(ps))
		return exitCode(1)
	case err != nil:
		return err
	}
	c := cfg.Catalog
	fmt.Fprintf(out, "%s: valid (%d teams, %d templates)\n", path, len(c.Teams), len(c.Templates))
	return nil
}
