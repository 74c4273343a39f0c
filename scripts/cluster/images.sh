#!/usr/bin/env bash
# `make images`: builds every image the local cluster runs, on this machine, with
# no registry: each FROM resolves to an image made here.
#   base            debian:bookworm-slim, from debootstrap (the tarball is cached in
#                   $IMAGE_CACHE, so only the first run on a machine bootstraps)
#   pause           registry.k8s.io/pause:3.10, a static C program (images/pause.c)
#   operator        natsbus/operator:<appVersion>  } the Dockerfile's targets; building
#   sidecar         natsbus/sidecar:<appVersion>   } them builds its full build stage
#   nats-streaming  nats-streaming:0.25.6 from .tools/bin/nats-streaming-server
#   sample-app      natsbus/sample-app:<appVersion> (examples/sample-app)
#   report          sizes of every image and of its layers above the base
# Default: all of them, then the report. Layers are cached between runs
# (buildah --layers, storage in $IMAGE_CACHE/containers).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
container_env

APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CLUSTER_ROOT/charts/natsbus/Chart.yaml")"
NATS_STREAMING_VERSION=0.25.6
BASE_IMAGE=docker.io/library/debian:bookworm-slim
PAUSE_IMAGE=registry.k8s.io/pause:3.10
OPERATOR_IMAGE="docker.io/natsbus/operator:$APP_VERSION"
SIDECAR_IMAGE="docker.io/natsbus/sidecar:$APP_VERSION"
SAMPLE_APP_IMAGE="docker.io/natsbus/sample-app:$APP_VERSION"
NATS_STREAMING_IMAGE="docker.io/library/nats-streaming:$NATS_STREAMING_VERSION"
BUILD_JOBS="${NATSBUS_IMAGE_BUILD_JOBS:-2}"

log() { printf '[images] %s\n' "$*"; }
image_exists() { podman image exists "$1" 2>/dev/null; }

# The Debian mirror apt on this machine uses (the only place packages come from).
debian_mirror() {
  local uri
  uri="$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)"
  [ -n "$uri" ] || uri="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
  if image_exists "$BASE_IMAGE"; then
    log "base: $BASE_IMAGE present"
    return
  fi
  local tarball="$IMAGE_CACHE/debian-bookworm-slim.tar"
  if [ ! -f "$tarball" ]; then
    local mirror rootfs started=$SECONDS
    mirror="$(debian_mirror)"
    rootfs="$(mktemp -d "$IMAGE_CACHE/rootfs.XXXXXX")"
    log "base: debootstrap --variant=minbase bookworm from $mirror (once per machine; cached in $tarball)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$IMAGE_CACHE/debootstrap.log" 2>&1 ||
      { tail -n 20 "$IMAGE_CACHE/debootstrap.log" >&2; rm -rf "$rootfs"; exit 1; }
    # As the official slim image: updates and security sources, no docs, man
    # pages or translations now or in later apt installs, empty apt caches.
    local security="${mirror%/debian}/debian-security"
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
      "$mirror" "$mirror" "$security" >"$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/90slim"
    find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
    rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    log "base: bootstrapped in $((SECONDS - started))s"
  fi
  podman import --quiet --change 'CMD ["bash"]' "$tarball" "$BASE_IMAGE" >/dev/null
  log "base: $BASE_IMAGE imported from $tarball"
}

build_pause() {
  local source="$CLUSTER_ROOT/scripts/cluster/images/pause.c"
  local label
  label="$(sha256sum "$source" | cut -c1-16)"
  if image_exists "$PAUSE_IMAGE" &&
    [ "$(podman image inspect --format '{{index .Labels "io.natsbus.source"}}' "$PAUSE_IMAGE")" = "$label" ]; then
    log "pause: $PAUSE_IMAGE present"
    return
  fi
  local work
  work="$(mktemp -d)"
  gcc -static -Os -o "$work/pause" "$source"
  strip "$work/pause"
  local container
  container="$(buildah from scratch)"
  buildah copy --quiet "$container" "$work/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 --label "io.natsbus.source=$label" "$container"
  buildah commit --quiet --rm "$container" "$PAUSE_IMAGE" >/dev/null
  rm -rf "$work"
  log "pause: $PAUSE_IMAGE built"
}

# buildah bud, layers cached, nothing pulled: every FROM must be local.
bud() { # image, dockerfile, context, [extra args]
  local image="$1" dockerfile="$2" context="$3"
  shift 3
  local started=$SECONDS
  log "building $image ($dockerfile)"
  buildah bud --isolation chroot --layers --pull=never --network host \
    -f "$dockerfile" -t "$image" "$@" "$context" \
    >"$IMAGE_CACHE/build-$(basename "${image%%:*}").log" 2>&1 ||
    { tail -n 40 "$IMAGE_CACHE/build-$(basename "${image%%:*}").log" >&2; exit 1; }
  log "$image built in $((SECONDS - started))s (log $IMAGE_CACHE/build-$(basename "${image%%:*}").log)"
}

