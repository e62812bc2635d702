# Everyday commands. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS_RACE = ./workflows/... ./bot/... ./store/... ./scheduler/... ./integrations/...

.PHONY: build test race vet fmt bench sandbox check fuzz-short vulncheck loadtest

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/opsbot ./cmd/opsbot

test: vet
	$(GO) test -race -count=1 -timeout 25m ./...

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

sandbox:
	$(GO) run ./cmd/opsbot sandbox

check: test
