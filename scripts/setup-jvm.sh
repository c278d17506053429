#!/usr/bin/env bash
# Make sure a JDK (17 or newer) and Maven are present for the Kotlin library (android/).
# Idempotent: does nothing on a machine that has them. Maven downloads the Kotlin compiler,
# JNA, coroutines and JUnit from Maven Central on first use (~100 MB, cached in ~/.m2).
set -euo pipefail
java_ok() {
  command -v javac >/dev/null 2>&1 || return 1
  local v
  v=$(javac -version 2>&1 | awk '{print $2}' | cut -d. -f1)
  [ "${v:-0}" -ge 17 ] 2>/dev/null
}
if ! java_ok || ! command -v mvn >/dev/null 2>&1; then
  echo "== installing a JDK and Maven (for the Kotlin library's tests)"
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi
