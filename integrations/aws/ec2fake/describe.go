package ec2fake

import (
	"fmt"
	"net/http"
	"strings"
)

// lookup resolves InstanceId.N in the caller's region. Unknown IDs fail the
// whole call with InvalidInstanceID.NotFound, naming every one of them, as
// EC2 does.
func (s *Server) lookup(c Call, required bool) ([]*instance, *apiError) {
	ids := indexed(c.Params, "InstanceId")
	if len(ids) == 0 && required {
		return nil, missing("InstanceId")
	}
	var found []*instance
	var unknown []string
	for _, id := range ids {
		if !strings.HasPrefix(id, "i-") {
			return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.Malformed", fmt.Sprintf("Invalid id: %q", id))
		}
		in, ok := s.instances[id]
		if !ok || in.Region != c.Region {
			unknown = append(unknown, id)
			continue
		}
		found = append(found, in)
	}
	switch len(unknown) {
	case 0:
		return found, nil
	case 1:
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", unknown[0]))
	default:
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(unknown, ", ")))
	}
}

var filterNames = map[string]bool{"instance-id": true, "tag-key": true, "instance-state-name": true,
	"instance-type": true, "image-id": true, "subnet-id": true, "private-ip-address": true, "client-token": true, "key-name": true}

func matches(in *instance, fs []filter) bool {
	for _, f := range fs {
		var ok bool
		switch {
		case strings.HasPrefix(f.Name, "tag:"):
			v, has := in.Tags[strings.TrimPrefix(f.Name, "tag:")]
			ok = has && anyGlob(f.Values, v)
		case f.Name == "tag-key":
			for k := range in.Tags {
				ok = ok || anyGlob(f.Values, k)
			}
		case f.Name == "instance-id":
			ok = anyGlob(f.Values, in.ID)
		case f.Name == "instance-state-name":
			ok = anyGlob(f.Values, string(in.State))
		case f.Name == "instance-type":
			ok = anyGlob(f.Values, in.Type)
		case f.Name == "image-id":
			ok = anyGlob(f.Values, in.ImageID)
		case f.Name == "subnet-id":
			ok = anyGlob(f.Values, in.SubnetID)
		case f.Name == "private-ip-address":
			ok = anyGlob(f.Values, in.PrivateIP)
		case f.Name == "client-token":
			ok = anyGlob(f.Values, in.ClientToken)
		case f.Name == "key-name":
			ok = in.KeyName != "" && anyGlob(f.Values, in.KeyName)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Server) describeInstances(c Call) (any, *apiError) {
	fs := filters(c.Params)
	for _, f := range fs {
		if !filterNames[f.Name] && !strings.HasPrefix(f.Name, "tag:") {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", f.Name))
		}
	}
	picked, e := s.lookup(c, false)
	if e != nil {
		return nil, e
	}
	if len(indexed(c.Params, "InstanceId")) == 0 {
		for _, id := range s.order {
			if in := s.instances[id]; in.Region == c.Region {
				picked = append(picked, in)
			}
		}
	}
	out := &describeInstancesResponse{}
	byRes := map[string]int{}
	for _, in := range picked {
		if !matches(in, fs) {
			continue
		}
		i, ok := byRes[in.ReservationID]
		if !ok {
			i = len(out.Reservations)
			byRes[in.ReservationID] = i
			out.Reservations = append(out.Reservations, reservationXML{ReservationID: in.ReservationID, OwnerID: OwnerID})
		}
		out.Reservations[i].Instances = append(out.Reservations[i].Instances, toXML(in.Instance))
	}
	return out, nil
}

func (s *Server) describeImages(c Call) (any, *apiError) {
	out := &describeImagesResponse{}
	for _, id := range indexed(c.Params, "ImageId") {
		if !strings.HasPrefix(id, "ami-") {
			return nil, errorf(http.StatusBadRequest, "InvalidAMIID.Malformed", fmt.Sprintf("Invalid id: %q", id))
		}
		if !s.imageExists(id) {
			return nil, errorf(http.StatusBadRequest, "InvalidAMIID.NotFound", fmt.Sprintf("The image id '[%s]' does not exist", id))
		}
		out.Images = append(out.Images, imageXML{ImageID: id, ImageState: "available",
			RootDeviceType: "ebs", RootDeviceName: s.rootDevice(id), Architecture: "x86_64"})
	}
	return out, nil
}
