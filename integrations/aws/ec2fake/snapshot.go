package ec2fake

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// snapshotVersion is written into every snapshot so a later shape can
// tell an older one apart; Restore reads any version, ignoring fields it
// does not know and leaving missing ones zero.
const snapshotVersion = 1

// snapshot is the persisted form of the fake: everything a caller can see
// or that changes later answers. Call logs, injected faults, permissions
// and delays are configuration of a run, not state, and are left out.
type snapshot struct {
	Version      int                   `json:"version"`
	Instances    []instanceSnapshot    `json:"instances"` // in launch order
	Reservations []reservationSnapshot `json:"reservations"`
	Tokens       map[string]string     `json:"client_tokens"` // region + "/" + ClientToken → reservation ID
	Images       map[string]string     `json:"images"`        // AMI ID → root device name
	Prices       []priceSnapshot       `json:"prices"`
	RequestSeq   int                   `json:"request_seq"`
	// EBS snapshots and key pairs (version 1 snapshots written before
	// they were kept have none).
	EBSSnapshots []Snapshot `json:"ebs_snapshots,omitempty"` // in creation order
	KeyPairs     []KeyPair  `json:"key_pairs,omitempty"`     // in creation order
	KeySeq       int        `json:"key_seq,omitempty"`
}

type instanceSnapshot struct {
	ID             string            `json:"id"`
	ReservationID  string            `json:"reservation_id"`
	Region         string            `json:"region"`
	Type           string            `json:"type"`
	ImageID        string            `json:"image_id"`
	SubnetID       string            `json:"subnet_id,omitempty"`
	SecurityGroups []string          `json:"security_groups,omitempty"`
	KeyName        string            `json:"key_name,omitempty"`
	ClientToken    string            `json:"client_token,omitempty"`
	UserData       string            `json:"user_data,omitempty"`
	State          State             `json:"state"`
	Since          time.Time         `json:"since"` // when State began
	LaunchTime     time.Time         `json:"launch_time"`
	PrivateIP      string            `json:"private_ip"`
	PrivateDNS     string            `json:"private_dns"`
	Tags           map[string]string `json:"tags,omitempty"`
	Volume         volumeSnapshot    `json:"root_volume"`
	PublicIP       string            `json:"public_ip,omitempty"`
	HTTPTokens     string            `json:"http_tokens,omitempty"`
	HTTPEndpoint   string            `json:"http_endpoint,omitempty"`
	Profile        string            `json:"instance_profile,omitempty"`
}

type volumeSnapshot struct {
	ID         string            `json:"id"`
	DeviceName string            `json:"device_name"`
	SizeGB     int               `json:"size_gb"`
	Tags       map[string]string `json:"tags,omitempty"`
	Encrypted  bool              `json:"encrypted,omitempty"`
}

type reservationSnapshot struct {
	ID          string   `json:"id"`
	Region      string   `json:"region"`
	InstanceIDs []string `json:"instance_ids"`
	Fingerprint string   `json:"fingerprint"`
}

type priceSnapshot struct {
	Region       string  `json:"region"`
	InstanceType string  `json:"instance_type"`
	USDPerHour   float64 `json:"usd_per_hour"`
}

