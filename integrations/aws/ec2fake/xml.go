package ec2fake

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Namespace is the XML namespace of every EC2 reply for API version
// 2016-11-15, the version the SDKs send.
const Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// OwnerID is the account that owns every fake reservation.
const OwnerID = "123456789012"

type stateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type groupXML struct {
	GroupID string `xml:"groupId"`
}

type ebsXML struct {
	VolumeID            string `xml:"volumeId"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type mappingXML struct {
	DeviceName string `xml:"deviceName"`
	Ebs        ebsXML `xml:"ebs"`
}

type placementXML struct {
	AvailabilityZone string `xml:"availabilityZone"`
	Tenancy          string `xml:"tenancy"`
}

type instanceXML struct {
	InstanceID         string       `xml:"instanceId"`
	ImageID            string       `xml:"imageId"`
	State              stateXML     `xml:"instanceState"`
	PrivateDNSName     string       `xml:"privateDnsName"`
	DNSName            string       `xml:"dnsName"`
	KeyName            string       `xml:"keyName,omitempty"`
	AmiLaunchIndex     int          `xml:"amiLaunchIndex"`
	InstanceType       string       `xml:"instanceType"`
	LaunchTime         string       `xml:"launchTime"`
	Placement          placementXML `xml:"placement"`
	SubnetID           string       `xml:"subnetId,omitempty"`
	PrivateIPAddress   string       `xml:"privateIpAddress"`
	Groups             []groupXML   `xml:"groupSet>item"`
	Architecture       string       `xml:"architecture"`
	RootDeviceType     string       `xml:"rootDeviceType"`
	RootDeviceName     string       `xml:"rootDeviceName"`
	BlockDeviceMapping []mappingXML `xml:"blockDeviceMapping>item"`
	ClientToken        string       `xml:"clientToken"`
	Tags               []tagXML     `xml:"tagSet>item,omitempty"`
	PublicIPAddress    string       `xml:"ipAddress,omitempty"`
	MetadataOptions    metadataXML  `xml:"metadataOptions"`
	IamInstanceProfile *profileXML  `xml:"iamInstanceProfile,omitempty"`
}

type metadataXML struct {
	State        string `xml:"state"`
	HTTPTokens   string `xml:"httpTokens"`
	HTTPEndpoint string `xml:"httpEndpoint"`
	HopLimit     int    `xml:"httpPutResponseHopLimit"`
}

type profileXML struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type reservationXML struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []instanceXML `xml:"instancesSet>item"`
}

type runInstancesResponse struct {
	XMLName   xml.Name `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ RunInstancesResponse"`
	RequestID string   `xml:"requestId"`
	reservationXML
}

type describeInstancesResponse struct {
	XMLName      xml.Name         `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeInstancesResponse"`
	RequestID    string           `xml:"requestId"`
	Reservations []reservationXML `xml:"reservationSet>item"`
}

type stateChangeXML struct {
	InstanceID    string   `xml:"instanceId"`
	CurrentState  stateXML `xml:"currentState"`
	PreviousState stateXML `xml:"previousState"`
}

type stateChangeResponse struct {
	XMLName   xml.Name
	RequestID string           `xml:"requestId"`
	Changes   []stateChangeXML `xml:"instancesSet>item"`
}

type returnResponse struct {
	XMLName   xml.Name
	RequestID string `xml:"requestId"`
	Return    bool   `xml:"return"`
}

type imageXML struct {
	ImageID        string `xml:"imageId"`
	ImageState     string `xml:"imageState"`
	RootDeviceType string `xml:"rootDeviceType"`
	RootDeviceName string `xml:"rootDeviceName"`
	Architecture   string `xml:"architecture"`
}

type describeImagesResponse struct {
	XMLName   xml.Name   `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeImagesResponse"`
	RequestID string     `xml:"requestId"`
	Images    []imageXML `xml:"imagesSet>item"`
}

type errorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

// ec2Time is how EC2 writes timestamps: UTC, milliseconds, Z.
func ec2Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func responseName(action string) xml.Name {
	return xml.Name{Space: Namespace, Local: action + "Response"}
}

func toXML(in Instance) instanceXML {
	x := instanceXML{
		InstanceID:       in.ID,
		ImageID:          in.ImageID,
		State:            stateXML{Code: in.State.Code(), Name: string(in.State)},
		PrivateDNSName:   in.PrivateDNS,
		KeyName:          in.KeyName,
		InstanceType:     in.Type,
		LaunchTime:       ec2Time(in.LaunchTime),
		Placement:        placementXML{AvailabilityZone: in.Region + "a", Tenancy: "default"},
		SubnetID:         in.SubnetID,
		PrivateIPAddress: in.PrivateIP,
		Architecture:     "x86_64",
		RootDeviceType:   "ebs",
		RootDeviceName:   in.RootVolume.DeviceName,
		ClientToken:      in.ClientToken,
		MetadataOptions:  metadataXML{State: "applied", HTTPTokens: in.HTTPTokens, HTTPEndpoint: in.HTTPEndpoint, HopLimit: 1},
	}
	if in.InstanceProfile != "" {
		x.IamInstanceProfile = &profileXML{Arn: in.InstanceProfile, ID: "AIPA" + strings.ToUpper(in.ID[2:])}
	}
	if in.State == Running || in.State == Pending || in.State == Stopping {
		x.PublicIPAddress = in.PublicIP // a stopped instance loses its public address
	}
	if in.State == Terminated {
		// EC2 stops reporting the address and volumes of a terminated
		// instance.
		x.PrivateDNSName, x.PrivateIPAddress = "", ""
	} else {
		x.BlockDeviceMapping = []mappingXML{{
			DeviceName: in.RootVolume.DeviceName,
			Ebs: ebsXML{VolumeID: in.RootVolume.ID, Status: "attached",
				AttachTime: ec2Time(in.LaunchTime), DeleteOnTermination: true},
		}}
	}
	for _, g := range in.SecurityGroups {
		x.Groups = append(x.Groups, groupXML{GroupID: g})
	}
	keys := make([]string, 0, len(in.Tags))
	for k := range in.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		x.Tags = append(x.Tags, tagXML{Key: k, Value: in.Tags[k]})
	}
	return x
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, "marshal reply: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(body)
}

// apiError is an EC2 error reply: its code, message and HTTP status.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func writeError(w http.ResponseWriter, e *apiError, requestID string) {
	writeXML(w, e.Status, errorResponse{Code: e.Code, Message: e.Message, RequestID: requestID})
}
