# Multi-stage build: a static, pure-Go binary (SQLite through
# modernc.org/sqlite needs no cgo) in a distroless image, run as non-root.
#
#   docker build --build-arg VERSION="$(git describe --always --dirty)" -t carebridge .
#   docker run --rm -v $PWD/examples:/etc/carebridge:ro carebridge check -config /etc/carebridge/carebridge.yaml
#   docker run --rm carebridge -version
#
# Base images are pinned to exact tags. Pin them by digest too for
# reproducible builds: look the digests up with
#
#   docker buildx imagetools inspect golang:1.26.8-bookworm
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot
#
# and write them after the tag (FROM golang:1.26.8-bookworm@sha256:<digest>).
# They are not filled in here because they could not be looked up when this
# file was written (no registry access), and a made-up digest would break
# the build; update tag and digest together when Go or Debian ships a fix.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version `carebridge -version` prints and /metrics shows
# (carebridge_build_info): pass it as above. Without it the binary says
# "dev" (.git is not in the build context, see .dockerignore).
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
# The image has no shell or curl: the binary probes itself (GET /readyz on
# 127.0.0.1:8080, exit 0 on 200). With another http.addr port, override it:
#   docker run --health-cmd '["/usr/local/bin/carebridge","probe","-q","-addr","127.0.0.1:9090"]' …
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/carebridge", "probe", "-q"]
ENTRYPOINT ["/usr/local/bin/carebridge"]
CMD ["serve", "-config", "/etc/carebridge/carebridge.yaml"]
