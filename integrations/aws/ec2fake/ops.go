package ec2fake

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// What opsbot's server actions need beyond the lifecycle: reboots, root
// volume snapshots, status checks, the console and key pairs. Shapes
// follow the SDK's deserializers (aws-sdk-go-v2/service/ec2
// deserializers.go) and EC2's API reference.

// Snapshot is a fake EBS snapshot.
type Snapshot struct {
	ID          string
	Region      string
	VolumeID    string
	VolumeSize  int
	Description string
	State       string // "pending", then "completed"
	StartTime   time.Time
	Tags        map[string]string
}

// KeyPair is a fake EC2 key pair.
type KeyPair struct {
	ID          string
	Name        string
	Region      string
	Fingerprint string
	CreateTime  time.Time
	Tags        map[string]string
}

// opsState is what the fake keeps for these calls; it hangs off Server.
type opsState struct {
	snapshots map[string]*Snapshot // by ID
	snapOrder []string
	keys      map[string]*KeyPair // region + "/" + name
	keyOrder  []string            // region + "/" + name, each once, in first creation order
	keySeq    int
	console   map[string]string // instance ID → console text
	impaired  map[string]bool   // instance ID → failing its instance check
	reboots   map[string]int    // instance ID → reboots
}

func (s *Server) ops() *opsState {
	if s.extra == nil {
		s.extra = &opsState{snapshots: map[string]*Snapshot{}, keys: map[string]*KeyPair{},
			console: map[string]string{}, impaired: map[string]bool{}, reboots: map[string]int{}}
	}
	return s.extra
}

// AddKeyPair declares a key pair in a region and returns its ID.
func (s *Server) AddKeyPair(region, name string, tags map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops()
	k := region + "/" + name
	if kp, ok := o.keys[k]; ok {
		return kp.ID
	}
	o.keySeq++
	kp := &KeyPair{ID: newID("key", o.keySeq, 17), Name: name, Region: region, CreateTime: s.now().UTC().Truncate(time.Second),
		Fingerprint: fingerprintOf(name), Tags: maps.Clone(tags)}
	o.keys[k] = kp
	if !slices.Contains(o.keyOrder, k) {
		o.keyOrder = append(o.keyOrder, k)
	}
	return kp.ID
}

func fingerprintOf(name string) string {
	h := newID("fp", len(name)*7919+int(name[0]), 32)[3:]
	var parts []string
	for i := 0; i+2 <= 32; i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// KeyPairs returns the key pairs, in creation order.
func (s *Server) KeyPairs() []KeyPair {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops()
	var out []KeyPair
	for _, k := range o.keyOrder {
		if kp, ok := o.keys[k]; ok {
			c := *kp
			c.Tags = maps.Clone(kp.Tags)
			out = append(out, c)
		}
	}
	return out
}

// Snapshots returns the snapshots, in creation order, settled.
func (s *Server) Snapshots() []Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops()
	s.settleSnapshots()
	var out []Snapshot
	for _, id := range o.snapOrder {
		if sn, ok := o.snapshots[id]; ok {
			c := *sn
			c.Tags = maps.Clone(sn.Tags)
			out = append(out, c)
		}
	}
	return out
}

// SetConsole sets the console output an instance reports.
func (s *Server) SetConsole(instanceID, text string) {
	s.mu.Lock()
	s.ops().console[instanceID] = text
	s.mu.Unlock()
}

// SetImpaired makes an instance fail (or pass again) its instance status
// check.
func (s *Server) SetImpaired(instanceID string, impaired bool) {
	s.mu.Lock()
	s.ops().impaired[instanceID] = impaired
	s.mu.Unlock()
}

// Reboots says how many times an instance was rebooted.
func (s *Server) Reboots(instanceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops().reboots[instanceID]
}

// snapshotTime is how long a fake snapshot stays pending.
const snapshotTime = time.Minute

func (s *Server) settleSnapshots() {
	now := s.now()
	for _, sn := range s.ops().snapshots {
		if sn.State == "pending" && !now.Before(sn.StartTime.Add(snapshotTime)) {
			sn.State = "completed"
		}
	}
}

func (s *Server) rebootInstances(c Call) (any, *apiError) {
	ins, e := s.lookup(c, true)
	if e != nil {
		return nil, e
	}
	for _, in := range ins {
		if in.State != Running && in.State != Pending {
			return nil, incorrectState(in, "rebooted")
		}
	}
	for _, in := range ins {
		s.ops().reboots[in.ID]++
	}
	return &returnResponse{XMLName: responseName(c.Action), Return: true}, nil
}

