package s3backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/opsbot/opsbot/integrations/s3backup"
	"github.com/opsbot/opsbot/integrations/s3backup/s3fake"
	"github.com/opsbot/opsbot/internal/backups"
)

func bucket(t *testing.T, f *s3fake.Fake, name, prefix string, tls bool) *s3backup.Bucket {
	t.Helper()
	srv := f.Server()
	if tls {
		srv = f.TLSServer()
	}
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
	b, err := s3backup.New(context.Background(), name, prefix, s3backup.Options{Config: &cfg, Endpoint: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tempFile(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBucket_PutGetListPrune goes through the real SDK to the fake over
// HTTP (a checksum header) and HTTPS (aws-chunked with a trailing
// checksum, as against real S3).
func TestBucket_PutGetListPrune(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			ctx := context.Background()
			f := s3fake.New("backups")
			b := bucket(t, f, "backups", "opsbot", tls)
			body := make([]byte, 200<<10) // several aws-chunked chunks
			rand.Read(body)
			src := tempFile(t, body)
			names := []string{"opsbot-20261201T030000Z.db", "opsbot-20261202T030000Z.db", "opsbot-20261130T030000Z.db"}
			for _, n := range names {
				if err := b.Put(ctx, n, src); err != nil {
					t.Fatalf("put: %v", err)
				}
			}
			want := map[bool]string{false: "plain crc32", true: "aws-chunked crc32"}[tls]
			if puts := f.Puts(); puts[0] != want {
				t.Errorf("PutObject came as %q, want %q", puts[0], want)
			}
			if got, _ := f.Object("backups", "opsbot/"+names[0]); !bytes.Equal(got, body) {
				t.Fatalf("stored %d bytes, want the %d put", len(got), len(body))
			}
			dst := filepath.Join(t.TempDir(), "got")
			if err := b.Get(ctx, names[1], dst); err != nil {
				t.Fatalf("get: %v", err)
			}
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, body) {
				t.Fatal("downloaded a different body")
			}
			gone, err := backups.Prune(ctx, b, 2)
			if err != nil || len(gone) != 1 || gone[0] != names[2] {
				t.Fatalf("prune: %v %v", gone, err)
			}
			if keys := f.Keys("backups"); strings.Join(keys, ",") != "opsbot/"+names[0]+",opsbot/"+names[1] {
				t.Fatalf("left %v", keys)
			}
		})
	}
}

// TestBucket_ListPages: more than one ListObjectsV2 page.
func TestBucket_ListPages(t *testing.T) {
	ctx := context.Background()
	f := s3fake.New("b")
	b := bucket(t, f, "b", "", false)
	src := tempFile(t, []byte("x"))
	for i := range 1005 {
		if err := b.Put(ctx, "k"+string(rune('a'+i%26))+strings.Repeat("z", i/26), src); err != nil {
			t.Fatal(err)
		}
	}
	names, err := b.List(ctx)
	if err != nil || len(names) != 1005 {
		t.Fatalf("list: %d names, %v", len(names), err)
	}
}

// TestBucket_Errors: S3's refusals come back saying what to do.
func TestBucket_Errors(t *testing.T) {
	ctx := context.Background()
	f := s3fake.New("backups")
	f.Deny = func(op, bucket string) bool { return op == "PutObject" }
	src := tempFile(t, []byte("x"))
	if err := bucket(t, f, "nope", "p", false).Put(ctx, "a", src); err == nil || !strings.Contains(err.Error(), `bucket "nope" does not exist`) {
		t.Errorf("missing bucket: %v", err)
	}
	if err := bucket(t, f, "backups", "p", false).Put(ctx, "a", src); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("denied: %v", err)
	}
	if err := bucket(t, f, "backups", "p", false).Get(ctx, "missing", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "no such backup") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := bucket(t, f, "nope", "", false).List(ctx); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("list a missing bucket: %v", err)
	}
}
