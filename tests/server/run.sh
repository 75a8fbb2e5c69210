#!/usr/bin/env bash
# End-to-end tests of `edgevl serve` (registered with ctest as server_e2e). Installs the
# pinned npm packages on first use, then runs every test/*.test.mjs with node's runner.
# Env: EDGEVL_BIN (default build/bin/edgevl), EDGEVL_FIXTURES (default ../shared/fixtures),
# CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "run.sh: '$tool' not found; bash scripts/setup.sh installs it" >&2; exit 1; }
done
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi
args=(--test)
# One file at a time where node can be told so (>= 20.10): each file starts its own
# server, and the timing bounds assume they do not compete for the cores.
if node --help 2>/dev/null | grep -q -- --test-concurrency; then args+=(--test-concurrency=1); fi
exec node "${args[@]}" test/*.test.mjs
