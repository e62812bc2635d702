# Multi-stage build: a static, pure-Go binary on a distroless base, run as
# a non-root user. Build with: docker build -t opsbot .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/opsbot ./cmd/opsbot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/opsbot /opsbot
COPY --from=build /src/examples/opsbot.yaml /etc/opsbot/opsbot.yaml
USER nonroot:nonroot
EXPOSE 8080
ENV OPSBOT_DB=sqlite:/data/opsbot.db
VOLUME ["/data"]
ENTRYPOINT ["/opsbot"]
CMD ["serve", "--config", "/etc/opsbot/opsbot.yaml"]
