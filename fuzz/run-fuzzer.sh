#!/bin/sh
# Run one libFuzzer target: replay the committed corpus (every regression
# input), then fuzz for FUZZ_SECONDS (default 20) from a scratch copy of it.
# A crash fails the test and leaves its input in WORK/crash-*: add it to
# fuzz/corpus/TARGET/ once fixed.
#   run-fuzzer.sh TARGET_BINARY CORPUS_DIR WORK_DIR
set -eu
bin=$1 corpus=$2 work=$3
seconds=${FUZZ_SECONDS:-20}
rm -rf "$work"
mkdir -p "$work/corpus"
[ -d "$corpus" ] && cp -r "$corpus/." "$work/corpus/" 2>/dev/null || true
cd "$work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# 1. every corpus input once
"$bin" -runs=0 corpus >replay.log 2>&1 || { tail -40 replay.log; echo "FAIL: a corpus input crashes $bin"; exit 1; }
# 2. fuzz
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	-artifact_prefix="$work/" corpus >fuzz.log 2>&1 || { tail -60 fuzz.log; echo "FAIL: $bin crashed; input in $work"; exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" fuzz.log || true
echo "ok: $(basename "$bin") ran ${seconds}s"
