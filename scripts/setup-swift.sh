#!/usr/bin/env bash
# Linux Swift for the iOS package's tests: Debian trixie's `swiftlang` (Swift 6) in a debootstrap
# chroot, because the host's glibc is too old for it. Idempotent: the chroot is cached outside the
# clone (default /var/cache/doorstep-swift/trixie; override with DOORSTEP_SWIFT_ROOT) and reused.
#
#   scripts/setup-swift.sh                 # make the chroot if it is missing
#   scripts/setup-swift.sh run CMD...      # run CMD inside it, in this repository (same path)
#
# `run` mounts /proc, /dev and the repository into the chroot for the command and unmounts them
# on exit (also on failure or Ctrl-C). Needs root, like debootstrap and chroot.
set -euo pipefail
ROOT="${DOORSTEP_SWIFT_ROOT:-/var/cache/doorstep-swift/trixie}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SWIFT_BIN=/usr/libexec/swift/bin

# The Debian mirror apt already uses on this machine (no host name written here).
debian_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { echo "no Debian mirror found in /etc/apt/sources.list.d/debian.sources" >&2; exit 1; }
  echo "$m"
}

# What the chroot must hold; changing this list re-provisions an existing chroot.
PACKAGES="swiftlang libc6-dev ca-certificates"

ready() { [ "$(cat "$ROOT/.doorstep-ready" 2>/dev/null)" = "$PACKAGES" ] && [ -x "$ROOT$SWIFT_BIN/swift" ]; }

create() {
  if [ "$(id -u)" -ne 0 ]; then echo "setup-swift.sh needs root (debootstrap, chroot)" >&2; exit 1; fi
  local log
  log="$(dirname "$ROOT")/setup.log"
  mkdir -p "$(dirname "$ROOT")"
  if [ ! -f "$ROOT/.debootstrapped" ]; then
    command -v debootstrap >/dev/null 2>&1 || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    local mirror partial="$ROOT.partial"
    mirror=$(debian_mirror)
    echo "== Swift: making a Debian trixie chroot in $ROOT from $mirror (once; about a minute)"
    umount_all "$partial"
    rm -rf "$partial"
    debootstrap --variant=minbase trixie "$partial" "$mirror" >"$log" 2>&1 || {
      tail -20 "$log" >&2; exit 1; }
    touch "$partial/.debootstrapped"
    umount_all "$ROOT"
    rm -rf "$ROOT"
    mv "$partial" "$ROOT"
  fi
  echo "== Swift: installing $PACKAGES in the chroot (once; about 600 MB)"
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  trap 'umount_all "$ROOT"' EXIT
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  { chroot "$ROOT" apt-get update -qq &&
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES &&
    chroot "$ROOT" apt-get clean; } >>"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
  umount_all "$ROOT"
  trap - EXIT
  echo "$PACKAGES" >"$ROOT/.doorstep-ready"
}

# Unmount everything we may have mounted under a chroot, innermost first.
umount_all() {
  local r="$1" m
  [ -d "$r" ] || return 0
  for m in $(awk -v r="$r" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

MOUNTED=()
unmount_ours() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTED[i]}" 2>/dev/null || true; done
  MOUNTED=()
}

run() {
  ready || create
  # One run at a time: a second run would find /proc and /dev mounted, skip them, and lose them
  # when the first run unmounts what it mounted. The lock is released when this shell exits.
  exec 9>"$ROOT.run-lock"
  flock 9
  trap unmount_ours EXIT
  trap 'exit 130' INT TERM
  if ! mountpoint -q "$ROOT/proc"; then mount -t proc proc "$ROOT/proc"; MOUNTED+=("$ROOT/proc"); fi
  if ! mountpoint -q "$ROOT/dev"; then mount --bind /dev "$ROOT/dev"; MOUNTED+=("$ROOT/dev"); fi
  mkdir -p "$ROOT$REPO"
  if ! mountpoint -q "$ROOT$REPO"; then mount --bind "$REPO" "$ROOT$REPO"; MOUNTED+=("$ROOT$REPO"); fi
  local status=0
  chroot "$ROOT" env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH="$SWIFT_BIN:/usr/local/bin:/usr/bin:/bin" \
    ${LD_LIBRARY_PATH:+LD_LIBRARY_PATH="$LD_LIBRARY_PATH"} \
    bash -c 'cd "$1" && shift && exec "$@"' run "$PWD" "$@" || status=$?
  unmount_ours
  return $status
}

case "${1:-}" in
  run) shift; run "$@" ;;
  "") ready || create; echo "Swift ready in $ROOT: $("$0" run swift --version 2>&1 | head -1)" ;;
  *) echo "usage: $0 [run CMD...]" >&2; exit 2 ;;
esac
