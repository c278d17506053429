#!/usr/bin/env bash
# Make sure python3 and pytest are present for the Python bindings' smoke test. Idempotent.
set -euo pipefail
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pytest --version >/dev/null 2>&1; then
  echo "== installing python3 and pytest (for the Python bindings' smoke test)"
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pytest >/dev/null
fi
