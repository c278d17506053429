#!/usr/bin/env bash
# Make sure a Rust toolchain and the C toolchain SQLCipher's vendored OpenSSL needs are present.
# Idempotent: does nothing on a machine that has them.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "cargo not found: install Rust with rustup (https://rustup.rs) or your distribution's packages" >&2
    exit 1
  fi
fi
missing=()
for tool in cc make perl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing build tools: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential perl
fi
