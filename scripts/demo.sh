#!/usr/bin/env bash
# `make demo`: the ticketing story on this machine, with no cluster. Needs what
# `make deps` installs (it checks, and says what to run when something is missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="$root/build/tests/integration/e2e/natsbus-demo"
for tool in nats-streaming-server kube-apiserver etcd helm kubectl; do
  if [ ! -x "$root/.tools/bin/$tool" ]; then
    echo "make demo: $tool is missing; run 'make deps' first (it installs everything into .tools/bin)." >&2
    exit 1
  fi
done
if [ ! -x "$demo" ]; then
  echo "make demo: $demo was not built; run 'make build'." >&2
  exit 1
fi
exec "$demo"