// Snapshot returns the fake's state as JSON, so a sandbox restarted on
// the same database finds the instances opsbot remembers. States are
// saved with the time they began, not settled, so a restored fake moves
// them on exactly as this one would have.
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	snap := snapshot{Version: snapshotVersion, Tokens: maps.Clone(s.tokens), Images: maps.Clone(s.images), RequestSeq: s.seq}
	for _, id := range s.order {
		in := s.instances[id]
		snap.Instances = append(snap.Instances, instanceSnapshot{
			ID: in.ID, ReservationID: in.ReservationID, Region: in.Region, Type: in.Type, ImageID: in.ImageID,
			SubnetID: in.SubnetID, SecurityGroups: slices.Clone(in.SecurityGroups), KeyName: in.KeyName,
			ClientToken: in.ClientToken, UserData: in.UserData, State: in.State, Since: in.since,
			LaunchTime: in.LaunchTime, PrivateIP: in.PrivateIP, PrivateDNS: in.PrivateDNS, Tags: maps.Clone(in.Tags),
			Volume: volumeSnapshot{ID: in.RootVolume.ID, DeviceName: in.RootVolume.DeviceName,
				SizeGB: in.RootVolume.SizeGB, Tags: maps.Clone(in.RootVolume.Tags), Encrypted: in.RootVolume.Encrypted},
			PublicIP: in.PublicIP, HTTPTokens: in.HTTPTokens, HTTPEndpoint: in.HTTPEndpoint, Profile: in.InstanceProfile,
		})
	}
	for _, id := range slices.Sorted(maps.Keys(s.reservations)) {
		r := s.reservations[id]
		snap.Reservations = append(snap.Reservations, reservationSnapshot{
			ID: r.id, Region: r.region, InstanceIDs: slices.Clone(r.instanceIDs), Fingerprint: r.fingerprint})
	}
	for _, p := range s.prices {
		snap.Prices = append(snap.Prices, priceSnapshot{Region: p.region, InstanceType: p.instanceType, USDPerHour: p.usd})
	}
	if o := s.extra; o != nil {
		for _, id := range o.snapOrder {
			if sn := o.snapshots[id]; sn != nil {
				c := *sn
				c.Tags = maps.Clone(sn.Tags)
				snap.EBSSnapshots = append(snap.EBSSnapshots, c)
			}
		}
		for _, k := range o.keyOrder {
			if kp := o.keys[k]; kp != nil {
				c := *kp
				c.Tags = maps.Clone(kp.Tags)
				snap.KeyPairs = append(snap.KeyPairs, c)
			}
		}
		snap.KeySeq = o.keySeq
	}
	s.mu.Unlock()
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("encode ec2fake snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the fake's state with a snapshot made by Snapshot.
// Call logs, faults, permissions and delays are kept. References that
// point nowhere (a reservation naming an instance the snapshot lacks, a
// client token naming a missing reservation) are dropped rather than
// trusted, so a damaged or older snapshot cannot make later calls panic.
func (s *Server) Restore(b []byte) error {
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("decode ec2fake snapshot: %w", err)
	}
	instances := make(map[string]*instance, len(snap.Instances))
	order := make([]string, 0, len(snap.Instances))
	for _, x := range snap.Instances {
		if x.ID == "" || instances[x.ID] != nil {
			continue
		}
		tags, vtags := cloneTags(x.Tags), cloneTags(x.Volume.Tags)
		instances[x.ID] = &instance{Instance: Instance{
			ID: x.ID, ReservationID: x.ReservationID, Region: x.Region, Type: x.Type, ImageID: x.ImageID,
			SubnetID: x.SubnetID, SecurityGroups: slices.Clone(x.SecurityGroups), KeyName: x.KeyName,
			ClientToken: x.ClientToken, UserData: x.UserData, State: x.State, LaunchTime: x.LaunchTime,
			PrivateIP: x.PrivateIP, PrivateDNS: x.PrivateDNS, Tags: tags,
			RootVolume: Volume{ID: x.Volume.ID, DeviceName: x.Volume.DeviceName, SizeGB: x.Volume.SizeGB, Tags: vtags, Encrypted: x.Volume.Encrypted},
			PublicIP:   x.PublicIP, HTTPTokens: x.HTTPTokens, HTTPEndpoint: x.HTTPEndpoint, InstanceProfile: x.Profile,
		}, since: x.Since}
		order = append(order, x.ID)
	}
	reservations := make(map[string]*reservation, len(snap.Reservations))
	for _, x := range snap.Reservations {
		if x.ID == "" {
			continue
		}
		r := &reservation{id: x.ID, region: x.Region, fingerprint: x.Fingerprint}
		for _, id := range x.InstanceIDs {
			if instances[id] != nil {
				r.instanceIDs = append(r.instanceIDs, id)
			}
		}
		reservations[x.ID] = r
	}
	tokens := make(map[string]string, len(snap.Tokens))
	for k, rid := range snap.Tokens {
		if reservations[rid] != nil {
			tokens[k] = rid
		}
	}
	images := maps.Clone(snap.Images)
	if images == nil {
		images = map[string]string{}
	}
	prices := make([]price, 0, len(snap.Prices))
	for _, p := range snap.Prices {
		prices = append(prices, price{region: p.Region, instanceType: p.InstanceType, usd: p.USDPerHour})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops()
	o.snapshots, o.snapOrder = map[string]*Snapshot{}, nil
	for _, sn := range snap.EBSSnapshots {
		if sn.ID == "" || o.snapshots[sn.ID] != nil {
			continue
		}
		c := sn
		c.Tags = cloneTags(sn.Tags)
		o.snapshots[c.ID], o.snapOrder = &c, append(o.snapOrder, c.ID)
	}
	o.keys, o.keyOrder, o.keySeq = map[string]*KeyPair{}, nil, max(o.keySeq, snap.KeySeq, len(snap.KeyPairs))
	for _, kp := range snap.KeyPairs {
		k := kp.Region + "/" + kp.Name
		if kp.Name == "" || o.keys[k] != nil {
			continue
		}
		c := kp
		c.Tags = cloneTags(kp.Tags)
		o.keys[k], o.keyOrder = &c, append(o.keyOrder, k)
	}
	s.instances, s.order, s.reservations = instances, order, reservations
	s.tokens, s.images, s.prices = tokens, images, prices
	s.seq = max(s.seq, snap.RequestSeq)
	return nil
}
