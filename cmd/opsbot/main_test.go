package main

import (
	"os"
	"strings"
	"testing"
)

// runMainEnv, set in a child process's environment, makes the test binary
// be opsbot: it runs main with these arguments (space-separated) instead
// of the tests. Tests that need whole opsbot processes (SIGKILL, a
// restart) start this binary so, with no separate build.
const runMainEnv = "OPSBOT_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if args := os.Getenv(runMainEnv); args != "" {
		os.Args = append([]string{"opsbot"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
