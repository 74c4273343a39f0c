# syntax=docker/dockerfile:1
#
# Images of natsbus: one build stage, one small runtime image per binary.
#   docker build --target operator -t natsbus/operator:0.1.0 .
#   docker build --target sidecar  -t natsbus/sidecar:0.1.0  .
# (natsbus/sidecar:0.1.0 is the operator's default --sidecar-image; the chart's
# values point at both.) Every FROM is debian:bookworm-slim, which our build
# machines make themselves with debootstrap: `make images` (scripts/cluster/images.sh)
# builds these targets with buildah, and `make e2e` runs them in a real cluster.

# --- build: the two binaries and the unit tests (which run openssl and python3),
# from Debian packages only (the servers the integration tests need have no
# place here). The `ci` preset:
# warnings are errors, as on CI. SRC_DIR and ccache are for `make images`: it
# passes the source tree's own path and mounts the host's ccache, so what CI's
# host build just compiled is a cache hit here (elsewhere the defaults just work).
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config ccache \
      libcpprest-dev nlohmann-json3-dev libnats-dev libspdlog-dev libgtest-dev libgmock-dev \
      libyaml-cpp-dev libboost-dev libssl-dev libcli11-dev libhowardhinnant-date-dev prometheus-cpp-dev \
      libsimdjson-dev \
      openssl python3 \
 && rm -rf /var/lib/apt/lists/*
ARG SRC_DIR=/src
# ccache keys on the locale variables; `make images` passes the host's.
ARG LANG
ARG LC_ALL
ARG LC_CTYPE
ARG LC_MESSAGES
# buildah's layer cache keys WORKDIR and COPY by their text, not by SRC_DIR's
# value: two trees with the same content at different paths shared a cached
# COPY layer holding the files under the other path ("Could not read presets").
# A RUN's cache key includes the build args, so this makes the chain per path.
RUN mkdir -p "${SRC_DIR}"
WORKDIR ${SRC_DIR}
COPY . .
ARG BUILD_JOBS=2
# promtool (Debian's prometheus package, 100+ MB) is for the host's tests: the
# two unit tests that check an exposition with it skip here, saying so.
RUN cmake --preset ci -DNATSBUS_BUILD_INTEGRATION_TESTS=OFF >/dev/null \
 && cmake --build build -j "${BUILD_JOBS}" \
 && NATSBUS_NO_PROMTOOL="the image build stage; make unit on the host runs it" ctest --test-dir build -L unit -j "${BUILD_JOBS}" --output-on-failure --no-tests=error \
 && install -D -s -m 0755 build/operator/natsbus-operator /out/operator/natsbus-operator \
 && install -D -s -m 0755 build/sidecar/natsbus-sidecar /out/sidecar/natsbus-sidecar

# --- the sidecar image, pulled onto every node with an injected pod: its own
# stripped binary and the shared libraries it loads (`ldd`), nothing else. The
# injected container sets no command, so the entrypoint is the sidecar.
FROM debian:bookworm-slim AS sidecar
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libnats3.4 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libsimdjson14 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /out/sidecar/natsbus-sidecar /usr/local/bin/
# The fixed non-root UID/GID the webhook's injected securityContext uses.
USER 65532:65532
EXPOSE 4195 9195
ENTRYPOINT ["/usr/local/bin/natsbus-sidecar"]

# --- the operator image (default target). libnats: the operator adds and
# removes Raft nodes of clustered buses by a NATS request to their leader.
FROM debian:bookworm-slim AS operator
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpprest2.10 libyaml-cpp0.7 libspdlog1.10 libfmt9 libssl3 libnats3.4 libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /out/operator/natsbus-operator /usr/local/bin/
USER 65532:65532
EXPOSE 8080 9443
ENTRYPOINT ["/usr/local/bin/natsbus-operator"]
CMD ["run"]
