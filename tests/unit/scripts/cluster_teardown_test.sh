#!/usr/bin/env bash
# The local cluster's promise that a failed or interrupted `make cluster-up`
# leaves nothing behind rests on lib.sh's teardown_on_failure: every way out
# of up.sh after its first change to the host must run the teardown (down.sh),
# with the lock still held. This drives the real lib.sh functions through each
# of those exits in a child script whose teardown is a recorder, so it needs no
# root, no cluster and no lock of the real one. (ctest label unit.)
# shellcheck disable=SC2015,SC2016 # `a && b || fail` only reports; bodies expand in the child
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="$here/../../../scripts/cluster/lib.sh"
up="$here/../../../scripts/cluster/up.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# The teardown stand-in: records that it ran, whether the lock was still held
# (another open of the lock file cannot take it) and whether it inherited the
# held-lock marker; then shrugs off an INT sent to itself and to the script, as
# a second Ctrl-C would, and records that it finished.
cat >"$work/teardown.sh" <<'EOF'
#!/usr/bin/env bash
out="$1"
echo ran >>"$out"
if flock -n "$NATSBUS_CLUSTER_LOCK_FILE" true; then echo lock-free >>"$out"; else echo lock-held >>"$out"; fi
echo "held-marker=${NATSBUS_CLUSTER_LOCK_HELD:-}" >>"$out"
kill -INT "$PPID" $$
sleep 0.3
echo finished >>"$out"
EOF
chmod +x "$work/teardown.sh"

# Runs an up.sh-like script: lib.sh, the lock, armed teardown, then `body`.
# Prints the exit status; the recorder's lines go to $work/<name>.out.
run_case() { # name, arm (yes/no), body
  local name="$1" arm="$2" body="$3"
  local script="$work/$name.sh"
  {
    echo 'set -euo pipefail'
    echo "source '$lib'"
    echo 'take_lock'
    [ "$arm" = yes ] && echo "teardown_on_failure '$work/teardown.sh' '$work/$name.out'"
    echo "$body"
  } >"$script"
  : >"$work/$name.out"
  env -u NATSBUS_CLUSTER_LOCK_HELD NATSBUS_CLUSTER_LOCK_FILE="$work/lock" \
    NATSBUS_CLUSTER_DIR="$work/cluster" bash "$script" >"$work/$name.log" 2>&1
  echo $?
}

expect_teardown() { # name, status wanted, status got
  local name="$1" want="$2" got="$3"
  [ "$got" = "$want" ] || fail "$name: exit status $got, wanted $want ($(cat "$work/$name.log"))"
  [ "$(grep -c '^ran$' "$work/$name.out")" = 1 ] || fail "$name: the teardown did not run exactly once"
  grep -q '^lock-held$' "$work/$name.out" || fail "$name: the lock was not held during the teardown"
  grep -q '^held-marker=1$' "$work/$name.out" ||
    fail "$name: the teardown did not inherit NATSBUS_CLUSTER_LOCK_HELD=1 (it would wait for itself)"
  grep -q '^finished$' "$work/$name.out" || fail "$name: a second interrupt cut the teardown short"
}

expect_teardown die 1 "$(run_case die yes 'die "the guard is not the first FORWARD rule"')"
grep -q 'the guard is not the first FORWARD rule' "$work/die.log" || fail "die: its message was not printed"
grep -q 'die.sh failed (exit 1)' "$work/die.log" || fail "die: no 'failed' line: $(cat "$work/die.log")"
expect_teardown or-die 1 "$(run_case or-die yes '[ -d /nonexistent ] || die "the br_netfilter module is needed"')"
expect_teardown set-e 3 "$(run_case set-e yes 'mkdir -p "$NATSBUS_CLUSTER_DIR/logs"; echo "last words" >"$NATSBUS_CLUSTER_DIR/logs/etcd.log"; (exit 3); echo "not reached"')"
grep -q 'not reached' "$work/set-e.log" && fail "set-e: the script went on after a failing command"
grep -q 'last words' "$work/set-e.log" || fail "set-e: the logs' last lines were not shown"
expect_teardown failing-function 1 "$(run_case failing-function yes 'wait_for "nothing" 1 false')"
expect_teardown exit-0-before-success 1 "$(run_case exit-0-before-success yes 'exit 0')"
expect_teardown int 130 "$(run_case int yes 'kill -INT $$; sleep 5')"
expect_teardown term 143 "$(run_case term yes 'kill -TERM $$; sleep 5')"
expect_teardown hup 129 "$(run_case hup yes 'kill -HUP $$; sleep 5')"

# Success disarms: no teardown, the script's own status.
status="$(run_case success yes 'teardown_disarm; echo up')"
[ "$status" = 0 ] || fail "success: exit status $status"
[ -s "$work/success.out" ] && fail "success: the teardown ran after teardown_disarm"
# Before arming (up.sh's checks of its tools; the host is not changed yet).
status="$(run_case unarmed no 'die "kubelet is missing"')"
[ "$status" = 1 ] || fail "unarmed: exit status $status"
[ -s "$work/unarmed.out" ] && fail "unarmed: the teardown ran before teardown_on_failure"

# up.sh itself: armed before its first change to the host (its first mkdir of
# the state directories), disarmed only after the cluster is up, and no other
# trap that would run a second teardown.
line_of() { grep -n -m1 -F -- "$1" "$up" | cut -d: -f1; }
armed="$(line_of 'teardown_on_failure ')"
first_change="$(line_of 'mkdir -p "$CLUSTER_DIR"')"
disarmed="$(line_of 'teardown_disarm')"
marked_up="$(line_of '>"$CLUSTER_DIR/up"')"
[ -n "$armed" ] && [ -n "$first_change" ] && [ "$armed" -lt "$first_change" ] ||
  fail "up.sh: teardown_on_failure (line ${armed:-none}) must come before its first mkdir (line ${first_change:-none})"
[ -n "$disarmed" ] && [ -n "$marked_up" ] && [ "$disarmed" -gt "$marked_up" ] ||
  fail "up.sh: teardown_disarm (line ${disarmed:-none}) must follow the up marker (line ${marked_up:-none})"
grep -nE '^\s*trap ' "$up" && fail "up.sh sets traps of its own besides lib.sh's"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all exits tear down, with the lock held; success and the unarmed checks do not"
