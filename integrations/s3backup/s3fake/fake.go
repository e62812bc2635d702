// Package s3fake is a stateful fake of the part of Amazon S3 opsbot's
// backups use, speaking S3's REST-XML protocol with path-style addressing
// (/BUCKET/KEY): PutObject (a plain body with an x-amz-checksum-* header,
// as the SDK sends over HTTP, or aws-chunked with a trailing checksum, as
// it sends over HTTPS), GetObject, ListObjectsV2 and DeleteObject. Errors
// are S3's: NoSuchBucket and NoSuchKey (404), AccessDenied (403), as an
// <Error> XML document. Requests must carry a SigV4 Authorization header
// for the configured access key; the signature itself is not checked.
package s3fake

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fake is an S3 with buckets of objects in memory.
type Fake struct {
	// AccessKey is the only access key ID accepted (default AKIDTEST).
	AccessKey string
	// Deny, when set, refuses an operation ("PutObject", "GetObject",
	// "ListObjectsV2", "DeleteObject") on a bucket with AccessDenied.
	Deny func(op, bucket string) bool
	// Now stamps LastModified (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	buckets map[string]map[string]object
	calls   []string
	puts    []string // how each PutObject body came: "aws-chunked crc32", "plain crc32"
}

type object struct {
	body     []byte
	modified time.Time
	crc32    string // base64, as x-amz-checksum-crc32
}

// New returns a fake holding the named, empty buckets.
func New(buckets ...string) *Fake {
	f := &Fake{AccessKey: "AKIDTEST", buckets: map[string]map[string]object{}}
	for _, b := range buckets {
		f.buckets[b] = map[string]object{}
	}
	return f
}

// Server serves f on a new local HTTP server; TLSServer on HTTPS, where
// the SDK sends aws-chunked bodies.
func (f *Fake) Server() *httptest.Server    { return httptest.NewServer(f) }
func (f *Fake) TLSServer() *httptest.Server { return httptest.NewTLSServer(f) }

// Keys lists a bucket's keys, sorted.
func (f *Fake) Keys(bucket string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.buckets[bucket] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Object returns an object's body.
func (f *Fake) Object(bucket, key string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.buckets[bucket][key]
	return o.body, ok
}

// Calls lists the operations served, as "PutObject bucket/key".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Puts says how each PutObject body came: "aws-chunked crc32" (HTTPS,
// a trailing checksum), "plain crc32" (a checksum header), "plain".
func (f *Fake) Puts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.puts...)
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// ServeHTTP routes a path-style request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	op := ""
	switch {
	case r.Method == http.MethodPut && key != "" && r.Header.Get("x-amz-copy-source") == "" && !r.URL.Query().Has("uploads") && !r.URL.Query().Has("partNumber"):
		op = "PutObject"
	case r.Method == http.MethodGet && key != "":
		op = "GetObject"
	case r.Method == http.MethodGet && key == "" && r.URL.Query().Get("list-type") == "2":
		op = "ListObjectsV2"
	case r.Method == http.MethodDelete && key != "":
		op = "DeleteObject"
	default:
		writeError(w, http.StatusNotImplemented, "NotImplemented", "s3fake does not implement "+r.Method+" "+r.URL.String(), "")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+f.AccessKey+"/") {
		writeError(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", "")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" "+bucket+"/"+key)
	objs, ok := f.buckets[bucket]
	if !ok {
		writeError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist", bucket)
		return
	}
	if f.Deny != nil && f.Deny(op, bucket) {
		writeError(w, http.StatusForbidden, "AccessDenied", "Access Denied", "")
		return
	}
	switch op {
	case "PutObject":
		body, sum, err := readBody(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error(), "")
			return
		}
		how := "plain"
		if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
			how = "aws-chunked"
		}
		if sum != "" {
			how += " crc32"
		}
		f.puts = append(f.puts, how)
		if sum != "" {
			if got := crc32Base64(body); got != sum {
				writeError(w, http.StatusBadRequest, "BadDigest", "The CRC32 you specified did not match the calculated checksum.", "")
				return
			}
		}
		objs[key] = object{body: body, modified: f.now().UTC(), crc32: crc32Base64(body)}
		w.Header().Set("ETag", etag(body))
		w.Header().Set("x-amz-checksum-crc32", objs[key].crc32)
		w.WriteHeader(http.StatusOK)
	case "GetObject":
		o, ok := objs[key]
		if !ok {
			writeError(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", "")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		w.Header().Set("ETag", etag(o.body))
		w.Header().Set("Last-Modified", o.modified.Format(http.TimeFormat))
		if r.Header.Get("x-amz-checksum-mode") == "ENABLED" {
			w.Header().Set("x-amz-checksum-crc32", o.crc32)
			w.Header().Set("x-amz-checksum-type", "FULL_OBJECT")
		}
		w.WriteHeader(http.StatusOK)
		w.Write(o.body)
	case "DeleteObject":
		delete(objs, key)
		w.WriteHeader(http.StatusNoContent)
	case "ListObjectsV2":
		f.list(w, r, bucket, objs)
	}
}

// readBody reads a PutObject body, decoding aws-chunked, and returns the
// CRC32 checksum the request declared (header or trailer), if any.
func readBody(r *http.Request) ([]byte, string, error) {
	sum := r.Header.Get("x-amz-checksum-crc32")
	if alg := r.Header.Get("x-amz-sdk-checksum-algorithm"); alg != "" && alg != "CRC32" {
		return nil, "", fmt.Errorf("s3fake checks CRC32 checksums only, not %s", alg)
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, "", err
	}
	if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		return raw, sum, nil
	}
	want, err := strconv.ParseInt(r.Header.Get("x-amz-decoded-content-length"), 10, 64)
	if err != nil {
		return nil, "", fmt.Errorf("aws-chunked without x-amz-decoded-content-length")
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	var body []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, "", fmt.Errorf("aws-chunked: chunk header: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil {
			return nil, "", fmt.Errorf("aws-chunked: chunk size %q", sizeHex)
		}
		if n == 0 {
			break
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, "", fmt.Errorf("aws-chunked: chunk: %w", err)
		}
		body = append(body, chunk...)
		if crlf, _ := br.ReadString('\n'); crlf != "\r\n" {
			return nil, "", fmt.Errorf("aws-chunked: chunk not ended by CRLF")
		}
	}
	// Trailers, then an empty line.
	for trailer := r.Header.Get("x-amz-trailer"); ; {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		if strings.EqualFold(k, trailer) && strings.EqualFold(k, "x-amz-checksum-crc32") {
			sum = v
		}
		if err != nil {
			break
		}
	}
	if int64(len(body)) != want {
		return nil, "", fmt.Errorf("aws-chunked: %d bytes, x-amz-decoded-content-length says %d", len(body), want)
	}
	return body, sum, nil
}

