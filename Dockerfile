# syntax=docker/dockerfile:1
#
# Images of natsbus. One build, two images (the runtime carries both binaries):
#   docker build --target operator -t natsbus/operator:0.1.0 .
#   docker build --target sidecar  -t natsbus/sidecar:0.1.0  .
# (natsbus/sidecar:0.1.0 is the operator's default --sidecar-image; the chart's
# values point at both.) No container engine runs on our build machines, so this
# file is not exercised by CI; its build steps are kept identical to CI's instead.

# --- build: exactly what CI runs (.ci/run -> make test), minus the integration tests.
# Debian bookworm with the Go toolchain, because `make deps` (as on CI machines)
# needs Go and npm for the test servers it installs alongside the Debian packages;
# python3 runs the sample app in the unit tests.
FROM golang:1.24-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# CI=1 selects the `ci` preset (warnings are errors), as on CI.
ENV CI=1
RUN make deps \
 && make build \
 && make unit \
 && install -D -m 0755 build/operator/natsbus-operator /out/natsbus-operator \
 && install -D -m 0755 build/sidecar/natsbus-sidecar /out/natsbus-sidecar

# --- runtime: only the shared libraries the two binaries load (see `ldd`), no
# compilers, no shell tools beyond Debian's base.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libssl3 libfmt9 libspdlog1.10 libyaml-cpp0.7 \
      libnats3.4 libprotobuf-c1 libbrotli1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/natsbus-operator /out/natsbus-sidecar /usr/local/bin/
# The same fixed non-root UID/GID the webhook's injected securityContext uses.
RUN groupadd --system --gid 65532 natsbus \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin natsbus
USER 65532:65532

# --- the sidecar image: the injected container sets no command, so the
# entrypoint must be the sidecar.
FROM runtime AS sidecar
EXPOSE 4195
ENTRYPOINT ["/usr/local/bin/natsbus-sidecar"]

# --- the operator image (default target).
FROM runtime AS operator
EXPOSE 8080 9443
ENTRYPOINT ["/usr/local/bin/natsbus-operator"]
CMD ["run"]
