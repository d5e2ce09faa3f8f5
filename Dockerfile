# Multi-stage build: a static, pure-Go binary (SQLite through
# modernc.org/sqlite needs no cgo) in a distroless image, run as non-root.
#
#   docker build -t carebridge .
#   docker run --rm -v $PWD/examples:/etc/carebridge:ro carebridge check -config /etc/carebridge/carebridge.yaml
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/carebridge ./cmd/carebridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/carebridge /usr/local/bin/carebridge
# The embedded SQLite store lives in ./carebridge-data by default; mount a
# volume here (or use PostgreSQL through store.url).
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/carebridge
WORKDIR /var/lib/carebridge
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/carebridge"]
CMD ["serve", "-config", "/etc/carebridge/carebridge.yaml"]