func crc32Base64(b []byte) string {
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(s[:])
}

func etag(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

type listResult struct {
	XMLName               xml.Name   `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string     `xml:"Name"`
	Prefix                string     `xml:"Prefix"`
	KeyCount              int        `xml:"KeyCount"`
	MaxKeys               int        `xml:"MaxKeys"`
	IsTruncated           bool       `xml:"IsTruncated"`
	ContinuationToken     string     `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string     `xml:"NextContinuationToken,omitempty"`
	Contents              []listItem `xml:"Contents"`
}

type listItem struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int    `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

// list serves ListObjectsV2: keys in UTF-8 order, max-keys (default and
// at most 1000) a page, continued by an opaque token.
func (f *Fake) list(w http.ResponseWriter, r *http.Request, bucket string, objs map[string]object) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range", "")
			return
		}
		maxKeys = min(n, 1000)
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.StdEncoding.DecodeString(tok)
		if err != nil {
			writeError(w, http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect", "")
			return
		}
		after = string(b)
	}
	var keys []string
	for k := range objs {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := listResult{Name: bucket, Prefix: prefix, MaxKeys: maxKeys, ContinuationToken: q.Get("continuation-token")}
	if len(keys) > maxKeys {
		keys = keys[:maxKeys]
		res.IsTruncated = true
		res.NextContinuationToken = base64.StdEncoding.EncodeToString([]byte(keys[len(keys)-1]))
	}
	for _, k := range keys {
		o := objs[k]
		res.Contents = append(res.Contents, listItem{Key: k, LastModified: o.modified.Format("2006-01-02T15:04:05.000Z"),
			ETag: etag(o.body), Size: len(o.body), StorageClass: "STANDARD"})
	}
	res.KeyCount = len(res.Contents)
	w.Header().Set("Content-Type", "application/xml")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(res)
}

type errorDoc struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId"`
}

func writeError(w http.ResponseWriter, status int, code, msg, bucket string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(errorDoc{Code: code, Message: msg, BucketName: bucket, RequestID: "S3FAKE0000000001", HostID: "s3fake"})
}
