# syntax=docker/dockerfile:1
# Gatehouse as a container: one static binary on distroless/static (no
# shell, no package manager, no libc), running as an unprivileged numeric
# user, its SQLite data under /data. docs/operations.md shows how to run it;
# cmd/gatehouse's TestContainerBinary builds the binary with the go build
# line below and checks what this image relies on.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t gatehouse .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -X main.buildVersion=${VERSION} -X main.buildCommit=${COMMIT}" -o /out/gatehouse ./cmd/gatehouse
# The volume's mount point, owned by the runtime user and closed to
# others, so that a fresh named volume inherits both.
RUN mkdir -p -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV GATEHOUSE_ADDR=:3000 \
    GATEHOUSE_DB=sqlite:/data/gatehouse.db
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/gatehouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
