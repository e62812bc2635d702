//go:build unix

package journal

import (
	"errors"
	"os"
	"syscall"
)

// lock takes f's advisory lock without waiting; ok is false when another
// open file (another process, or this one elsewhere) holds it. The lock
// lasts while f is open and ends with the process, however it ends.
func lock(f *os.File) (ok bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// supported says this system has the locks a journal relies on.
const supported = true
