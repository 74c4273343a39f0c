# Shared settings and helpers of the local cluster scripts (sourced, not run).
#
# Everything the cluster writes lives in directories of its own, so the host's
# kubelet, containerd, CNI and podman state (if any) is never touched:
#   $CLUSTER_DIR (/var/lib/natsbus-cluster)  certificates, kubeconfigs, etcd data,
#                                            kubelet root, containerd root, CNI config
#                                            and IPAM state, logs, saved sysctls
#   $RUN_DIR     (/run/natsbus-cluster)      containerd state and socket, PID files
#   $IMAGE_CACHE (/var/cache/natsbus)        image build storage and the debootstrap
#                                            base (kept between runs: warm builds)
# Traffic stays on this machine: pods and Services use the ranges below, inside
# network namespaces the CNI plugin makes for our pods; a FORWARD guard rejects
# anything from the pod range to any other destination (scripts/cluster/up.sh).

CLUSTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_DIR="${NATSBUS_CLUSTER_DIR:-/var/lib/natsbus-cluster}"
RUN_DIR="${NATSBUS_CLUSTER_RUN_DIR:-/run/natsbus-cluster}"
IMAGE_CACHE="${NATSBUS_IMAGE_CACHE:-/var/cache/natsbus}"
LOCK_FILE="${NATSBUS_CLUSTER_LOCK_FILE:-/run/natsbus-cluster.lock}"
TOOLS_BIN="$CLUSTER_ROOT/.tools/bin"
KUBECONFIG_PATH="$CLUSTER_DIR/admin.kubeconfig"

# Addresses. The node IP sits on a bridge of our own (the kubelet refuses a
# loopback node IP); pods get addresses on the CNI bridge.
NODE_NAME="natsbus-node"
NODE_BRIDGE="nbnode0"
NODE_IP="10.245.0.1"
CNI_BRIDGE="nbcni0"
CLUSTER_CIDR="10.244.0.0/16"
POD_CIDR="10.244.0.0/24"
SERVICE_CIDR="10.96.0.0/16"
KUBERNETES_SERVICE_IP="10.96.0.1"
CLUSTER_DOMAIN="cluster.local"
GUARD_CHAIN="NATSBUS-GUARD"

# Ports (loopback or the node IP only; none on the host's own interfaces).
ETCD_CLIENT_PORT=12379
ETCD_PEER_PORT=12380
APISERVER_PORT=6443

CONTAINERD_SOCKET="$RUN_DIR/containerd/containerd.sock"
CNI_BIN_DIR="/usr/lib/cni"

# The daemons, in start order; down.sh stops them in reverse.
DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns)

# Sysctls the cluster sets or its components change (the kubelet sets the kernel
# and vm ones itself); up.sh records their values first and down.sh puts them back.
TRACKED_SYSCTLS=(
  net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet
  net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait
  vm.overcommit_memory
  vm.panic_on_oom
  kernel.panic
  kernel.panic_on_oops
  kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes
)

say() { printf '[cluster] %s\n' "$*"; }
warn() { printf '[cluster] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[cluster] %s\n' "$*" >&2
  exit 1
}

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "natsbus cluster: needs root (it starts a kubelet, containerd and kube-proxy and changes iptables, links and sysctls); run it as root." >&2
    exit 1
  fi
}

# The operation lock: up, down and the e2e run take it, so two runs never share
# the node. A caller that already holds it (e2e.sh, for up + tests + down) sets
# NATSBUS_CLUSTER_LOCK_HELD=1 for its children. The daemons never inherit it.
take_lock() {
  [ "${NATSBUS_CLUSTER_LOCK_HELD:-}" = 1 ] && return 0
  exec 9>"$LOCK_FILE"
  if ! flock -n 9; then
    say "waiting for another natsbus cluster run to finish (lock $LOCK_FILE)"
    flock -w "${NATSBUS_CLUSTER_LOCK_WAIT:-3600}" 9 || die "gave up waiting for $LOCK_FILE"
  fi
  export NATSBUS_CLUSTER_LOCK_HELD=1
}

