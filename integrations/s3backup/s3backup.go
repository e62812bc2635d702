// Package s3backup keeps opsbot's backups under a prefix of an S3 bucket
// through aws-sdk-go-v2: PutObject (one request; S3 takes up to 5 GB so),
// GetObject, ListObjectsV2 and DeleteObject. s3fake is its fake.
package s3backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/opsbot/opsbot/internal/backups"
)

var _ backups.Dest = (*Bucket)(nil)

// MaxPut is the largest object one PutObject stores.
const MaxPut = 5 << 30

// Bucket is a prefix of an S3 bucket holding backups.
type Bucket struct {
	Client *s3.Client
	Name   string
	Prefix string // "" or ending in "/"
}

// Options set up the client. The zero value uses the SDK's standard
// chain (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3/AWS_ENDPOINT_URL).
type Options struct {
	Config     *aws.Config // default: the SDK's default config
	Endpoint   string      // a base URL (a fake, MinIO); implies path-style
	PathStyle  bool        // /bucket/key addressing
	HTTPClient *http.Client
}

// New returns the bucket at s3://name/prefix.
func New(ctx context.Context, name, prefix string, o Options) (*Bucket, error) {
	var cfg aws.Config
	if o.Config != nil {
		cfg = *o.Config
	} else {
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("set up S3: %w", err)
		}
	}
	// A custom endpoint (MinIO, Ceph, a fake) is addressed path-style.
	pathStyle := o.PathStyle || o.Endpoint != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = pathStyle
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
	})
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Bucket{Client: c, Name: name, Prefix: prefix}, nil
}

func (b *Bucket) String() string { return "s3://" + b.Name + "/" + b.Prefix }

// Put uploads the file at p as name, in one PutObject: the SDK sends a
// CRC32 checksum S3 checks (a trailer over HTTPS).
func (b *Bucket) Put(ctx context.Context, name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	if st.Size() > MaxPut {
		return fmt.Errorf("put %s: %d bytes is more than one S3 PutObject takes (5 GB); back up to a file and copy it with the aws CLI", name, st.Size())
	}
	_, err = b.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.Name), Key: aws.String(b.Prefix + name), Body: f, ContentLength: aws.Int64(st.Size()),
		// S3 checks the body against it: a header over HTTP, an
		// aws-chunked trailer over HTTPS (the SDK sends none there unless
		// asked).
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	return b.explain("put "+name, err)
}

// Get downloads name to the file at p.
func (b *Bucket) Get(ctx context.Context, name, p string) error {
	out, err := b.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String(b.Prefix + name)})
	if err != nil {
		return b.explain("get "+name, err)
	}
	defer out.Body.Close()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		return fmt.Errorf("get %s: %w", name, err)
	}
	return f.Close()
}

// List names the objects directly under the prefix.
func (b *Bucket) List(ctx context.Context) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(b.Client, &s3.ListObjectsV2Input{Bucket: aws.String(b.Name), Prefix: aws.String(b.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.explain("list", err)
		}
		for _, o := range page.Contents {
			n := strings.TrimPrefix(aws.ToString(o.Key), b.Prefix)
			if n != "" && !strings.Contains(n, "/") {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// Delete removes name.
func (b *Bucket) Delete(ctx context.Context, name string) error {
	_, err := b.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.Name), Key: aws.String(b.Prefix + name)})
	return b.explain("delete "+name, err)
}

// explain turns S3's refusals into what to do about them.
func (b *Bucket) explain(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return fmt.Errorf("%s in %s: the bucket %q does not exist (check the name and AWS_REGION): %w", what, b, b.Name, err)
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return fmt.Errorf("%s in %s: access denied: opsbot's AWS credentials need s3:PutObject, s3:GetObject, s3:ListBucket and s3:DeleteObject on this prefix: %w", what, b, err)
		case "NoSuchKey":
			return fmt.Errorf("%s in %s: no such backup: %w", what, b, err)
		}
	}
	return fmt.Errorf("%s in %s: %w", what, b, err)
}

// SplitKey reads the key part of s3://bucket/KEY as restore takes it: a
// backup's own name at its end (opsbot/opsbot-20261202T030000Z.db) names
// that backup; anything else is a prefix, whose newest backup is meant.
func SplitKey(key string) (prefix, name string) {
	dir, base := path.Split(key)
	if backups.IsName(base) {
		return dir, base
	}
	return key, ""
}
