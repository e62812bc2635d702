//go:build !unix

package journal

import (
	"errors"
	"os"
)

func lock(*os.File) (bool, error) { return false, errors.ErrUnsupported }

// supported says this system has the locks a journal relies on: without
// them a starting process could take a live process's file for a dead
// one's, so Open refuses and intake writes to the store directly.
const supported = false
