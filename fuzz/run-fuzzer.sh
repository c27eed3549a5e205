#!/bin/sh
# Run one libFuzzer target: replay the committed corpus (every regression
# input), then fuzz for FUZZ_SECONDS (default 20) from a scratch copy of it.
# Every input the run finds stays in the committed corpus: the new ones that
# reach new code (new edges: libFuzzer's -merge=1 with -use_counters=0 keeps
# only those) are merged into it, and an input that crashes is copied there
# too, so that the replay keeps failing until the bug is fixed. FUZZ_MERGE=0
# leaves the corpus alone.
#   run-fuzzer.sh TARGET_BINARY CORPUS_DIR WORK_DIR
set -eu
bin=$1 corpus=$2 work=$3
seconds=${FUZZ_SECONDS:-20}
rm -rf "$work"
mkdir -p "$work/corpus" "$corpus"
cp -r "$corpus/." "$work/corpus/" 2>/dev/null || true
cd "$work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
keep_crashes() {
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -f "$f" ] || continue
		cp "$f" "$corpus/regress-$(basename "$f")"
		echo "kept $(basename "$f") in $corpus as regress-$(basename "$f"): fix it, then commit it"
	done
}
# 1. every corpus input once
"$bin" -runs=0 corpus >replay.log 2>&1 || { tail -40 replay.log; echo "FAIL: a corpus input crashes $bin"; exit 1; }
# 2. fuzz
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	-artifact_prefix="$work/" corpus >fuzz.log 2>&1 || {
	tail -60 fuzz.log
	keep_crashes
	echo "FAIL: $bin crashed; input in $work"
	exit 1
}
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" fuzz.log || true
# 3. what it found that reaches new code joins the committed corpus
if [ "${FUZZ_MERGE:-1}" != 0 ]; then
	before=$(ls "$corpus" | wc -l)
	"$bin" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 "$corpus" corpus >merge.log 2>&1 || {
		tail -20 merge.log
		echo "FAIL: merging the new inputs into $corpus"
		exit 1
	}
	echo "corpus $(basename "$corpus"): $before -> $(ls "$corpus" | wc -l) inputs (commit the new ones)"
fi
echo "ok: $(basename "$bin") ran ${seconds}s"
