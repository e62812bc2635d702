package ec2fake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// launch is a parsed and checked RunInstances request.
type launch struct {
	region, token             string
	image, itype, subnet, key string
	groups                    []string
	rootDevice                string
	rootGB                    int
	userData                  string
	instanceTags, volumeTags  map[string]string
	minCount, maxCount        int
	fingerprint               string
	rootEncrypted             bool
	publicIP                  bool
	httpTokens, httpEndpoint  string
	profile                   string // IAM instance profile ARN
}

// OwnerID's account holds the instance profiles the fake knows by name.
const profileARN = "arn:aws:iam::" + OwnerID + ":instance-profile/"

func combination(msg string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterCombination", msg)
}

var tagResourceTypes = map[string]bool{
	"instance": true, "volume": true, "network-interface": true, "spot-instances-request": true,
}

func badParam(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf(format, args...))
}

func missing(name string) *apiError {
	return errorf(http.StatusBadRequest, "MissingParameter", fmt.Sprintf("The request must contain the parameter %s", name))
}

func (s *Server) parseLaunch(c Call) (*launch, *apiError) {
	f := c.Params
	l := &launch{region: c.Region, token: f.Get("ClientToken"), image: f.Get("ImageId"),
		itype: f.Get("InstanceType"), subnet: f.Get("SubnetId"), key: f.Get("KeyName"),
		groups: indexed(f, "SecurityGroupId"), instanceTags: map[string]string{}, volumeTags: map[string]string{}}
	if l.image == "" {
		return nil, missing("ImageId")
	}
	if !strings.HasPrefix(l.image, "ami-") {
		return nil, errorf(http.StatusBadRequest, "InvalidAMIID.Malformed", fmt.Sprintf("Invalid id: %q (expecting \"ami-...\")", l.image))
	}
	if l.itype == "" {
		l.itype = "m1.small" // EC2's documented default
	}
	if len(l.token) > 64 {
		return nil, badParam("Value (%s) for parameter clientToken is invalid. Length exceeds maximum of 64 characters.", l.token)
	}
	var err error
	for _, p := range []struct {
		name string
		dst  *int
	}{{"MinCount", &l.minCount}, {"MaxCount", &l.maxCount}} {
		name, dst := p.name, p.dst
		v := f.Get(name)
		if v == "" {
			return nil, missing(name)
		}
		if *dst, err = strconv.Atoi(v); err != nil || *dst < 1 {
			return nil, badParam("Value (%s) for parameter %s is invalid.", v, name)
		}
	}
	if l.minCount > l.maxCount {
		return nil, badParam("MinCount (%d) must not exceed MaxCount (%d).", l.minCount, l.maxCount)
	}
	for _, g := range l.groups {
		if !strings.HasPrefix(g, "sg-") {
			return nil, errorf(http.StatusBadRequest, "InvalidGroupId.Malformed", fmt.Sprintf("Invalid id: %q", g))
		}
	}
	if l.subnet != "" && !strings.HasPrefix(l.subnet, "subnet-") {
		return nil, errorf(http.StatusBadRequest, "InvalidSubnetID.Malformed", fmt.Sprintf("Invalid id: %q", l.subnet))
	}
	if ud := f.Get("UserData"); ud != "" {
		raw, err := base64.StdEncoding.DecodeString(ud)
		if err != nil {
			return nil, badParam("Invalid BASE64 encoding of user data.")
		}
		l.userData = string(raw)
	}
	l.rootDevice = s.rootDevice(l.image)
	l.rootGB = 8
	for _, m := range members(f, "BlockDeviceMapping") {
		if f.Get(m+".DeviceName") != l.rootDevice {
			continue // only the root volume is modelled
		}
		if size := f.Get(m + ".Ebs.VolumeSize"); size != "" {
			if l.rootGB, err = strconv.Atoi(size); err != nil || l.rootGB < 1 || l.rootGB > 16384 {
				return nil, badParam("Volume size %s is invalid.", size)
			}
		}
		if enc := f.Get(m + ".Ebs.Encrypted"); enc != "" {
			if l.rootEncrypted, err = strconv.ParseBool(enc); err != nil {
				return nil, badParam("Value (%s) for parameter encrypted is invalid.", enc)
			}
		}
	}
	if e := l.parseNetwork(f); e != nil {
		return nil, e
	}
	if e := l.parseMetadata(f); e != nil {
		return nil, e
	}
	if e := l.parseProfile(f); e != nil {
		return nil, e
	}
	for _, m := range members(f, "TagSpecification") {
		rt := f.Get(m + ".ResourceType")
		if !tagResourceTypes[rt] {
			return nil, badParam("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		tags, _ := tagList(f, m+".Tag")
		if e := checkTags(tags); e != nil {
			return nil, e
		}
		if e := tagLimit(nil, tags); e != nil {
			return nil, e
		}
		switch rt {
		case "instance":
			mergeInto(l.instanceTags, tags)
		case "volume":
			mergeInto(l.volumeTags, tags)
		}
	}
	l.fingerprint = fingerprint(f)
	return l, nil
}

// parseNetwork reads NetworkInterface.N as EC2 does: the primary
// interface (DeviceIndex 0) carries the subnet, the security groups and
// AssociatePublicIpAddress, and then neither SubnetId nor SecurityGroupId
// may be given at the top level too. Without interfaces, a launch into
// the default subnet (no SubnetId) gets a public address, as default
// subnets map one on launch.
func (l *launch) parseNetwork(f url.Values) *apiError {
	nis := members(f, "NetworkInterface")
	if len(nis) == 0 {
		l.publicIP = l.subnet == ""
		return nil
	}
	if l.subnet != "" {
		return combination("Network interfaces and an instance-level subnet ID may not be specified on the same request")
	}
	if len(l.groups) > 0 {
		return combination("Network interfaces and an instance-level security groups may not be specified on the same request")
	}
	for _, m := range nis {
		idx := f.Get(m + ".DeviceIndex")
		if idx == "" && f.Get(m+".NetworkInterfaceId") == "" {
			return badParam("Each network interface requires a device index.")
		}
		assoc := f.Get(m + ".AssociatePublicIpAddress")
		if assoc != "" && (idx != "0" || len(nis) > 1) {
			return combination("The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces.")
		}
		if idx != "0" {
			continue
		}
		if sub := f.Get(m + ".SubnetId"); sub != "" {
			if !strings.HasPrefix(sub, "subnet-") {
				return errorf(http.StatusBadRequest, "InvalidSubnetID.Malformed", fmt.Sprintf("Invalid id: %q", sub))
			}
			l.subnet = sub
		}
		l.groups = indexed(f, m+".SecurityGroupId")
		for _, g := range l.groups {
			if !strings.HasPrefix(g, "sg-") {
				return errorf(http.StatusBadRequest, "InvalidGroupId.Malformed", fmt.Sprintf("Invalid id: %q", g))
			}
		}
		switch assoc {
		case "":
			l.publicIP = l.subnet == ""
		default:
			v, err := strconv.ParseBool(assoc)
			if err != nil {
				return badParam("Value (%s) for parameter associatePublicIpAddress is invalid.", assoc)
			}
			l.publicIP = v
		}
	}
	return nil
}

// parseMetadata reads MetadataOptions: HttpTokens optional|required,
// HttpEndpoint enabled|disabled. EC2's default (for an AMI that does not
// ask for IMDSv2) is optional and enabled.
func (l *launch) parseMetadata(f url.Values) *apiError {
	l.httpTokens, l.httpEndpoint = "optional", "enabled"
	if v := f.Get("MetadataOptions.HttpTokens"); v != "" {
		if v != "optional" && v != "required" {
			return badParam("Value (%s) for parameter httpTokens is invalid. Valid values: optional, required.", v)
		}
		l.httpTokens = v
	}
	if v := f.Get("MetadataOptions.HttpEndpoint"); v != "" {
		if v != "enabled" && v != "disabled" {
			return badParam("Value (%s) for parameter httpEndpoint is invalid. Valid values: enabled, disabled.", v)
		}
		l.httpEndpoint = v
	}
	return nil
}

// parseProfile reads IamInstanceProfile.Arn or .Name (a name is looked up
// in the fake's own account).
func (l *launch) parseProfile(f url.Values) *apiError {
	arn, name := f.Get("IamInstanceProfile.Arn"), f.Get("IamInstanceProfile.Name")
	switch {
	case arn != "" && name != "":
		return combination("The parameter iamInstanceProfile.name may not be used in combination with iamInstanceProfile.arn")
	case arn != "":
		if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.Contains(arn, ":instance-profile/") {
			return badParam("Value (%s) for parameter iamInstanceProfile.arn is invalid.", arn)
		}
		l.profile = arn
	case name != "":
		l.profile = profileARN + name
	}
	return nil
}

func mergeInto(dst, src map[string]string) {
	for k, v := range src {
		dst[k] = v
	}
}

// fingerprint is the request without the fields that may differ between
// retries of one launch, so a reused ClientToken with other parameters is
// told apart, as EC2 does with IdempotentParameterMismatch.
func fingerprint(f url.Values) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		if k != "ClientToken" && k != "DryRun" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q;", k, f[k])
	}
	return b.String()
}

