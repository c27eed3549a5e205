# Shared by the integration tests (sourced). Exit 77 = skipped (Meson).
# What each test asserts, against which truth, and what is skipped when:
# docs/testing.md. The Python side of the truths (workload accounts,
# runtime watching, tolerances) is truth.py, importable from every test.
set -eu
: "${DOMPROF:?DOMPROF must point at the domprof binary}"
: "${WORKLOADS:?WORKLOADS must point at the built test workloads}"
: "${SOURCE_ROOT:?}"
: "${BUILD_ROOT:?}"

export PYTHONPATH="$SOURCE_ROOT/tests/integration${PYTHONPATH:+:$PYTHONPATH}"
TEST_NAME=$(basename "$0" .sh)
# A tag unique to this run, for the names of VMs and other host-wide
# objects: other test runs (another checkout, another user) may run VMs on
# this host at the same time, and a VM's name is what domprof reports.
RUN_TAG=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
T=$(mktemp -d "/tmp/domprof-it-$TEST_NAME-XXXXXX")
ARTIFACTS="$BUILD_ROOT/test-artifacts/$TEST_NAME"
mkdir -p "$ARTIFACTS"
BG_PIDS=""

cleanup() {
	for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	# Every VM this test started (start_vm runs in a subshell: the state
	# directory, not a variable, knows them).
	for f in "$T"/vmstate/*.pid; do
		[ -e "$f" ] || continue
		"$SOURCE_ROOT/vm/launch" stop "$(basename "$f" .pid)" --state "$T/vmstate" >/dev/null 2>&1 || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "# $*" >&2; }

need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (system-wide perf events)"; }
need_perf() {
	command -v perf >/dev/null || skip "perf is not installed (Debian: linux-perf, scripts/deps)"
	perf record -q -e cpu-clock -o "$T/perf-probe.data" -- true >/dev/null 2>"$T/perf-probe.err" ||
		skip "perf record does not work here: $(head -c 300 "$T/perf-probe.err")"
}

# sanitized: true when the domprof under test is built with the sanitizers
# (Meson sets DOMPROF_TEST_SANITIZED from b_sanitize; scripts/check sets it
# for its sanitizer pass). Instrumentation makes domprof itself several
# times slower, and a guest image built from that build carries the slow
# agent: figures that measure domprof's own speed (how soon an agent starts,
# how much an agent samples before its VM dies) are then not asserted; every
# functional assertion and every comparison with a same-run truth still is.
# Each test says which of its assertions it skips, and why.
sanitized() { [ "${DOMPROF_TEST_SANITIZED:-0}" = 1 ]; }
export DOMPROF_TEST_SANITIZED="${DOMPROF_TEST_SANITIZED:-0}"

# watch_start PID...: poll the scheduler's runtime of every thread of the
# PIDs (and /proc/stat) in the background into $T/watch.jsonl, for truth.py's
# Watch; watch_stop ends it, after two more polls (so the polls bracket the
# end of whatever the test measured just before).
watch_start() {
	python3 "$SOURCE_ROOT/tests/integration/truth.py" watch "$T/watch.jsonl" "$@" &
	WATCH_PID=$!
	BG_PIDS="$BG_PIDS $WATCH_PID"
	local i
	for i in $(seq 200); do
		[ "$( (wc -l <"$T/watch.jsonl") 2>/dev/null || echo 0)" -ge 2 ] && return 0
		sleep 0.05
	done
	fail "the runtime watcher did not start"
}
watch_stop() {
	sleep 0.1
	kill "$WATCH_PID" 2>/dev/null || true
	wait "$WATCH_PID" 2>/dev/null || true
}

# py EXPR-SCRIPT: run python3 with the given program text.
py() { python3 -c "$1"; }

# csv_value FILE KEYCOL KEYVAL COL: the value of column COL in the row
# whose KEYCOL equals KEYVAL (empty if none).
csv_value() {
	python3 - "$@" <<'PY'
import csv, sys
path, keycol, keyval, col = sys.argv[1:5]
with open(path) as f:
    for row in csv.DictReader(f):
        if row.get(keycol) == keyval:
            print(row[col]); break
PY
}

# wait_recording DB: wait until the recording writing DB has started (its
# session says state=recording), so what the test does next happens inside
# it, however long domprof takes to start.
wait_recording() {
	python3 - "$1" <<'PY' || fail "$1: the recording did not start within 60 s"
import sqlite3, sys, time
for _ in range(600):
    try:
        db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=1)
        if db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone() == ("recording",):
            sys.exit(0)
    except sqlite3.Error:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
}

# The guest image used by the VM tests: domprof itself, the workloads and
# iperf3, with their libraries, plus any extra vm/build-image arguments
# (e.g. --file KEY=/etc/domprof.key). Cached under the build directory.
GUEST_IMAGE="$BUILD_ROOT/vm/image"
build_guest_image() {
	local extra=""
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (scripts/deps)"
	for w in "$WORKLOADS"/guest-*; do [ -f "$w" ] && [ -x "$w" ] && extra="$extra --bin $w"; done
	# shellcheck disable=SC2086
	"$SOURCE_ROOT/vm/build-image" --out "$GUEST_IMAGE" --bin "$DOMPROF" --bin "$WORKLOADS/split" \
		--bin "$WORKLOADS/syscalls" --bin "$(command -v iperf3)" $extra "$@" >"$T/build-image.log" 2>&1 ||
		{ cat "$T/build-image.log" >&2; fail "vm/build-image failed"; }
}

# start_vm NAME [launch options] -- CMD: boot a VM in the background (torn
# down by cleanup), print its QEMU pid.
start_vm() {
	local name=$1
	shift
	"$SOURCE_ROOT/vm/launch" start --name "$name" --image "$GUEST_IMAGE" --state "$T/vmstate" --timeout 240 "$@"
}

# wait_for FILE TEXT: until FILE holds TEXT (10 s at most).
wait_for() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
}

# wait_for_session DIR: until a rotating recording's first session exists
# in DIR (at most 60 s).
wait_for_session() {
	for _ in $(seq 600); do
		ls "$1"/domprof-*.db >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "no session in $1 after 60 s"
}

# rotations LOG: the sessions a rotating recording's log says are complete.
rotations() {
	grep -c "complete; recording into" "$1" || true
}

# wait_for_rotations LOG N: until LOG says N sessions are complete (at most
# 60 s: a loaded machine flushes late, and a rotation waits for the flush).
wait_for_rotations() {
	for _ in $(seq 600); do
		[ "$(rotations "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "fewer than $2 rotations in 60 s: $(cat "$1")"
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# check_series DIR: each session on its own complete and readable by every
# reader, and the series read as one (report -i DIR) the sum of its parts,
# row by row.
check_series() {
	local dir=$1 n=0 f
	rm -f "$T"/part-*.json "$T"/part-*.folded
	for f in "$dir"/domprof-*.db; do
		n=$((n + 1))
		"$DOMPROF" report -i "$f" --format json --sort domain,layer,image,symbol >"$T/part-$n.json" ||
			fail "$f does not open on its own"
		"$DOMPROF" export -i "$f" --format folded -o "$T/part-$n.folded" >/dev/null 2>&1 || fail "$f does not export"
	done
	# Each session's catalog is whole: every id a row names is a row of
	# that session (a rotation renumbers the catalog).
	python3 - "$dir" <<'PY' || fail "a session of $dir names catalog rows it does not hold (see above)"
import glob, sqlite3, sys
refs = [("samples", "image_id", "images"), ("samples", "symbol_id", "symbols"), ("samples", "stack_id", "frames"),
        ("samples", "thread_id", "threads"), ("symbols", "image_id", "images"), ("frames", "parent_id", "frames"),
        ("frames", "image_id", "images"), ("frames", "symbol_id", "symbols"), ("symbol_code", "symbol_id", "symbols")]
for path in sorted(glob.glob(sys.argv[1] + "/domprof-*.db")):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    for table, column, target in refs:
        n = db.execute(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND {column} != 0 AND "
                       f"{column} NOT IN (SELECT id FROM {target})").fetchone()[0]
        assert n == 0, f"{path}: {n} rows of {table} name a {column} that {target} does not hold"
PY
	"$DOMPROF" report -i "$dir" --format json --sort domain,layer,image,symbol >"$T/merged.json" ||
		fail "the series $dir does not report as one"
	"$DOMPROF" export -i "$dir" --format folded -o "$T/merged.folded" >/dev/null 2>&1 ||
		fail "the series $dir does not export as one"
	"$DOMPROF" html -i "$dir" -o "$T/merged.html" >/dev/null 2>&1 || fail "the series $dir has no page"
	"$DOMPROF" diff "$dir" "$dir/$(ls "$dir" | head -1)" >/dev/null || fail "the series $dir does not diff"
	cp "$T/merged.json" "$ARTIFACTS/merged-$(basename "$dir").json"
	python3 - "$T" "$n" <<'PY' || fail "the series $dir is not the sum of its sessions (see above)"
import collections, json, sys
from truth import note
T, n = sys.argv[1], int(sys.argv[2])
def load(path):
    j = json.load(open(path))
    rows = collections.Counter()
    for r in j["rows"]:
        rows[(r["domain"], r["layer"], r["image"], r["symbol"])] += r["cpu-clock:samples"]
    return j, rows
parts = [load(f"{T}/part-{i}.json") for i in range(1, n + 1)]
for j, _ in parts:
    assert j["session"]["state"] == "complete", j["session"]   # the last one too: SIGINT ends it complete
merged, mrows = load(f"{T}/merged.json")
total = collections.Counter()
for _, rows in parts:
    total.update(rows)
# Row by row: every (domain, layer, image, function) of the merge is the
# sum of that row in its parts, and no row is missing or added.
assert mrows == total, ("merged rows differ from the sum of the parts",
                        {k: (mrows[k], total[k]) for k in set(mrows) | set(total) if mrows[k] != total[k]})
want = sum(j["events"][0]["samples"] for j, _ in parts)
assert merged["events"][0]["samples"] == want, (merged["events"][0]["samples"], want)
assert merged["session"]["merged_sessions"] == str(n), merged["session"]
note(f"{n} sessions, {sum(total.values())} samples in {len(total)} rows: the merge is their sum")
def folded(path):
    c = collections.Counter()
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        c[stack] += int(count)
    return c
ftotal = collections.Counter()
for i in range(1, n + 1):
    ftotal.update(folded(f"{T}/part-{i}.folded"))
assert folded(f"{T}/merged.folded") == ftotal, "the merged export is not the sum of the parts' exports"
PY
}
