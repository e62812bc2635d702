package ec2fake

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// indexed returns the values of a Query-protocol list such as
// InstanceId.1, InstanceId.2 ..., in index order. EC2 numbers list members
// from 1; gaps end the list, as they do for the real service.
func indexed(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+"."+strconv.Itoa(i)]
		if !ok || len(v) == 0 {
			return out
		}
		out = append(out, v[0])
	}
}

// members returns the indexes N for which some key starts with prefix.N.,
// in order, stopping at the first gap.
func members(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		p := prefix + "." + strconv.Itoa(i)
		found := false
		for k := range form {
			if k == p || strings.HasPrefix(k, p+".") {
				found = true
				break
			}
		}
		if !found {
			return out
		}
		out = append(out, p)
	}
}

// tagList reads Tag.N.Key / Tag.N.Value pairs under prefix ("Tag" or
// "TagSpecification.1.Tag"). A missing value is the empty string, as in
// EC2.
func tagList(form url.Values, prefix string) (map[string]string, []string) {
	tags := map[string]string{}
	var order []string
	for _, m := range members(form, prefix) {
		k := form.Get(m + ".Key")
		if k == "" {
			continue
		}
		if _, seen := tags[k]; !seen {
			order = append(order, k)
		}
		tags[k] = form.Get(m + ".Value")
	}
	return tags, order
}

// EC2's tag restrictions (CreateTags and "Tag your Amazon EC2 resources"):
// at most 50 tags on a resource, keys of 1 to 128 and values of at most
// 256 Unicode characters, no key starting with aws:.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// checkTags applies the per-tag restrictions.
func checkTags(tags map[string]string) *apiError {
	for k, v := range tags {
		switch {
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return badParam("Tag keys starting with 'aws:' are reserved for internal use")
		case utf8.RuneCountInString(k) > maxTagKeyLen:
			return badParam("Tag key exceeds the maximum length of %d characters", maxTagKeyLen)
		case utf8.RuneCountInString(v) > maxTagValueLen:
			return badParam("Tag value exceeds the maximum length of %d characters", maxTagValueLen)
		}
	}
	return nil
}

// tagLimit refuses tags that would leave a resource (with the tags it
// has) with more than 50.
func tagLimit(have, adding map[string]string) *apiError {
	n := len(have)
	for k := range adding {
		if _, ok := have[k]; !ok {
			n++
		}
	}
	if n > maxTags {
		return errorf(http.StatusBadRequest, "TagLimitExceeded", fmt.Sprintf("The maximum number of tags per resource is %d; the request would leave %d.", maxTags, n))
	}
	return nil
}

// filter is one Filter.N of a Describe call: a name and the values any of
// which may match.
type filter struct {
	Name   string
	Values []string
}

func filters(form url.Values) []filter {
	var out []filter
	for _, m := range members(form, "Filter") {
		out = append(out, filter{Name: form.Get(m + ".Name"), Values: indexed(form, m+".Value")})
	}
	return out
}

var credentialScope = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/`)
var hostRegion = regexp.MustCompile(`^(?:ec2|api\.pricing)\.([a-z]{2}(?:-[a-z]+)+-\d+)\.`)

// regionOf finds the region a request was sent to: from the host name
// (ec2.REGION.amazonaws.com) when it carries one, else from the SigV4
// credential scope, else us-east-1.
func regionOf(r *http.Request) string {
	if m := hostRegion.FindStringSubmatch(r.Host); m != nil {
		return m[1]
	}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	return "us-east-1"
}

// glob matches s against an EC2 filter value, where * matches any run of
// characters and ? any one character.
func glob(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if glob(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && glob(pattern[1:], s[1:])
	case '\\':
		if len(pattern) > 1 {
			pattern = pattern[1:]
		}
	}
	return s != "" && s[0] == pattern[0] && glob(pattern[1:], s[1:])
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if glob(p, s) {
			return true
		}
	}
	return false
}