func (s *Server) rootDevice(image string) string {
	if d, ok := s.images[image]; ok {
		return d
	}
	return "/dev/xvda"
}

func (s *Server) runInstances(c Call) (any, *apiError) {
	l, e := s.parseLaunch(c)
	if e == nil {
		e = s.checkLaunchResources(l)
	}
	if e != nil {
		return nil, e
	}
	if l.token != "" {
		if rid, ok := s.tokens[l.region+"/"+l.token]; ok {
			res := s.reservations[rid]
			if res.fingerprint != l.fingerprint {
				return nil, errorf(http.StatusBadRequest, "IdempotentParameterMismatch",
					"The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.")
			}
			return &runInstancesResponse{reservationXML: s.reservationXML(res)}, nil
		}
	}
	now := c.At.UTC().Truncate(time.Second) // EC2 reports whole seconds
	res := &reservation{id: unusedID("r", len(s.reservations)+1, func(id string) bool { return s.reservations[id] != nil }),
		region: l.region, fingerprint: l.fingerprint}
	for range l.maxCount {
		n := len(s.order)
		for s.instances[newID("i", n+1, 17)] != nil {
			n++ // only after restoring a snapshot that lost instances
		}
		ip, dns := privateAddress(n, l.region)
		public := ""
		if l.publicIP {
			public = publicAddress(n)
		}
		in := &instance{Instance: Instance{
			PublicIP: public, HTTPTokens: l.httpTokens, HTTPEndpoint: l.httpEndpoint, InstanceProfile: l.profile,
			ID: newID("i", n+1, 17), ReservationID: res.id, Region: l.region, Type: l.itype,
			ImageID: l.image, SubnetID: l.subnet, SecurityGroups: slices.Clone(l.groups), KeyName: l.key,
			ClientToken: l.token, UserData: l.userData, State: Pending, LaunchTime: now,
			PrivateIP: ip, PrivateDNS: dns, Tags: cloneTags(l.instanceTags),
			RootVolume: Volume{ID: newID("vol", n+1, 17), DeviceName: l.rootDevice, SizeGB: l.rootGB, Tags: cloneTags(l.volumeTags), Encrypted: l.rootEncrypted},
		}, since: c.At}
		s.instances[in.ID] = in
		s.order = append(s.order, in.ID)
		res.instanceIDs = append(res.instanceIDs, in.ID)
	}
	s.reservations[res.id] = res
	if l.token != "" {
		s.tokens[l.region+"/"+l.token] = res.id
	}
	return &runInstancesResponse{reservationXML: s.reservationXML(res)}, nil
}

// unusedID is newID for the first sequence number from seq on whose ID
// is not taken yet, so a restored fake never hands out an ID twice.
func unusedID(prefix string, seq int, taken func(string) bool) string {
	for taken(newID(prefix, seq, 17)) {
		seq++
	}
	return newID(prefix, seq, 17)
}

func cloneTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	mergeInto(out, m)
	return out
}

func (s *Server) reservationXML(res *reservation) reservationXML {
	x := reservationXML{ReservationID: res.id, OwnerID: OwnerID}
	for _, id := range res.instanceIDs {
		x.Instances = append(x.Instances, toXML(s.instances[id].Instance))
	}
	return x
}