func (s *Server) volume(c Call) (*instance, *apiError) {
	id := c.Params.Get("VolumeId")
	if id == "" {
		return nil, missing("VolumeId")
	}
	if !strings.HasPrefix(id, "vol-") {
		return nil, errorf(http.StatusBadRequest, "InvalidVolumeID.Malformed", fmt.Sprintf("Invalid id: \"%s\" (expecting \"vol-...\")", id))
	}
	for _, in := range s.instances {
		if in.RootVolume.ID == id && in.Region == c.Region && in.State != Terminated {
			return in, nil
		}
	}
	return nil, errorf(http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
}

func snapshotTags(c Call) (map[string]string, *apiError) {
	tags := map[string]string{}
	for _, m := range members(c.Params, "TagSpecification") {
		if rt := c.Params.Get(m + ".ResourceType"); rt != "snapshot" {
			return nil, badParam("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		t, _ := tagList(c.Params, m+".Tag")
		mergeInto(tags, t)
	}
	return tags, nil
}

type snapshotXML struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	Status      string   `xml:"status"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int      `xml:"volumeSize"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	Tags        []tagXML `xml:"tagSet>item,omitempty"`
}

func sortedTags(m map[string]string) []tagXML {
	var out []tagXML
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, tagXML{Key: k, Value: m[k]})
	}
	return out
}

func (sn *Snapshot) xml() snapshotXML {
	p := "100%"
	if sn.State == "pending" {
		p = "0%"
	}
	return snapshotXML{SnapshotID: sn.ID, VolumeID: sn.VolumeID, Status: sn.State, StartTime: ec2Time(sn.StartTime), Progress: p,
		OwnerID: OwnerID, VolumeSize: sn.VolumeSize, Description: sn.Description, Encrypted: true, Tags: sortedTags(sn.Tags)}
}

type createSnapshotResponse struct {
	XMLName   xml.Name `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ CreateSnapshotResponse"`
	RequestID string   `xml:"requestId"`
	snapshotXML
}

func (s *Server) createSnapshot(c Call) (any, *apiError) {
	in, e := s.volume(c)
	if e != nil {
		return nil, e
	}
	tags, e := snapshotTags(c)
	if e != nil {
		return nil, e
	}
	o := s.ops()
	id := unusedID("snap", len(o.snapOrder)+1, func(id string) bool { return o.snapshots[id] != nil })
	sn := &Snapshot{ID: id, Region: c.Region, VolumeID: in.RootVolume.ID, VolumeSize: in.RootVolume.SizeGB,
		Description: c.Params.Get("Description"), State: "pending", StartTime: c.At.UTC().Truncate(time.Millisecond), Tags: tags}
	o.snapshots[id] = sn
	o.snapOrder = append(o.snapOrder, id)
	return &createSnapshotResponse{snapshotXML: sn.xml()}, nil
}

type describeSnapshotsResponse struct {
	XMLName   xml.Name      `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeSnapshotsResponse"`
	RequestID string        `xml:"requestId"`
	Snapshots []snapshotXML `xml:"snapshotSet>item"`
}

func (s *Server) describeSnapshots(c Call) (any, *apiError) {
	o := s.ops()
	s.settleSnapshots()
	fs := filters(c.Params)
	for _, f := range fs {
		if !strings.HasPrefix(f.Name, "tag:") && f.Name != "volume-id" && f.Name != "snapshot-id" && f.Name != "status" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", f.Name))
		}
	}
	ids := indexed(c.Params, "SnapshotId")
	var picked []*Snapshot
	if len(ids) > 0 {
		for _, id := range ids {
			sn, ok := o.snapshots[id]
			if !ok || sn.Region != c.Region {
				return nil, errorf(http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
			}
			picked = append(picked, sn)
		}
	} else {
		for _, id := range o.snapOrder {
			if sn := o.snapshots[id]; sn != nil && sn.Region == c.Region {
				picked = append(picked, sn)
			}
		}
	}
	out := &describeSnapshotsResponse{}
	for _, sn := range picked {
		ok := true
		for _, f := range fs {
			switch {
			case strings.HasPrefix(f.Name, "tag:"):
				v, has := sn.Tags[strings.TrimPrefix(f.Name, "tag:")]
				ok = ok && has && anyGlob(f.Values, v)
			case f.Name == "volume-id":
				ok = ok && anyGlob(f.Values, sn.VolumeID)
			case f.Name == "snapshot-id":
				ok = ok && anyGlob(f.Values, sn.ID)
			case f.Name == "status":
				ok = ok && anyGlob(f.Values, sn.State)
			}
		}
		if ok {
			out.Snapshots = append(out.Snapshots, sn.xml())
		}
	}
	return out, nil
}

