package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/workflows"
)

func TestManifest_Golden(t *testing.T) {
	cfg := &config.Config{Catalog: &workflows.Catalog{Incidents: &workflows.IncidentPolicy{}}}
	for _, tc := range []struct {
		file   string
		socket bool
	}{{"manifest_http.yaml", false}, {"manifest_socket.yaml", true}} {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeManifest(&buf, cfg, "https://opsbot.example.com/", tc.socket); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if buf.String() != string(want) {
				t.Fatalf("manifest differs from %s (run with -update if intended):\n%s", path, buf.String())
			}
			var m manifest
			if err := yaml.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			urls := strings.Count(buf.String(), "https://opsbot.example.com/slack/")
			if m.Settings.SocketModeEnabled != tc.socket || (tc.socket && urls != 0) || (!tc.socket && urls != 4) {
				t.Fatalf("socket mode %v: %d request URLs", m.Settings.SocketModeEnabled, urls)
			}
			for _, c := range m.Features.SlashCommands {
				// /incident needs mentions escaped to know who `role` names.
				if c.ShouldEscape != (c.Command == "/incident") || c.UsageHint == "" {
					t.Fatalf("command %+v", c)
				}
			}
		})
	}
}

func TestManifest_NeedsHTTPSUnlessSocketMode(t *testing.T) {
	var buf bytes.Buffer
	if err := writeManifest(&buf, nil, "http://localhost:8080", false); err == nil {
		t.Fatal("plain http accepted")
	}
	if err := writeManifest(&buf, nil, "", true); err != nil {
		t.Fatal(err)
	}
}
