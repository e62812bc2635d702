package ec2fake

import (
	"encoding/xml"
	"net/http"
)

// A minimal STS: GetCallerIdentity, in the AWS Query protocol STS speaks
// (form-encoded Action=GetCallerIdentity&Version=2011-06-15, XML reply,
// errors as ErrorResponse/Error). It is served on the same endpoint as
// EC2, so one AWS_ENDPOINT_URL points the SDK's EC2 and STS clients here.

// Identity is who the fake says the caller is.
type Identity struct {
	Account, Arn, UserID string
}

// DefaultIdentity is the caller before SetIdentity.
var DefaultIdentity = Identity{Account: OwnerID, Arn: "arn:aws:iam::" + OwnerID + ":user/opsbot", UserID: "AIDAFAKEOPSBOT00001"}

// SetIdentity changes who GetCallerIdentity reports.
func (s *Server) SetIdentity(id Identity) {
	s.mu.Lock()
	s.identity = id
	s.mu.Unlock()
}

type callerIdentityResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Arn       string   `xml:"GetCallerIdentityResult>Arn"`
	UserID    string   `xml:"GetCallerIdentityResult>UserId"`
	Account   string   `xml:"GetCallerIdentityResult>Account"`
	RequestID string   `xml:"ResponseMetadata>RequestId"`
}

type stsErrorResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// serveSTS answers an STS call. Caller holds s.mu.
func (s *Server) serveSTS(w http.ResponseWriter, c Call, reqID string) {
	if e := s.injectedFault(c.Action); e != nil {
		c.Error = e.Code
		s.calls = append(s.calls, c)
		writeXML(w, e.Status, stsErrorResponse{Type: "Sender", Code: e.Code, Message: e.Message, RequestID: reqID})
		return
	}
	s.calls = append(s.calls, c)
	id := s.identity
	if id == (Identity{}) {
		id = DefaultIdentity
	}
	writeXML(w, http.StatusOK, callerIdentityResponse{Arn: id.Arn, UserID: id.UserID, Account: id.Account, RequestID: reqID})
}