# up.sh's promise: from its first change to the host on, every way out short of
# success -- a failing command under `set -e`, a `die` (or `cmd || die`), Ctrl-C,
# TERM or HUP -- runs the teardown before the script exits. (An ERR trap alone
# misses `die`, which calls exit directly.) The lock stays held through the
# teardown: the EXIT trap runs before the shell closes fd 9, and the teardown
# inherits NATSBUS_CLUSTER_LOCK_HELD, so it does not wait for the lock itself.
# A second Ctrl-C does not cut the teardown short (the teardown ignores INT,
# TERM and HUP, and so do its children; kill -9 still stops it).
# Usage: teardown_on_failure COMMAND...; <the work>; teardown_disarm on success.
teardown_on_failure() {
  TEARDOWN_COMMAND=("$@")
  trap teardown_now EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
teardown_disarm() { trap - EXIT HUP INT TERM; }
teardown_now() {
  local code=$?
  set +e # a failing command in here must not skip the teardown
  trap - EXIT
  trap '' HUP INT TERM
  [ "$code" -ne 0 ] || code=1 # any exit before teardown_disarm is a failure
  case "$code" in
    129 | 130 | 143) warn "$(basename "$0") interrupted (signal $((code - 128))) -- tearing down" ;;
    *)
      warn "$(basename "$0") failed (exit $code); logs: $CLUSTER_DIR/logs -- tearing down"
      local log
      for log in "$CLUSTER_DIR"/logs/*.log; do
        [ -f "$log" ] && { echo "--- last lines of $log" >&2; tail -n 15 "$log" >&2; }
      done
      ;;
  esac
  "${TEARDOWN_COMMAND[@]}" || warn "the teardown reported what it could not remove (above)"
  exit "$code"
}

# PID file handling: every daemon's PID and its command line are recorded, and a
# PID is only ever signalled while /proc/PID/cmdline still matches (a PID left
# over from a crash may belong to another process by now).
pid_file() { echo "$RUN_DIR/$1.pid"; }

recorded_pid() {
  local file
  file="$(pid_file "$1")"
  [ -f "$file" ] || return 1
  local pid expected actual
  pid="$(head -n1 "$file")"
  expected="$(sed -n 2p "$file")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  actual="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  [ "$actual" = "$expected" ] || return 1
  echo "$pid"
}

cluster_kubectl() { "$TOOLS_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# Waits up to $2 seconds for the command "${@:3}" to succeed; $1 names it.
wait_for() {
  local what="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      warn "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# Container tooling (podman, buildah) with configuration and storage of our own:
# the host's /etc/containers is not changed. This machine kind lacks
# CAP_SYS_RESOURCE, so containers get the open-files limit the host has; crun
# refuses hybrid cgroups, so runc; no systemd, so cgroupfs and a file event log.
container_env() {
  # Run state per image cache, so two caches (NATSBUS_IMAGE_CACHE) never mix.
  local run_root
  run_root="/run/natsbus-images/$(printf '%s' "$IMAGE_CACHE" | sha256sum | cut -c1-12)"
  mkdir -p "$IMAGE_CACHE/containers" "$run_root"
  local conf="$IMAGE_CACHE/containers/containers.conf"
  local storage="$IMAGE_CACHE/containers/storage.conf"
  local registries="$IMAGE_CACHE/containers/registries.conf"
  local nofile
  nofile="$(ulimit -Hn)"
  [ "$nofile" = unlimited ] && nofile=1048576
  cat >"$conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$run_root/events.log"
EOF
  cat >"$storage" <<EOF
[storage]
driver = "overlay"
graphroot = "$IMAGE_CACHE/containers/storage"
runroot = "$run_root/storage"
EOF
  # No registry is reachable: every image must already be local.
  cat >"$registries" <<EOF
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
  export CONTAINERS_CONF="$conf" CONTAINERS_STORAGE_CONF="$storage" CONTAINERS_REGISTRIES_CONF="$registries"
  export BUILDAH_ISOLATION=chroot
}
