package ec2fake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Subnets, security groups and AMIs. By default every well-formed ID
// exists, so tests that do not care need not declare any; in strict mode
// (SetStrict) only those declared with SetImage, SetSubnet and
// SetSecurityGroup exist, DescribeImages, DescribeSubnets and
// DescribeSecurityGroups answer EC2's NotFound errors for the others, and
// RunInstances (dry run or not) refuses a launch that names one.

// SetStrict turns strict mode on or off.
func (s *Server) SetStrict(on bool) {
	s.mu.Lock()
	s.strict = on
	s.mu.Unlock()
}

// SetSubnet declares a subnet in a region.
func (s *Server) SetSubnet(region, subnetID string) {
	s.mu.Lock()
	s.subnets[subnetID] = region
	s.mu.Unlock()
}

// SetSecurityGroup declares a security group in a region.
func (s *Server) SetSecurityGroup(region, groupID string) {
	s.mu.Lock()
	s.groups[groupID] = region
	s.mu.Unlock()
}

// RemoveImage makes an AMI unknown again (deregistered).
func (s *Server) RemoveImage(imageID string) {
	s.mu.Lock()
	delete(s.images, imageID)
	s.mu.Unlock()
}

// fakeVPC is the VPC every subnet and group of the fake belongs to.
const fakeVPC = "vpc-0fake0000000000001"

// imageExists, subnetIn and groupIn answer for the caller's region.
// Callers hold s.mu.
func (s *Server) imageExists(id string) bool {
	_, ok := s.images[id]
	return !s.strict || ok
}

func (s *Server) subnetIn(region, id string) bool {
	r, ok := s.subnets[id]
	return !s.strict || (ok && r == region)
}

func (s *Server) groupIn(region, id string) bool {
	r, ok := s.groups[id]
	return !s.strict || (ok && r == region)
}

// checkLaunchResources refuses a launch naming an AMI, subnet or group
// that does not exist, with EC2's codes.
func (s *Server) checkLaunchResources(l *launch) *apiError {
	if !s.imageExists(l.image) {
		return errorf(http.StatusBadRequest, "InvalidAMIID.NotFound", fmt.Sprintf("The image id '[%s]' does not exist", l.image))
	}
	if l.subnet != "" && !s.subnetIn(l.region, l.subnet) {
		return errorf(http.StatusBadRequest, "InvalidSubnetID.NotFound", fmt.Sprintf("The subnet ID '%s' does not exist", l.subnet))
	}
	for _, g := range l.groups {
		if !s.groupIn(l.region, g) {
			return errorf(http.StatusBadRequest, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", g))
		}
	}
	return nil
}

// notFoundAll is EC2's answer naming every unknown ID of a Describe call.
func notFoundAll(code, what string, ids []string) *apiError {
	if len(ids) == 1 {
		return errorf(http.StatusBadRequest, code, fmt.Sprintf("The %s '%s' does not exist", what, ids[0]))
	}
	return errorf(http.StatusBadRequest, code, fmt.Sprintf("The %ss '%s' do not exist", what, strings.Join(ids, ", ")))
}

type subnetXML struct {
	SubnetID         string `xml:"subnetId"`
	VpcID            string `xml:"vpcId"`
	State            string `xml:"state"`
	AvailabilityZone string `xml:"availabilityZone"`
	CidrBlock        string `xml:"cidrBlock"`
	OwnerID          string `xml:"ownerId"`
}

type describeSubnetsResponse struct {
	XMLName   xml.Name    `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeSubnetsResponse"`
	RequestID string      `xml:"requestId"`
	Subnets   []subnetXML `xml:"subnetSet>item"`
}

type securityGroupXML struct {
	GroupID     string `xml:"groupId"`
	GroupName   string `xml:"groupName"`
	Description string `xml:"groupDescription"`
	VpcID       string `xml:"vpcId"`
	OwnerID     string `xml:"ownerId"`
}

type describeGroupsResponse struct {
	XMLName   xml.Name           `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeSecurityGroupsResponse"`
	RequestID string             `xml:"requestId"`
	Groups    []securityGroupXML `xml:"securityGroupInfo>item"`
}

// describeSubnets answers SubnetId.N; without IDs, the declared subnets of
// the region.
func (s *Server) describeSubnets(c Call) (any, *apiError) {
	ids := indexed(c.Params, "SubnetId")
	if len(ids) == 0 {
		for id, r := range s.subnets {
			if r == c.Region {
				ids = append(ids, id)
			}
		}
	}
	out := &describeSubnetsResponse{}
	var unknown []string
	for _, id := range ids {
		if !strings.HasPrefix(id, "subnet-") {
			return nil, errorf(http.StatusBadRequest, "InvalidSubnetID.Malformed", fmt.Sprintf("Invalid id: %q", id))
		}
		if !s.subnetIn(c.Region, id) {
			unknown = append(unknown, id)
			continue
		}
		out.Subnets = append(out.Subnets, subnetXML{SubnetID: id, VpcID: fakeVPC, State: "available",
			AvailabilityZone: c.Region + "a", CidrBlock: "10.0.0.0/24", OwnerID: OwnerID})
	}
	if len(unknown) > 0 {
		return nil, notFoundAll("InvalidSubnetID.NotFound", "subnet ID", unknown)
	}
	return out, nil
}

// describeSecurityGroups answers GroupId.N.
func (s *Server) describeSecurityGroups(c Call) (any, *apiError) {
	ids := indexed(c.Params, "GroupId")
	out := &describeGroupsResponse{}
	var unknown []string
	for _, id := range ids {
		if !strings.HasPrefix(id, "sg-") {
			return nil, errorf(http.StatusBadRequest, "InvalidGroupId.Malformed", fmt.Sprintf("Invalid id: %q", id))
		}
		if !s.groupIn(c.Region, id) {
			unknown = append(unknown, id)
			continue
		}
		out.Groups = append(out.Groups, securityGroupXML{GroupID: id, GroupName: id, Description: "fake group", VpcID: fakeVPC, OwnerID: OwnerID})
	}
	if len(unknown) > 0 {
		return nil, notFoundAll("InvalidGroup.NotFound", "security group", unknown)
	}
	return out, nil
}
