#!/usr/bin/env bash
# `make cluster-up`: a single-node Kubernetes v1.34 on this machine -- etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet,
# kube-proxy (iptables mode) and CoreDNS (cluster.local only) -- and prints the
# kubeconfig path. Needs root and what `make deps` installs.
#
# Safe to run again: with a healthy cluster up it only prints the kubeconfig;
# after a crash it first removes what the crashed run left (down.sh). A failure,
# a `die`, Ctrl-C, TERM or HUP half-way tears everything down again (an EXIT
# trap, lib.sh teardown_on_failure). `make cluster-down` undoes it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
take_lock

all_daemons_running() {
  local daemon
  for daemon in "${DAEMONS[@]}"; do recorded_pid "$daemon" >/dev/null || return 1; done
  cluster_kubectl get --raw /readyz >/dev/null 2>&1
}

if [ -f "$CLUSTER_DIR/up" ] && all_daemons_running; then
  say "already up (since $(cat "$CLUSTER_DIR/up")); kubeconfig: $KUBECONFIG_PATH"
  exit 0
fi

started=$SECONDS
# Whatever an earlier run left (crash, kill -9, reboot of a half-made node).
"$(dirname "${BASH_SOURCE[0]}")/down.sh" --stale

for tool in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns kubectl; do
  [ -x "$TOOLS_BIN/$tool" ] || die "$tool is missing from .tools/bin; run 'make deps' first"
done
for tool in containerd containerd-shim-runc-v2 runc ctr iptables ip openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is missing; run 'make deps' first (it installs the Debian packages)"
done
for plugin in bridge host-local loopback; do
  [ -x "$CNI_BIN_DIR/$plugin" ] || die "CNI plugin $CNI_BIN_DIR/$plugin is missing; run 'make deps'"
done

# The first change to the host is next: from here on every failure, die or
# interrupt tears down again (lib.sh, teardown_on_failure), until the cluster is up.
teardown_on_failure "$(dirname "${BASH_SOURCE[0]}")/down.sh"
mkdir -p "$CLUSTER_DIR"/{pki,logs,etcd,kubelet,containerd,cni/net.d,cni/ipam,coredns,pod-logs} "$RUN_DIR"
chmod 700 "$CLUSTER_DIR/pki"
pki="$CLUSTER_DIR/pki"
logs="$CLUSTER_DIR/logs"

# --- 1. Host state we are about to change: record it first, for down.sh.
: >"$CLUSTER_DIR/sysctls.orig"
for key in "${TRACKED_SYSCTLS[@]}"; do
  value="$(sysctl -n "$key" 2>/dev/null)" || continue
  printf '%s=%s\n' "$key" "$value" >>"$CLUSTER_DIR/sysctls.orig"
done
# Host directories the kubelet or the CNI plugins may create on first use.
: >"$CLUSTER_DIR/host-dirs.created"
for dir in /var/log/pods /var/log/containers /run/netns /var/lib/cni /var/lib/kubelet; do
  [ -e "$dir" ] || echo "$dir" >>"$CLUSTER_DIR/host-dirs.created"
done

