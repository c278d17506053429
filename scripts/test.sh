#!/usr/bin/env bash
# Every test, on a fresh machine: installs what it needs, then runs the Rust tests, the HAPI FHIR
# validation of the FHIR export, and the Kotlin, Swift and Python tests of the bindings against
# the same core.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-rust.sh
start=$(date +%s)
# PostgreSQL server binaries: the PostgreSQL backend's tests start a private server with them.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "== Installing PostgreSQL (for the PostgreSQL backend tests)"
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
# openssl (the command): the TLS tests make a private CA with it.
if ! command -v openssl >/dev/null 2>&1; then
    echo "== Installing openssl (for the TLS tests)"
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl
fi
# Chromium and its WebDriver: the hub's screen is tested in a real headless browser.
if ! command -v chromedriver >/dev/null 2>&1; then
    echo "== Installing chromium and chromium-driver (for the hub's browser test)"
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
export DOORSTEP_PG_BIN="${DOORSTEP_PG_BIN:-$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")}"
timings=()
stage_start=$start
lap() { local now; now=$(date +%s); timings+=("$1: $((now - stage_start)) s"); stage_start=$now; }
logs="$PWD/target/test-logs"
mkdir -p "$logs"
# Run a command with its output in a log; show the summary lines, or the log's end on failure.
logged() { # log-name summary-regex command...
  local log="$logs/$1" pattern=$2
  shift 2
  if "$@" >"$log" 2>&1; then
    grep -E "$pattern" "$log" || true
  else
    tail -n 100 "$log"
    echo "== FAILED (full output in $log)"
    exit 1
  fi
}
# A JDK and Maven: the Kotlin library's tests and the FHIR validator (tests/fhir-validator).
bash scripts/setup-jvm.sh

echo "== Rust: unit, property, crash and cross-crate tests (the HAPI FHIR validation is its own stage below)"
cargo test --workspace --locked -- --skip hapi_
echo "== Benchmarks compile"
cargo build --benches --locked -p doorstep-core -p doorstep-cli
lap "Rust tests and benchmark builds"

# ---- FHIR (issue 15): every exported Bundle validated by HAPI FHIR 8.8.0 against FHIR R4 and
# UK Core 2.0.0 (../shared/fhir), offline; the test builds tests/fhir-validator with Maven.
echo "== FHIR: exported Bundles through the HAPI FHIR validator (R4 + UK Core 2.0.0, offline)"
logged fhir.log "^validated |exported bundles validated|^test result" \
  cargo test --locked -p doorstep-tests --test fhir -- --nocapture hapi_
lap "FHIR validation (HAPI, Maven build included)"

# ---- Mobile shells (issue 4): the same core through UniFFI, from Kotlin, Swift and Python.

echo "== Bindings: build libdoorstep_ffi.so and generate Kotlin, Swift and Python from it"
lib=$(scripts/bindings.sh)
libdir=$(dirname "$lib")
# The sync tests in every language start this `doorstep serve` on loopback.
cargo build --locked -q -p doorstep-cli --bin doorstep
export DOORSTEP_CLI="$libdir/doorstep"
cargo build --benches --locked -q -p doorstep-ffi
lap "bindings (library, generation, Rust boundary bench build)"

echo "== Kotlin: android/ with Maven, JUnit 5 on the JVM against $lib"
(cd android && logged kotlin.log "Tests run:|BUILD" mvn -B -ntp test -Ddoorstep.lib.dir="$libdir")
lap "Kotlin (mvn test)"

echo "== Swift: ios/ with XCTest on Linux Swift (Debian trixie chroot, cached in /var/cache)"
bash scripts/setup-swift.sh
(cd ios && logged swift.log "Executed [0-9]+ tests?, with|Build complete" \
  bash ../scripts/setup-swift.sh run env DOORSTEP_LIB_DIR="$libdir" LD_LIBRARY_PATH="$libdir" \
  DOORSTEP_CLI="$DOORSTEP_CLI" timeout 900 swift test)
lap "Swift (swift test)"

echo "== Python: smoke test of the generated module"
bash scripts/setup-python.sh
python3 -m pytest -q bindings/python/tests
lap "Python (pytest)"

printf '   %s\n' "${timings[@]}"
echo "== all tests passed in $(( $(date +%s) - start )) s"
