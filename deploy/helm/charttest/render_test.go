// Package charttest renders the opsbot Helm chart with Helm's own Go
// packages and checks every object against the Kubernetes API types.
// It is its own module so that Helm and the Kubernetes libraries stay out
// of opsbot's: `make test` runs it (cd deploy/helm/charttest && go test ./...).
package charttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/opsbot/opsbot/config"
)

const chartDir = "../opsbot"

// render installs the chart in client-only dry-run mode, as `helm install
// --dry-run` does without a cluster, and returns the manifest.
func render(t *testing.T, valueFiles []string, set map[string]any) (string, error) {
	t.Helper()
	chart, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals := map[string]any{}
	for _, f := range valueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		vals = chartutil.CoalesceTables(v.AsMap(), vals)
	}
	vals = chartutil.CoalesceTables(set, vals)
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.ReleaseName = "opsbot"
	install.Namespace = "ops"
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}
	install.APIVersions = chartutil.VersionSet{"monitoring.coreos.com/v1"}
	rel, err := install.Run(chart, vals)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

// serviceMonitor is the part of the Prometheus operator's
// monitoring.coreos.com/v1 ServiceMonitor the chart writes; its CRD is not
// in k8s.io/api, so the fields are declared here (names as in the
// operator's API: spec.selector, spec.endpoints[].port/path/interval).
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// typed maps apiVersion/kind to the Go type the API server decodes it into.
func typed(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, true
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &serviceMonitor{}, true
	}
	return nil, false
}

// objects decodes every document of a manifest strictly: a field the
// Kubernetes type does not have (a typo, a wrong level of indentation) or
// a value of the wrong type fails the test.
func objects(t *testing.T, manifest string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, doc := range strings.Split(manifest, "\n---") {
		doc = strings.TrimSpace(doc)
		if doc == "" || strings.Trim(doc, "-\n ") == "" {
			continue
		}
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("YAML to JSON: %v\n%s", err, doc)
		}
		if string(js) == "null" {
			continue
		}
		var meta metav1.TypeMeta
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatalf("read kind: %v", err)
		}
		obj, ok := typed(meta.APIVersion, meta.Kind)
		if !ok {
			t.Fatalf("unexpected object %s %s", meta.APIVersion, meta.Kind)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("%s does not match the Kubernetes schema: %v\n%s", meta.Kind, err, doc)
		}
		if _, dup := out[meta.Kind]; dup {
			t.Fatalf("two %s objects", meta.Kind)
		}
		out[meta.Kind] = obj
	}
	return out
}

func kinds(objs map[string]any) []string {
	var out []string
	for k := range objs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkPod is what every rendering must hold: probes on the routes opsbot
// serves, a non-root read-only container without capabilities, the
// config mounted where args point, secrets from the Secret.
func checkPod(t *testing.T, d *appsv1.Deployment, secret string) {
	t.Helper()
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("containers = %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe = %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe = %+v, want GET /readyz", c.ReadinessProbe)
	}
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context = %+v, want non-root", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context = %+v, want read-only root, no escalation, drop ALL", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want requests and a memory limit", c.Resources)
	}
	if !slices.Equal(c.Args, []string{"serve", "--config", "/etc/opsbot/opsbot.yaml"}) {
		t.Errorf("args = %v", c.Args)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != secret {
		t.Errorf("envFrom = %+v, want the Secret %s", c.EnvFrom, secret)
	}
}

// configOf parses the opsbot.yaml the ConfigMap holds with opsbot's own
// config package: the chart's default config must be valid.
func configOf(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	data, ok := cm.Data["opsbot.yaml"]
	if !ok {
		t.Fatal("ConfigMap has no opsbot.yaml")
	}
	if _, err := config.Parse([]byte(data), filepath.Join(t.TempDir(), "opsbot.yaml")); err != nil {
		t.Fatalf("the chart's opsbot.yaml is not valid: %v", err)
	}
}

