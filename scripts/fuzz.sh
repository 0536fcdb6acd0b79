#!/usr/bin/env bash
# Builds the libFuzzer harnesses of Fuzz/ with AddressSanitizer and runs each on a copy of its
# committed seed corpus (Fuzz/Corpus/<harness>), so that the repository is never written to.
#
#   scripts/fuzz.sh [harness|all] [budget]
#
# budget: a number of executions (1000000) or seconds (60s); default 60s. Crashes, leaks and
# timeouts fail the run; the input that caused one is saved under .build/fuzz/<harness>/.
# Regenerate the seeds with: swift run --package-path Fuzz --scratch-path Fuzz/.build-seeds MakeSeeds Fuzz/Corpus
set -euo pipefail
cd "$(dirname "$0")/.."

all=(FuzzSafetensors FuzzCheckpoint FuzzCompressedModel FuzzCIFAR FuzzGzip FuzzTar)
harness=${1:-all}
budget=${2:-60s}
if [ "$harness" = all ]; then harnesses=("${all[@]}"); else harnesses=("$harness"); fi
case "$budget" in
  *s) limit=(-max_total_time="${budget%s}") ;;
  *) limit=(-runs="$budget") ;;
esac

# The largest input each harness makes: a CIFAR seed holds whole 3073-byte records, the
# checkpoint seeds are tiny models of about 10 KB.
max_len() {
  case "$1" in
    FuzzCheckpoint) echo 16384 ;;
    FuzzCIFAR|FuzzCompressedModel) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

for name in "${harnesses[@]}"; do
  echo "== building $name"
  # swiftc keeps only the last of several -sanitize flags, and `--sanitize fuzzer --sanitize
  # address` passes two in no fixed order: -Xswiftc adds one flag with both, after SwiftPM's.
  # --sanitize=fuzzer stays so that SwiftPM links libFuzzer's `main` as the entry point.
  # A failed build must stop the run: an older binary left in Fuzz/.build would fuzz old code.
  if ! log=$(swift build --package-path Fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address --product "$name" 2>&1); then
    echo "$log" | grep -E "error" >&2
    echo "fuzz.sh: $name did not build" >&2
    exit 1
  fi
  echo "$log" | grep -E "Build of product" || true
done

for name in "${harnesses[@]}"; do
  artifacts=".build/fuzz/$name"
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  mkdir -p "$artifacts"
  cp Fuzz/Corpus/"$name"/* "$corpus"/
  echo "== $name: ${budget}"
  "Fuzz/.build/debug/$name" "$corpus" "${limit[@]}" -max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 2>&1 \
    | grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written|INFO: Running with entropic)|ERROR|leak|timeout|deadly' || true
  status=${PIPESTATUS[0]}
  rm -rf "$corpus"
  trap - EXIT
  if [ "$status" -ne 0 ]; then echo "fuzz.sh: $name failed (exit $status); inputs in $artifacts" >&2; exit "$status"; fi
done