# The build stage compiles at the source tree's own path with the host's ccache
# mounted: after `make build` (as in `make test`) most of it is cache hits.
build_natsbus() { # target
  local ccache_args=()
  if command -v ccache >/dev/null; then
    local cache_dir
    cache_dir="$(ccache -k cache_dir)"
    mkdir -p "$cache_dir"
    ccache_args=(-v "$cache_dir:/root/.cache/ccache")
    # ccache's key includes these; the same values make the host's objects hits.
    local name
    for name in LANG LC_ALL LC_CTYPE LC_MESSAGES; do
      [ -n "${!name+set}" ] && ccache_args+=(--build-arg "$name=${!name}")
    done
  fi
  bud "$([ "$1" = operator ] && echo "$OPERATOR_IMAGE" || echo "$SIDECAR_IMAGE")" \
    "$CLUSTER_ROOT/Dockerfile" "$CLUSTER_ROOT" --target "$1" --build-arg "BUILD_JOBS=$BUILD_JOBS" \
    --build-arg "SRC_DIR=$CLUSTER_ROOT" "${ccache_args[@]}"
}

build_nats_streaming() {
  local server="$TOOLS_BIN/nats-streaming-server"
  [ -x "$server" ] || die "$server is missing; run 'make deps'"
  local context
  context="$(mktemp -d)"
  install -m 0755 "$server" "$context/nats-streaming-server"
  strip "$context/nats-streaming-server" 2>/dev/null || true
  bud "$NATS_STREAMING_IMAGE" "$CLUSTER_ROOT/scripts/cluster/images/nats-streaming.Dockerfile" "$context"
  rm -rf "$context"
}

build_sample_app() {
  bud "$SAMPLE_APP_IMAGE" "$CLUSTER_ROOT/examples/sample-app/Dockerfile" "$CLUSTER_ROOT/examples/sample-app"
}

# Every image's size, the size above the Debian base, and each layer above it.
report() {
  local base_size base_history
  base_size="$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")"
  base_history="$(podman history --quiet "$BASE_IMAGE" | wc -l)"
  local image
  for image in "$BASE_IMAGE" "$PAUSE_IMAGE" "$OPERATOR_IMAGE" "$SIDECAR_IMAGE" "$NATS_STREAMING_IMAGE" "$SAMPLE_APP_IMAGE"; do
    image_exists "$image" || continue
    local size above layers
    size="$(podman image inspect --format '{{.Size}}' "$image")"
    layers="$(podman history --quiet "$image" | wc -l)"
    if [ "$image" = "$BASE_IMAGE" ] || [ "$image" = "$PAUSE_IMAGE" ]; then
      above="$size"
      layers=$((layers + base_history)) # everything is "above": no base below
    else
      above=$((size - base_size))
    fi
    local what="above debian:bookworm-slim"
    [ "$image" = "$PAUSE_IMAGE" ] && what="from scratch"
    [ "$image" = "$BASE_IMAGE" ] && what="debootstrap minbase, slimmed"
    awk -v i="$image" -v s="$size" -v a="$above" -v w="$what" \
      'BEGIN { printf "[images] %-44s %7.1f MB; %s: %.1f MB\n", i, s / 1e6, w, a / 1e6 }'
    [ "$image" = "$BASE_IMAGE" ] && continue
    podman history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' "$image" | head -n $((layers - base_history)) |
      awk -F'\t' '{ c = $2; gsub(/  +/, " ", c); printf "[images]     %9s  %s\n", $1, substr(c, 1, 90) }'
  done
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(base pause operator sidecar nats-streaming sample-app report)
started=$SECONDS
run_started="$(date +%s)"
for target in "${targets[@]}"; do
  case "$target" in
    base) build_base ;;
    pause) build_pause ;;
    operator | sidecar) build_base && build_natsbus "$target" ;;
    nats-streaming) build_base && build_nats_streaming ;;
    sample-app) build_base && build_sample_app ;;
    report) report ;;
    *) die "unknown image target '$target' (base pause operator sidecar nats-streaming sample-app report)" ;;
  esac
done
# Each source change leaves a build stage of ~2 GB behind; drop the dangling
# images of earlier runs (this run's layers, and every cached layer still in
# use, stay), so a CI machine's cache does not grow run after run.
if [[ " ${targets[*]} " == *" operator "* || " ${targets[*]} " == *" sidecar "* ]]; then
  podman image prune --force --filter "until=$run_started" >/dev/null 2>&1 ||
    log "could not prune old build stages (podman image prune)"
fi
[ "${targets[*]}" = pause ] || log "done in $((SECONDS - started))s"
