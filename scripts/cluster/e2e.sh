#!/usr/bin/env bash
# `make e2e`: builds the images, brings the local cluster up once, loads the
# images, runs every ctest test labelled e2e against it, and tears the cluster
# down at the end -- also on failure and on Ctrl-C. A cluster that is already up
# (`make cluster-up`) is used as it is and left up.
#
# Without root there is no cluster: the run says so and skips (exit 0), so
# `make test` stays usable for developers without root. CI runs as root.
set -eEuo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD_DIR="${BUILD_DIR:-$CLUSTER_ROOT/build}"

if [ "$(id -u)" -ne 0 ]; then
  echo "make e2e: skipped: the end-to-end tests need root (they start a kubelet, containerd and kube-proxy, and change iptables, links and sysctls); run 'make e2e' as root."
  exit 0
fi
[ -d "$BUILD_DIR" ] || die "no build in $BUILD_DIR; run 'make build' first"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)" # the tests run in their own directories
take_lock

started=$SECONDS
timings=()
export NATSBUS_E2E_FIGURES="$BUILD_DIR/e2e-figures.txt"
: >"$NATSBUS_E2E_FIGURES"
step() { # name, command...
  local name="$1" t0=$SECONDS
  shift
  "$@"
  timings+=("$name: $((SECONDS - t0))s")
}

own_cluster=false
teardown() {
  local code=$?
  trap - EXIT INT TERM ERR
  if [ "$own_cluster" = true ]; then
    if [ "$code" -ne 0 ] && [ -d "$CLUSTER_DIR/logs" ]; then
      for log in "$CLUSTER_DIR"/logs/*.log; do
        echo "--- last lines of $log" >&2
        tail -n 20 "$log" >&2
      done
    fi
    local t0=$SECONDS
    "$(dirname "${BASH_SOURCE[0]}")/down.sh" || code=1
    timings+=("cluster down: $((SECONDS - t0))s")
  fi
  if [ -s "$NATSBUS_E2E_FIGURES" ]; then
    say "figures measured by the tests:"
    sed 's/^/  /' "$NATSBUS_E2E_FIGURES"
  fi
  say "e2e timings: ${timings[*]:-none}; total $((SECONDS - started))s"
  exit "$code"
}
trap teardown EXIT
trap 'exit 130' INT TERM

step "images" "$(dirname "${BASH_SOURCE[0]}")/images.sh"
if [ -f "$CLUSTER_DIR/up" ] && cluster_kubectl get --raw /readyz >/dev/null 2>&1; then
  say "using the cluster that is already up (left up afterwards)"
else
  own_cluster=true
  step "cluster up" "$(dirname "${BASH_SOURCE[0]}")/up.sh"
fi
step "image load" "$(dirname "${BASH_SOURCE[0]}")/load-images.sh"
export NATSBUS_E2E_KUBECONFIG="$KUBECONFIG_PATH" NATSBUS_E2E_REQUIRED=1
step "e2e tests" ctest --test-dir "$BUILD_DIR" -L e2e --output-on-failure --no-tests=error
