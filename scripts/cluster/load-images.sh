#!/usr/bin/env bash
# Copies images from our image storage (`make images`) into the cluster's
# containerd, where the kubelet finds them (imagePullPolicy IfNotPresent; there is
# no registry to pull from):  load-images.sh IMAGE...   (default: all of ours)
#
# The trap this avoids: containerd keeps an image it already has under a name, so
# a new build imported under the same tag could leave the old one running
# silently. Each image is removed first, imported, and then checked: its config
# digest in containerd must be the ID of the image just built.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
container_env

app_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CLUSTER_ROOT/charts/natsbus/Chart.yaml")"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(
  "docker.io/natsbus/operator:$app_version" "docker.io/natsbus/sidecar:$app_version"
  "docker.io/natsbus/sample-app:$app_version" docker.io/library/nats-streaming:0.25.6
)
[ -S "$CONTAINERD_SOCKET" ] || die "the cluster's containerd is not running ($CONTAINERD_SOCKET); run 'make cluster-up'"
ctr_k8s() { ctr --address "$CONTAINERD_SOCKET" --namespace k8s.io "$@"; }

for image in "${images[@]}"; do
  podman image exists "$image" || die "image $image is not built; run 'make images'"
  want="sha256:$(podman image inspect --format '{{.Id}}' "$image")"
  ctr_k8s images rm --sync "$image" >/dev/null 2>&1 || true
  podman save --format docker-archive "$image" 2>/dev/null | ctr_k8s images import - >/dev/null
  manifest="$(ctr_k8s images ls "name==$image" | awk 'NR == 2 {print $3}')"
  [ -n "$manifest" ] || die "$image: not in containerd after the import"
  got="$(ctr_k8s content get "$manifest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])')"
  [ "$got" = "$want" ] || die "$image: containerd holds $got, but the image built is $want"
  printf '[images] loaded %s (%s) into the cluster\n' "$image" "${want:7:12}"
done
