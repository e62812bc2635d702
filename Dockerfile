# Multi-stage build: a static, pure-Go binary on a distroless base, run as
# a non-root user. Build with: docker build -t opsbot .
#
# Base images are pinned by digest (Renovate keeps them current, see
# renovate.json); GOTOOLCHAIN makes the build use exactly go.mod's
# toolchain line whatever Go the build image carries, fetched from the
# module proxy and checked against the checksum database.
FROM golang:1.27@sha256:e0174e51e81218523251d85d248a90d24c3d5e81543b4f07a5d66229397db190 AS build
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/opsbot ./cmd/opsbot

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/opsbot /opsbot
COPY --from=build /src/examples/opsbot.yaml /etc/opsbot/opsbot.yaml
USER nonroot:nonroot
EXPOSE 8080
ENV OPSBOT_DB=sqlite:/data/opsbot.db
VOLUME ["/data"]
ENTRYPOINT ["/opsbot"]
CMD ["serve", "--config", "/etc/opsbot/opsbot.yaml"]
