#!/usr/bin/env bash
# The cost of the mobile boundary (docs/performance.md, "Mobile boundary"): record_visit,
# caseload and today_list called from Rust (the core directly), from Kotlin (JVM + JNA) and from
# Swift (Linux Swift, -c release), all against the release build of the same library, in ROUNDS
# interleaved rounds (default 3). The today list's day is DOORSTEP_DAY_VISITS visits (default 40)
# over DOORSTEP_DAY_PEOPLE people with care plans (default 350), as in core/benches/day.rs.
# Prints every round's medians, then the median of the rounds' medians and the ratio of each
# language's median to Rust's. Takes a few minutes once things are built.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
export DOORSTEP_DAY_PEOPLE="${DOORSTEP_DAY_PEOPLE:-350}" DOORSTEP_DAY_VISITS="${DOORSTEP_DAY_VISITS:-40}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
. scripts/setup-rust.sh
bash scripts/setup-jvm.sh
bash scripts/setup-swift.sh >/dev/null

echo "== building (release library, Rust bench, Kotlin bench, Swift bench)"
lib=$(scripts/bindings.sh --release)
libdir=$(dirname "$lib")
cargo bench --locked -q -p doorstep-ffi --bench boundary --no-run 2>/dev/null
(cd android && mvn -B -q -ntp test-compile -Ddoorstep.lib.dir="$libdir" >/dev/null)
(cd ios && bash ../scripts/setup-swift.sh run env DOORSTEP_LIB_DIR="$libdir" \
  swift build -c release --product BoundaryBench >/dev/null)

for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r"
  cargo bench --locked -q -p doorstep-ffi --bench boundary 2>/dev/null | grep '^rust ' | tee -a "$out"
  (cd android && mvn -B -q -ntp -Dstyle.color=never exec:exec@bench -Ddoorstep.bench.lib.dir="$libdir") | sed 's/\x1b\[[0-9;]*m//g' | grep '^kotlin ' | tee -a "$out"
  # The chroot starts from an empty environment: pass the sizes in.
  (cd ios && bash ../scripts/setup-swift.sh run env LD_LIBRARY_PATH="$libdir" \
    DOORSTEP_DAY_PEOPLE="$DOORSTEP_DAY_PEOPLE" DOORSTEP_DAY_VISITS="$DOORSTEP_DAY_VISITS" .build/release/BoundaryBench) |
    grep '^swift ' | tee -a "$out"
done

echo "== median of $ROUNDS rounds' medians (µs), ratio to Rust calling the core" \
  "(today_list: $DOORSTEP_DAY_VISITS visits of $DOORSTEP_DAY_PEOPLE people)"
python3 - "$out" <<'PY'
import statistics, sys, collections
runs = collections.defaultdict(list)
size = {}
for line in open(sys.argv[1]):
    lang, api, op, med, *rest = line.split()
    runs[(lang, api, op)].append(float(med.split("=")[1]))
    size.update({(lang, op): f.split("=")[1] for f in rest if f.startswith("bytes=")})
base = {op: statistics.median(runs[("rust", "core", op)]) for op in ("record_visit", "caseload", "caseload_page", "today_list")}
order = {"record_visit": 0, "caseload": 1, "caseload_page": 2, "today_list": 3, "trivial_call": 4}
# Each round's ratio to that round's Rust median as well: the machine drifts between a fast and a
# slow state for seconds at a time, so a ratio within a round is steadier than one across them.
rust_rounds = {op: runs[("rust", "core", op)] for op in base}
def round_ratios(op, v):
    return ", ".join(f"{x / r:.2f}×" for x, r in zip(v, rust_rounds[op]))
print(f"| caller | API | operation | median µs | ratio to Rust | per round |")
print(f"|---|---|---|---:|---:|---|")
for (lang, api, op), v in sorted(runs.items(), key=lambda kv: (order.get(kv[0][2], 9), kv[0][0] != "rust", kv[0])):
    if op not in order:
        continue
    m = statistics.median(v)
    if op not in base:
        print(f"| {lang} | {api} | {op} | {m:.2f} | – | |")
    else:
        print(f"| {lang} | {api} | {op} | {m:.0f} | {m / base[op]:.2f}× | {round_ratios(op, v)} |")
# The Swift async layer against the generated call timed beside it, call for call.
pair = runs.get(("swift", "ffi", "today_list_paired"))
layer = runs.get(("swift", "async", "today_list"))
if pair and layer:
    print()
    print("Swift today_list, async layer ÷ generated call in the same loop, per round: " +
          ", ".join(f"{a / g:.2f}×" for a, g in zip(layer, pair)))
# Where a foreign today_list's extra time goes: the list serialised in Rust, decoded in each language.
print()
print(f"| side | step | median µs | bytes |")
print(f"|---|---|---:|---:|")
for (lang, api, op), v in sorted(runs.items()):
    if op in ("today_list_lower", "today_list_lift"):
        print(f"| {lang} | {op} | {statistics.median(v):.0f} | {size.get((lang, op), '?')} |")
PY