func (s *Server) deleteSnapshot(c Call) (any, *apiError) {
	id := c.Params.Get("SnapshotId")
	if id == "" {
		return nil, missing("SnapshotId")
	}
	if !strings.HasPrefix(id, "snap-") {
		return nil, errorf(http.StatusBadRequest, "InvalidSnapshotID.Malformed", fmt.Sprintf("Invalid id: \"%s\" (expecting \"snap-...\")", id))
	}
	o := s.ops()
	sn, ok := o.snapshots[id]
	if !ok || sn.Region != c.Region {
		return nil, errorf(http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
	}
	if c.DryRun {
		return nil, errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	delete(o.snapshots, id)
	return &returnResponse{XMLName: responseName(c.Action), Return: true}, nil
}

type statusDetailXML struct {
	Name   string `xml:"name"`
	Status string `xml:"status"`
}

type statusSummaryXML struct {
	Status  string            `xml:"status"`
	Details []statusDetailXML `xml:"details>item"`
}

type instanceStatusXML struct {
	InstanceID       string           `xml:"instanceId"`
	AvailabilityZone string           `xml:"availabilityZone"`
	InstanceState    stateXML         `xml:"instanceState"`
	SystemStatus     statusSummaryXML `xml:"systemStatus"`
	InstanceStatus   statusSummaryXML `xml:"instanceStatus"`
}

type describeInstanceStatusResponse struct {
	XMLName   xml.Name            `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeInstanceStatusResponse"`
	RequestID string              `xml:"requestId"`
	Statuses  []instanceStatusXML `xml:"instanceStatusSet>item"`
}

func (s *Server) describeInstanceStatus(c Call) (any, *apiError) {
	ins, e := s.lookup(c, false)
	if e != nil {
		return nil, e
	}
	if len(indexed(c.Params, "InstanceId")) == 0 {
		for _, id := range s.order {
			if in := s.instances[id]; in.Region == c.Region {
				ins = append(ins, in)
			}
		}
	}
	all := c.Params.Get("IncludeAllInstances") == "true"
	out := &describeInstanceStatusResponse{}
	for _, in := range ins {
		if in.State != Running && !all {
			continue // EC2 describes only running instances by default
		}
		sum := func(name string, ok bool) statusSummaryXML {
			switch {
			case in.State != Running:
				return statusSummaryXML{Status: "not-applicable"}
			case c.At.Sub(in.since) < 2*time.Minute && in.State == Running:
				return statusSummaryXML{Status: "initializing", Details: []statusDetailXML{{Name: "reachability", Status: "initializing"}}}
			case !ok:
				return statusSummaryXML{Status: "impaired", Details: []statusDetailXML{{Name: "reachability", Status: "failed"}}}
			}
			return statusSummaryXML{Status: "ok", Details: []statusDetailXML{{Name: "reachability", Status: "passed"}}}
		}
		out.Statuses = append(out.Statuses, instanceStatusXML{InstanceID: in.ID, AvailabilityZone: in.Region + "a",
			InstanceState: stateXML{Code: in.State.Code(), Name: string(in.State)},
			SystemStatus:  sum("system", true), InstanceStatus: sum("instance", !s.ops().impaired[in.ID])})
	}
	return out, nil
}

type consoleOutputResponse struct {
	XMLName    xml.Name `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ GetConsoleOutputResponse"`
	RequestID  string   `xml:"requestId"`
	InstanceID string   `xml:"instanceId"`
	Timestamp  string   `xml:"timestamp"`
	Output     string   `xml:"output,omitempty"`
}

func (s *Server) getConsoleOutput(c Call) (any, *apiError) {
	id := c.Params.Get("InstanceId")
	if id == "" {
		return nil, missing("InstanceId")
	}
	c.Params.Set("InstanceId.1", id)
	ins, e := s.lookup(c, true)
	if e != nil {
		return nil, e
	}
	in := ins[0]
	text, ok := s.ops().console[in.ID]
	if !ok {
		text = fmt.Sprintf("[    0.000000] Linux version 6.1.0 (builder@amazon) #1 SMP\n[    1.204311] EXT4-fs (nvme0n1p1): mounted filesystem\ncloud-init[812]: Cloud-init v. 22.2.2 running 'modules:final'\ncloud-init[812]: Cloud-init v. 22.2.2 finished. Up %d seconds\n\nAmazon Linux 2023\nKernel 6.1.0 on an x86_64\n\n%s login: ",
			12+s.ops().reboots[in.ID], in.PrivateDNS)
		if s.ops().reboots[in.ID] > 0 {
			text = fmt.Sprintf("[  OK  ] Reached target Reboot (reboot %d).\n", s.ops().reboots[in.ID]) + text
		}
	}
	out := &consoleOutputResponse{InstanceID: in.ID, Timestamp: ec2Time(c.At)}
	if in.State != Pending {
		out.Output = base64.StdEncoding.EncodeToString([]byte(text))
	}
	return out, nil
}

type keyPairXML struct {
	KeyPairID      string   `xml:"keyPairId"`
	KeyFingerprint string   `xml:"keyFingerprint"`
	KeyName        string   `xml:"keyName"`
	KeyType        string   `xml:"keyType"`
	CreateTime     string   `xml:"createTime"`
	Tags           []tagXML `xml:"tagSet>item,omitempty"`
}

type describeKeyPairsResponse struct {
	XMLName   xml.Name     `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeKeyPairsResponse"`
	RequestID string       `xml:"requestId"`
	Keys      []keyPairXML `xml:"keySet>item"`
}

func (s *Server) describeKeyPairs(c Call) (any, *apiError) {
	o := s.ops()
	names, ids := indexed(c.Params, "KeyName"), indexed(c.Params, "KeyPairId")
	fs := filters(c.Params)
	for _, f := range fs {
		if !strings.HasPrefix(f.Name, "tag:") && f.Name != "key-name" && f.Name != "tag-key" && f.Name != "key-pair-id" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", f.Name))
		}
	}
	for _, n := range names {
		if _, ok := o.keys[c.Region+"/"+n]; !ok {
			return nil, errorf(http.StatusBadRequest, "InvalidKeyPair.NotFound", fmt.Sprintf("The key pair '%s' does not exist", n))
		}
	}
	for _, id := range ids {
		found := false
		for _, kp := range o.keys {
			found = found || (kp.Region == c.Region && kp.ID == id)
		}
		if !found {
			return nil, errorf(http.StatusBadRequest, "InvalidKeyPair.NotFound", fmt.Sprintf("The key pair '%s' does not exist", id))
		}
	}
	out := &describeKeyPairsResponse{}
	for _, k := range o.keyOrder {
		kp, ok := o.keys[k]
		if !ok || kp.Region != c.Region || (len(names) > 0 && !slices.Contains(names, kp.Name)) || (len(ids) > 0 && !slices.Contains(ids, kp.ID)) {
			continue
		}
		match := true
		for _, f := range fs {
			switch {
			case strings.HasPrefix(f.Name, "tag:"):
				v, has := kp.Tags[strings.TrimPrefix(f.Name, "tag:")]
				match = match && has && anyGlob(f.Values, v)
			case f.Name == "tag-key":
				any := false
				for t := range kp.Tags {
					any = any || anyGlob(f.Values, t)
				}
				match = match && any
			case f.Name == "key-name":
				match = match && anyGlob(f.Values, kp.Name)
			case f.Name == "key-pair-id":
				match = match && anyGlob(f.Values, kp.ID)
			}
		}
		if match {
			out.Keys = append(out.Keys, keyPairXML{KeyPairID: kp.ID, KeyFingerprint: kp.Fingerprint, KeyName: kp.Name, KeyType: "ed25519",
				CreateTime: ec2Time(kp.CreateTime), Tags: sortedTags(kp.Tags)})
		}
	}
	return out, nil
}

type deleteKeyPairResponse struct {
	XMLName   xml.Name `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DeleteKeyPairResponse"`
	RequestID string   `xml:"requestId"`
	Return    bool     `xml:"return"`
	KeyPairID string   `xml:"keyPairId,omitempty"`
}

// deleteKeyPair deletes by name or ID. Like EC2, deleting a name that
// does not exist succeeds (the call is idempotent); an unknown ID does not.
func (s *Server) deleteKeyPair(c Call) (any, *apiError) {
	o := s.ops()
	name, id := c.Params.Get("KeyName"), c.Params.Get("KeyPairId")
	if name == "" && id == "" {
		return nil, missing("KeyName")
	}
	var key string
	for _, k := range o.keyOrder {
		kp, ok := o.keys[k]
		if ok && kp.Region == c.Region && ((name != "" && kp.Name == name) || (id != "" && kp.ID == id)) {
			key = k
		}
	}
	if key == "" && id != "" {
		return nil, errorf(http.StatusBadRequest, "InvalidKeyPair.NotFound", fmt.Sprintf("The key pair '%s' does not exist", id))
	}
	if c.DryRun {
		return nil, errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	out := &deleteKeyPairResponse{Return: true}
	if key != "" {
		out.KeyPairID = o.keys[key].ID
		delete(o.keys, key)
	}
	return out, nil
}
