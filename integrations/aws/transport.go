package aws

import "net/http"

// roundTripper makes the SDK's HTTP client (a Do method) a RoundTripper,
// so that Options.Transport can wrap it.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wrappedClient is an aws.HTTPClient sending through a RoundTripper.
type wrappedClient struct{ rt http.RoundTripper }

func (c wrappedClient) Do(r *http.Request) (*http.Response, error) { return c.rt.RoundTrip(r) }
