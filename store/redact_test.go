package store

import (
	"context"
	"strings"
	"testing"
)

// TestOpen_ErrorsHideThePassword: a PostgreSQL URL's password, in the
// user information or in ?password=, never reaches the error that
// opsbot serve prints when the store cannot be opened.
func TestOpen_ErrorsHideThePassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://opsbot:s3cret@127.0.0.1:1/opsbot?connect_timeout=2",
		"postgres://opsbot@127.0.0.1:1/opsbot?password=s3cret&connect_timeout=2",
		"postgres://opsbot:s3cret@127.0.0.1:1/opsbot?password=s3cret&connect_timeout=nope",
		"mysql://opsbot:s3cret@db/opsbot?password=s3cret",
	} {
		db, err := Open(context.Background(), dsn)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q): %v", dsn, err)
		}
	}
}
