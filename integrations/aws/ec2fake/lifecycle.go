package ec2fake

import (
	"fmt"
	"net/http"
	"strings"
)

// validate checks a mutating request without acting, for DryRun.
func (s *Server) validate(c Call) *apiError {
	switch c.Action {
	case "RunInstances":
		l, e := s.parseLaunch(c)
		if e != nil {
			return e
		}
		return s.checkLaunchResources(l)
	case "CreateTags":
		_, _, e := s.parseCreateTags(c)
		return e
	case "StopInstances", "StartInstances", "TerminateInstances", "RebootInstances":
		_, e := s.lookup(c, true)
		return e
	case "CreateSnapshot":
		if _, e := s.volume(c); e != nil {
			return e
		}
		_, e := snapshotTags(c)
		return e
	}
	return nil
}

func incorrectState(in *instance, verb string) *apiError {
	return errorf(http.StatusBadRequest, "IncorrectInstanceState",
		fmt.Sprintf("This instance '%s' is not in a state from which it can be %s.", in.ID, verb))
}

// transition applies move to each instance and reports the state changes
// in EC2's instancesSet shape. A refused move fails the whole call before
// any instance changes.
func (s *Server) transition(c Call, move func(in *instance) (State, *apiError)) (any, *apiError) {
	ins, e := s.lookup(c, true)
	if e != nil {
		return nil, e
	}
	next := make([]State, len(ins))
	for i, in := range ins {
		if next[i], e = move(in); e != nil {
			return nil, e
		}
	}
	out := &stateChangeResponse{XMLName: responseName(c.Action)}
	for i, in := range ins {
		prev := in.State
		if next[i] != prev {
			in.setState(next[i], c.At)
			if next[i] == Pending {
				// A started instance is launched again: EC2 moves its
				// launch time.
				in.LaunchTime = c.At.UTC().Truncate(1e9)
			}
		}
		out.Changes = append(out.Changes, stateChangeXML{InstanceID: in.ID,
			CurrentState:  stateXML{Code: in.State.Code(), Name: string(in.State)},
			PreviousState: stateXML{Code: prev.Code(), Name: string(prev)}})
	}
	return out, nil
}

func (s *Server) stopInstances(c Call) (any, *apiError) {
	return s.transition(c, func(in *instance) (State, *apiError) {
		switch in.State {
		case Running:
			return Stopping, nil
		case Stopping, Stopped:
			return in.State, nil
		}
		return "", incorrectState(in, "stopped")
	})
}

func (s *Server) startInstances(c Call) (any, *apiError) {
	return s.transition(c, func(in *instance) (State, *apiError) {
		switch in.State {
		case Stopped:
			return Pending, nil
		case Pending, Running:
			return in.State, nil
		}
		return "", incorrectState(in, "started")
	})
}

func (s *Server) terminateInstances(c Call) (any, *apiError) {
	return s.transition(c, func(in *instance) (State, *apiError) {
		switch in.State {
		case ShuttingDown, Terminated:
			return in.State, nil
		}
		return ShuttingDown, nil
	})
}

func (s *Server) parseCreateTags(c Call) ([]map[string]string, map[string]string, *apiError) {
	ids := indexed(c.Params, "ResourceId")
	if len(ids) == 0 {
		return nil, nil, missing("ResourceId")
	}
	tags, _ := tagList(c.Params, "Tag")
	if len(tags) == 0 {
		return nil, nil, missing("Tag")
	}
	if e := checkTags(tags); e != nil {
		return nil, nil, e
	}
	var targets []map[string]string
	for _, id := range ids {
		t, e := s.taggable(id, c.Region)
		if e != nil {
			return nil, nil, e
		}
		if e := tagLimit(t, tags); e != nil {
			return nil, nil, e
		}
		targets = append(targets, t)
	}
	return targets, tags, nil
}

// taggable finds the tag map of an instance or root volume.
func (s *Server) taggable(id, region string) (map[string]string, *apiError) {
	switch {
	case strings.HasPrefix(id, "i-"):
		if in, ok := s.instances[id]; ok && in.Region == region {
			return in.Tags, nil
		}
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
	case strings.HasPrefix(id, "vol-"):
		for _, in := range s.instances {
			if in.RootVolume.ID == id && in.Region == region {
				return in.RootVolume.Tags, nil
			}
		}
		return nil, errorf(http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
	}
	return nil, errorf(http.StatusBadRequest, "InvalidID", fmt.Sprintf("The ID '%s' is not valid", id))
}

func (s *Server) createTags(c Call) (any, *apiError) {
	targets, tags, e := s.parseCreateTags(c)
	if e != nil {
		return nil, e
	}
	for _, t := range targets {
		mergeInto(t, tags)
	}
	return &returnResponse{XMLName: responseName(c.Action), Return: true}, nil
}