func TestDefaultValues(t *testing.T) {
	m, err := render(t, nil, nil)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	objs := objects(t, m)
	want := []string{"ConfigMap", "Deployment", "PersistentVolumeClaim", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount"}
	if got := kinds(objs); !slices.Equal(got, want) {
		t.Fatalf("objects = %v, want %v", got, want)
	}
	d := objs["Deployment"].(*appsv1.Deployment)
	checkPod(t, d, "opsbot")
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("SQLite: replicas %d strategy %q, want 1 and Recreate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	var claim string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if pvc := objs["PersistentVolumeClaim"].(*corev1.PersistentVolumeClaim); claim != pvc.Name {
		t.Errorf("the pod mounts claim %q, the chart makes %q", claim, pvc.Name)
	}
	env := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["OPSBOT_DB"] != "sqlite:/data/opsbot.db" {
		t.Errorf("OPSBOT_DB = %q", env["OPSBOT_DB"])
	}
	if pdb := objs["PodDisruptionBudget"].(*policyv1.PodDisruptionBudget); pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("one replica: the budget must let a drain evict it, got %+v", pdb.Spec)
	}
	if s := objs["Secret"].(*corev1.Secret); len(s.StringData) != 0 {
		t.Errorf("empty secret values must be left out, got keys %v", s.StringData)
	}
	configOf(t, objs["ConfigMap"].(*corev1.ConfigMap))
}

func TestProductionValues(t *testing.T) {
	m, err := render(t, []string{"../values-production.yaml"}, nil)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	objs := objects(t, m)
	want := []string{"ConfigMap", "Deployment", "Ingress", "PodDisruptionBudget", "Service", "ServiceAccount", "ServiceMonitor"}
	if got := kinds(objs); !slices.Equal(got, want) {
		t.Fatalf("objects = %v, want %v (no Secret: existingSecret; no PVC: PostgreSQL)", got, want)
	}
	d := objs["Deployment"].(*appsv1.Deployment)
	checkPod(t, d, "opsbot-secrets")
	if *d.Spec.Replicas != 3 || d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %d strategy %q, want 3 rolling", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "OPSBOT_DB" {
			t.Errorf("OPSBOT_DB must come from the Secret, not a plain value %q", e.Value)
		}
	}
	if pdb := objs["PodDisruptionBudget"].(*policyv1.PodDisruptionBudget); pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("several replicas: one must stay, got %+v", pdb.Spec)
	}
	ing := objs["Ingress"].(*networkingv1.Ingress)
	var paths []string
	for _, r := range ing.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			paths = append(paths, p.Path)
		}
	}
	if !slices.Equal(paths, []string{"/slack", "/webhooks"}) || len(ing.Spec.TLS) != 1 {
		t.Errorf("ingress paths %v tls %v: only Slack's and PagerDuty's routes, over TLS", paths, ing.Spec.TLS)
	}
	if sm := objs["ServiceMonitor"].(*serviceMonitor); len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" || sm.Labels["release"] != "prometheus" {
		t.Errorf("service monitor = %+v", sm.Spec)
	}
	configOf(t, objs["ConfigMap"].(*corev1.ConfigMap))
}

func TestInlineSecretsAndPostgresURL(t *testing.T) {
	m, err := render(t, nil, map[string]any{
		"replicaCount": 2,
		"database":     map[string]any{"driver": "postgres", "url": "postgres://opsbot:pw@db:5432/opsbot"},
		"secrets":      map[string]any{"values": map[string]any{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}},
	})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	objs := objects(t, m)
	s := objs["Secret"].(*corev1.Secret)
	got := []string{}
	for k := range s.StringData {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"OPSBOT_DB", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}) {
		t.Errorf("secret keys = %v", got)
	}
	if _, ok := objs["PersistentVolumeClaim"]; ok {
		t.Error("PostgreSQL needs no volume")
	}
}

// TestRefusals: values that cannot work stop the rendering with a message
// that says what to set.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]any
		want string
	}{
		{"replicas on SQLite", map[string]any{"replicaCount": 3}, "replicaCount is 3, but opsbot on SQLite runs as one replica"},
		{"replicas, postgres without URL", map[string]any{"replicaCount": 2, "database": map[string]any{"driver": "postgres"}}, "no URL is given"},
		{"not a postgres URL", map[string]any{"database": map[string]any{"driver": "postgres", "url": "mysql://x"}}, "must be a postgres:// URL"},
		{"URL with sqlite", map[string]any{"database": map[string]any{"url": "postgres://db/opsbot"}}, "database.driver is not postgres"},
		{"unknown driver", map[string]any{"database": map[string]any{"driver": "mysql"}}, `database.driver is "mysql"`},
		{"no config", map[string]any{"config": ""}, "config (the opsbot.yaml policy file) is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, nil, tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestMain(m *testing.M) {
	if _, err := os.Stat(chartDir); err != nil {
		fmt.Fprintln(os.Stderr, "run from deploy/helm/charttest:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}
