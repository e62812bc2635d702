# Everyday commands. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS_RACE = ./workflows/... ./bot/... ./store/... ./scheduler/... ./integrations/...

.PHONY: build test race vet fmt bench sandbox check fuzz-short vulncheck loadtest

# -s -w drop the symbol table and DWARF (as the Dockerfile does): 83 MB
# becomes 61.5 MB (docs/development.md); panics still name functions and lines.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/opsbot ./cmd/opsbot

# The Helm chart's render test is its own module (Helm and k8s.io stay out
# of opsbot's). It uses opsbot's config package through a replace, so a
# dependency bumped in go.mod may move its graph: -mod=mod lets it follow.
test: vet
	$(GO) test -race -count=1 -timeout 25m ./...
	cd deploy/helm/charttest && $(GO) vet -mod=mod ./... && $(GO) test -mod=mod -count=1 ./...

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...

# Every fuzz target for FUZZTIME (default 3s) each; docs/development.md.
fuzz-short:
	FUZZTIME=$(or $(FUZZTIME),3s) .ci/fuzz

vulncheck:
	.ci/vulncheck

bench:
	$(GO) test -run XXX -bench . -benchtime 2s ./store/ ./cmd/opsbot/

# opsbot against bare Go handlers on this machine, side by side: PagerDuty
# webhooks from 32 connections, slash commands from 64 (docs/operations.md).
# LOADTEST_FLAGS passes more, e.g. LOADTEST_FLAGS="-rounds 5 -db postgres://...".
loadtest: build
	$(GO) run -trimpath ./cmd/loadtest -opsbot bin/opsbot $(LOADTEST_FLAGS)

# The first build compiles every dependency (about 7.5 CPU-minutes: some
# 4 minutes on two idle cores, docs/development.md); -v lists each package
# as it compiles, so a first run is not silent. Later builds take seconds.
sandbox:
	@echo "opsbot sandbox: compiling opsbot first. The first build takes about 4 minutes on two idle cores (longer on a busy machine; later ones take seconds). Packages are listed as they compile:"
	CGO_ENABLED=0 $(GO) build -v -trimpath -ldflags "-s -w" -o bin/opsbot ./cmd/opsbot
	bin/opsbot sandbox

check: test
