package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestURL_HidesPasswords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://opsbot:s3cret@db:5432/opsbot?sslmode=disable", "postgres://opsbot:xxxxx@db:5432/opsbot?sslmode=disable"},
		{"postgres://opsbot@db/opsbot?password=s3cret&sslmode=require", "postgres://opsbot@db/opsbot?password=xxxxx&sslmode=require"},
		{"postgresql://db/opsbot?user=o&PASSWORD=s3cret", "postgresql://db/opsbot?PASSWORD=xxxxx&user=o"},
		{"postgres://u:p@db/x?sslpassword=s3cret&sslkey=/k", "postgres://u:xxxxx@db/x?sslkey=%2Fk&sslpassword=xxxxx"},
		{"postgres://db/opsbot", "postgres://db/opsbot"},
		{"postgres://u:s3cret@db/%zz", "postgres://xxxxx"},
		{"sqlite:opsbot.db", "sqlite:opsbot.db"},
	}
	for _, tt := range tests {
		got := URL(tt.in)
		if got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("URL(%q) = %q still shows the password", tt.in, got)
		}
	}
}

// FuzzURL: whatever the user and password, neither form of password
// survives, and the rest of the URL still reads.
func FuzzURL(f *testing.F) {
	f.Add("opsbot", "s3cret")
	f.Add("a b", "p@ss:/?#%")
	f.Fuzz(func(t *testing.T, user, pass string) {
		if pass == hidden {
			return
		}
		in := (&url.URL{Scheme: "postgres", User: url.UserPassword(user, pass), Host: "db:5432", Path: "/opsbot",
			RawQuery: url.Values{"password": {pass}, "sslmode": {"disable"}}.Encode()}).String()
		got := URL(in)
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("URL(%q) = %q, which does not parse: %v", in, got, err)
		}
		if p, _ := u.User.Password(); p != hidden || u.Query().Get("password") != hidden {
			t.Fatalf("URL(%q) = %q keeps a password", in, got)
		}
		if u.User.Username() != user || u.Host != "db:5432" || u.Query().Get("sslmode") != "disable" {
			t.Fatalf("URL(%q) = %q lost more than the password", in, got)
		}
	})
}