[ -d /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null ||
  die "the br_netfilter module is needed (Service traffic between pods on one bridge)"
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1

# The node's own address, on a bridge of our own.
ip link add "$NODE_BRIDGE" type bridge
ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up

# Our cgroup root: every pod's cgroup lives below it (kubelet cgroupRoot).
for hierarchy in /sys/fs/cgroup/*/; do
  mkdir -p "$hierarchy/natsbus-cluster"
done
if [ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]; then
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >/sys/fs/cgroup/cpuset/natsbus-cluster/cpuset.cpus
  cat /sys/fs/cgroup/cpuset/cpuset.mems >/sys/fs/cgroup/cpuset/natsbus-cluster/cpuset.mems
fi

# --- 2. Certificates: one CA for everything, a client certificate per component.
say "certificates"
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=natsbus-cluster-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt"
openssl_quiet genrsa -out "$pki/sa.key" 2048
openssl_quiet rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
issue_cert() { # name, subject, [subjectAltName]
  local name="$1" subject="$2" san="${3:-}"
  local ext="$pki/$name.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' >"$ext"
  [ -n "$san" ] && echo "subjectAltName=$san" >>"$ext"
  openssl_quiet req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$pki/$name.key" -out "$pki/$name.csr"
  openssl_quiet x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$ext" -out "$pki/$name.crt"
}
issue_cert apiserver "/CN=kube-apiserver" \
  "IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
issue_cert admin "/O=system:masters/CN=natsbus-cluster-admin"
issue_cert controller-manager "/CN=system:kube-controller-manager"
issue_cert scheduler "/CN=system:kube-scheduler"
issue_cert kube-proxy "/CN=system:kube-proxy"
issue_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
issue_cert coredns "/CN=natsbus-coredns"

make_kubeconfig() { # file, cert name
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: natsbus
  cluster:
    server: https://$NODE_IP:$APISERVER_PORT
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $pki/$2.crt
    client-key: $pki/$2.key
contexts:
- name: natsbus
  context: { cluster: natsbus, user: $2, namespace: default }
current-context: natsbus
EOF
}
make_kubeconfig "$KUBECONFIG_PATH" admin
for component in controller-manager scheduler kube-proxy kubelet coredns; do
  make_kubeconfig "$CLUSTER_DIR/$component.kubeconfig" "$component"
done

# Daemons run in sessions of their own (a Ctrl-C reaches this script, whose trap
# tears them down in order, not the daemons at random) and never hold the lock.
start_daemon() { # name, argv...
  local name="$1"
  shift
  setsid "$@" >"$logs/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  printf '%s\n%s\n' "$pid" "$(printf '%s ' "$@")" >"$(pid_file "$name")"
  say "$name started (pid $pid, log $logs/$name.log)"
}

# --- 3. Control plane.
start_daemon etcd "$TOOLS_BIN/etcd" --name natsbus --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "natsbus=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
wait_for "etcd" 60 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

start_daemon kube-apiserver "$TOOLS_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP,Hostname \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false --v=1
wait_for "kube-apiserver" 120 cluster_kubectl get --raw /readyz

start_daemon kube-controller-manager "$TOOLS_BIN/kube-controller-manager" \
  --kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 10257 --leader-elect=false \
  --controllers '*,-nodeipam' --use-service-account-credentials \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" --v=1
start_daemon kube-scheduler "$TOOLS_BIN/kube-scheduler" \
  --kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false --v=1

# --- 4. Node: containerd (state, root, socket and CNI configuration of its own;
# podman drops its own conflist in /etc/cni/net.d) and the kubelet.
cat >"$CLUSTER_DIR/cni/net.d/10-natsbus.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "natsbus",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$CLUSTER_DIR/cni/ipam"
      }
    }
  ]
}
EOF
cat >"$CLUSTER_DIR/containerd.toml" <<EOF
version = 2
root = "$CLUSTER_DIR/containerd"
state = "$RUN_DIR/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CONTAINERD_SOCKET"
[ttrpc]
  address = "$CONTAINERD_SOCKET.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CLUSTER_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
EOF
start_daemon containerd containerd --config "$CLUSTER_DIR/containerd.toml"
wait_for "containerd" 60 ctr --address "$CONTAINERD_SOCKET" version

# The sandbox image, built locally (no registry), imported before any pod starts.
"$(dirname "${BASH_SOURCE[0]}")/images.sh" pause
"$(dirname "${BASH_SOURCE[0]}")/load-images.sh" registry.k8s.io/pause:3.10

# Pods must not inherit the host's resolvers: the kubelet reads this empty file
# instead of /etc/resolv.conf, so a pod's only nameserver is our CoreDNS.
: >"$CLUSTER_DIR/resolv.conf"
cat >"$CLUSTER_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $pki/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
cgroupDriver: cgroupfs
cgroupRoot: /natsbus-cluster
failSwapOn: false
failCgroupV1: false
oomScoreAdj: 0
podCIDR: $POD_CIDR
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$NODE_IP]
resolvConf: $CLUSTER_DIR/resolv.conf
podLogsDir: $CLUSTER_DIR/pod-logs
# No registry to pull from again: never garbage-collect images.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
serializeImagePulls: false
shutdownGracePeriod: 0s
EOF
start_daemon kubelet "$TOOLS_BIN/kubelet" --config "$CLUSTER_DIR/kubelet.yaml" \
  --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" --root-dir "$CLUSTER_DIR/kubelet" \
  --node-ip "$NODE_IP" --hostname-override "$NODE_NAME" --v=1
node_ready() {
  [ "$(cluster_kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
wait_for "node $NODE_NAME Ready" 120 node_ready

# --- 5. Services: kube-proxy (iptables), then the guard, then CoreDNS.
cat >"$CLUSTER_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $CLUSTER_DIR/kube-proxy.kubeconfig }
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $CLUSTER_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
# Leave the host's conntrack settings and route_localnet alone.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
iptables: { localhostNodePorts: false, syncPeriod: 30s, minSyncPeriod: 1s }
EOF
start_daemon kube-proxy "$TOOLS_BIN/kube-proxy" --config "$CLUSTER_DIR/kube-proxy.yaml" --v=1
proxy_synced() { iptables -w -t nat -S KUBE-SERVICES 2>/dev/null | grep -q 'default/kubernetes:https'; }
wait_for "kube-proxy's first sync" 60 proxy_synced

# The guard goes in after kube-proxy's first sync, which inserts its own FORWARD
# jumps at the top; kube-proxy only re-adds them when missing, so ours stays first.
iptables -w -N "$GUARD_CHAIN"
iptables -w -A "$GUARD_CHAIN" -s "$CLUSTER_CIDR" -d "$CLUSTER_CIDR" -j RETURN
iptables -w -A "$GUARD_CHAIN" -s "$CLUSTER_CIDR" -d "$SERVICE_CIDR" -j RETURN
iptables -w -A "$GUARD_CHAIN" -s "$CLUSTER_CIDR" -d "$NODE_IP/32" -j RETURN
# Refuse at once (a reset or an ICMP error), so a pod sees a failure, not a hang.
iptables -w -A "$GUARD_CHAIN" -s "$CLUSTER_CIDR" -p tcp -j REJECT --reject-with tcp-reset
iptables -w -A "$GUARD_CHAIN" -s "$CLUSTER_CIDR" -j REJECT --reject-with icmp-admin-prohibited
iptables -w -I FORWARD 1 -m comment --comment "natsbus cluster: pod traffic never leaves this machine" -j "$GUARD_CHAIN"

cat >"$CLUSTER_DIR/coredns/Corefile" <<EOF
# cluster.local only: no forward plugin, so no name outside the cluster resolves.
$CLUSTER_DOMAIN:53 {
  bind $NODE_IP
  errors
  ready 127.0.0.1:18181
  kubernetes $CLUSTER_DOMAIN {
    kubeconfig $CLUSTER_DIR/coredns.kubeconfig natsbus
    pods insecure
  }
  cache 5
}
EOF
cluster_kubectl apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: natsbus-coredns }
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: natsbus-coredns }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: natsbus-coredns }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: User, name: natsbus-coredns }
EOF
start_daemon coredns "$TOOLS_BIN/coredns" -conf "$CLUSTER_DIR/coredns/Corefile"
wait_for "CoreDNS" 60 curl -sf http://127.0.0.1:18181/ready

first_rule="$(iptables -w -S FORWARD | sed -n 2p)"
[[ "$first_rule" == *"-j $GUARD_CHAIN"* ]] || die "the guard is not the first FORWARD rule: $first_rule"
wait_for "the default ServiceAccount" 60 cluster_kubectl -n default get serviceaccount default

date -u +%Y-%m-%dT%H:%M:%SZ >"$CLUSTER_DIR/up"
teardown_disarm
say "up in $((SECONDS - started))s: node $NODE_NAME Ready, pods $CLUSTER_CIDR, services $SERVICE_CIDR, DNS $CLUSTER_DOMAIN at $NODE_IP"
say "kubeconfig: $KUBECONFIG_PATH"
echo "$KUBECONFIG_PATH"
