#!/usr/bin/env bash
# `make cluster-down`: stops the local cluster and puts the host back as it was,
# saying what it removed and what it could not (like `kubeadm reset`, but leaving
# nothing of the list behind): processes (by recorded PID, or by our private
# paths after a crash), container processes in our cgroups, mounts, network
# namespaces, links, iptables chains (KUBE-*, ours, CNI's for our network),
# cgroups, sysctls (restored to the recorded values) and state directories.
#
# Idempotent and safe after a crash or a half-made cluster. `--stale` (used by
# up.sh before it starts) only speaks when it finds something to remove.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
take_lock

stale=false
[ "${1:-}" = --stale ] && stale=true
removed=()
left=()
note_removed() {
  removed+=("$*")
  [ "$stale" = true ] && say "removing what an earlier run left: $*"
}
note_left() { left+=("$*"); }

# Waits up to $2 seconds for PID $1 to exit.
wait_gone() {
  local deadline=$((SECONDS + $2))
  while [ -e "/proc/$1" ] && [ $SECONDS -lt "$deadline" ]; do
    # A child of this shell (never, but cheap to reap) or anyone else's.
    sleep 0.2
  done
  [ ! -e "/proc/$1" ]
}

stop_pid() { # name, pid, grace seconds
  local name="$1" pid="$2" grace="$3"
  kill -TERM "$pid" 2>/dev/null || return 0
  if ! wait_gone "$pid" "$grace"; then
    kill -KILL "$pid" 2>/dev/null
    wait_gone "$pid" 5 || { note_left "process $name (pid $pid) would not die"; return; }
  fi
  note_removed "process $name (pid $pid)"
}

stop_daemon() { # name, grace
  local pid
  if pid="$(recorded_pid "$1")"; then
    stop_pid "$1" "$pid" "$2"
  fi
  rm -f "$(pid_file "$1")"
}

# Processes of ours without a usable PID file (a crashed run, a shim whose
# containerd died): their command line names our private directories, which
# nothing else on the machine uses.
ours_by_path() {
  local proc pid cmdline
  for proc in /proc/[0-9]*; do
    pid="${proc#/proc/}"
    [ "$pid" = $$ ] && continue
    cmdline="$(tr '\0' ' ' 2>/dev/null <"$proc/cmdline")" || continue
    case "$cmdline" in
      *"$CLUSTER_DIR/"* | *"$RUN_DIR/"*) echo "$pid" ;;
    esac
  done
}

# Processes in the cgroups the kubelet made for pods below our cgroup root.
ours_by_cgroup() {
  local procs
  for procs in $(find /sys/fs/cgroup/pids/natsbus-cluster /sys/fs/cgroup/memory/natsbus-cluster \
    -name cgroup.procs 2>/dev/null); do
    cat "$procs" 2>/dev/null
  done | sort -un
}

# --- 1. Processes: node agents first (so nothing restarts containers), then the
# containers, containerd, and the control plane.
for daemon in coredns kube-proxy kubelet; do stop_daemon "$daemon" 10; done
container_pids="$(ours_by_cgroup)"
if [ -n "$container_pids" ]; then
  # shellcheck disable=SC2086
  kill -KILL $container_pids 2>/dev/null
  for pid in $container_pids; do wait_gone "$pid" 5 || note_left "container process $pid would not die"; done
  note_removed "container processes $(echo $container_pids | tr '\n' ' ')"
fi
stop_daemon containerd 10
for daemon in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_daemon "$daemon" 15; done
for pid in $(ours_by_path); do
  stop_pid "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)" "$pid" 5
done

# --- 2. Mounts below our directories and the pods' network namespaces.
our_mounts() {
  awk '{print $5}' /proc/self/mountinfo | sed 's/\\040/ /g' |
    grep -E "^($CLUSTER_DIR|$RUN_DIR|/run/netns/cni-)" | sort -r
}
for mount in $(our_mounts); do
  if umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null; then
    note_removed "mount $mount"
  else
    note_left "mount $mount"
  fi
done
for netns in /run/netns/cni-*; do
  [ -e "$netns" ] || continue
  rm -f "$netns" && note_removed "network namespace $netns"
done

# --- 3. Links: pod veths on our CNI bridge, the bridge, the node bridge.
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  for veth in $(ip -o link show master "$CNI_BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$veth" 2>/dev/null && note_removed "link $veth"
  done
fi
for link in "$CNI_BRIDGE" "$NODE_BRIDGE"; do
  if ip link show "$link" >/dev/null 2>&1; then
    if ip link delete "$link"; then note_removed "link $link"; else note_left "link $link"; fi
  fi
done

# --- 4. iptables: jumps from the built-in chains into KUBE-*, our guard, and
# CNI chains of our network; then those chains. (`kube-proxy --cleanup` would
# leave the kubelet's KUBE-* chains behind, so this does it all.)
for tool in iptables ip6tables; do
  command -v "$tool" >/dev/null || continue
  for table in filter nat mangle raw; do
    dump="$("$tool-save" -t "$table" 2>/dev/null)" || continue
    our_cni_chains="$(grep -E '^-A CNI-' <<<"$dump" | grep -F 'name: \"natsbus\"' | awk '{print $2}' | sort -u)"
    pattern="KUBE-[A-Z0-9-]*|$GUARD_CHAIN"
    for chain in $our_cni_chains; do pattern+="|$chain"; done
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      eval "$tool -w -t $table ${rule/#-A/-D}" 2>/dev/null && note_removed "$tool -t $table rule: $rule"
    done < <(grep -E "^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j ($pattern)( |$)" <<<"$dump")
    chains="$(grep -oE "^:($pattern) " <<<"$dump" | tr -d ': ')"
    for chain in $chains; do "$tool" -w -t "$table" -F "$chain" 2>/dev/null; done
    for chain in $chains; do
      if "$tool" -w -t "$table" -X "$chain" 2>/dev/null; then
        note_removed "$tool -t $table chain $chain"
      else
        note_left "$tool -t $table chain $chain"
      fi
    done
  done
done

# --- 5. Sysctls back to the values recorded before the cluster changed them.
if [ -f "$CLUSTER_DIR/sysctls.orig" ]; then
  while IFS='=' read -r key value; do
    [ -n "$key" ] || continue
    current="$(sysctl -n "$key" 2>/dev/null)" || continue
    [ "$current" = "$value" ] && continue
    if sysctl -qw "$key=$value"; then
      note_removed "sysctl $key=$current (restored to $value)"
    else
      note_left "sysctl $key is $current, was $value"
    fi
  done <"$CLUSTER_DIR/sysctls.orig"
fi

# --- 6. Our cgroup root (the kubelet's and the pods' cgroups below it).
for root in /sys/fs/cgroup/*/natsbus-cluster; do
  [ -d "$root" ] || continue
  find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
  if [ -d "$root" ]; then note_left "cgroup $root"; else note_removed "cgroup $root"; fi
done

# --- 7. State: host directories the run created, then our own directories.
if [ -f "$CLUSTER_DIR/host-dirs.created" ]; then
  while IFS= read -r dir; do
    [ -e "$dir" ] || continue
    if [ "$dir" = /run/netns ] && [ -n "$(ls -A "$dir")" ]; then
      note_left "$dir (not empty: namespaces of someone else)"
      continue
    fi
    # `ip netns add` (the e2e guard test's outside host) bind-mounts /run/netns
    # onto itself.
    while mountpoint -q "$dir"; do umount "$dir" || break; done
    if rm -rf "$dir" 2>/dev/null; then note_removed "directory $dir"; else note_left "directory $dir"; fi
  done <"$CLUSTER_DIR/host-dirs.created"
fi
if [ -d /var/log/containers ]; then
  for link in /var/log/containers/*.log; do
    [ -L "$link" ] && [[ "$(readlink "$link")" == "$CLUSTER_DIR/"* ]] && rm -f "$link" &&
      note_removed "log link $link"
  done
fi
for dir in "$CLUSTER_DIR" "$RUN_DIR"; do
  [ -e "$dir" ] || continue
  if rm -rf "$dir" 2>/dev/null; then note_removed "directory $dir"; else note_left "directory $dir"; fi
done

# --- 8. Say what happened, and check that nothing is left.
for pid in $(ours_by_path); do note_left "process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-100)"; done
for link in "$CNI_BRIDGE" "$NODE_BRIDGE"; do
  ip link show "$link" >/dev/null 2>&1 && note_left "link $link"
done
if iptables-save 2>/dev/null | grep -qE "^:(KUBE-|$GUARD_CHAIN)"; then note_left "iptables chains KUBE-*/$GUARD_CHAIN"; fi

if [ "$stale" = false ]; then
  if [ ${#removed[@]} -eq 0 ]; then
    say "nothing to remove: no cluster was up"
  else
    say "removed:"
    printf '  %s\n' "${removed[@]}"
  fi
fi
if [ ${#left[@]} -gt 0 ]; then
  say "could NOT remove (remove these by hand):"
  printf '  %s\n' "${left[@]}"
  exit 1
fi
[ "$stale" = false ] && say "the host is clean: no cluster process, link, chain, mount, cgroup or state directory of ours is left; sysctls restored"
exit 0
