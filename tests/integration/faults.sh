#!/bin/bash
# Issue 8: faults, each a real scenario. The recorder killed with SIGKILL;
# a full disk; the coordinator killed mid-session; an agent that stops
# reading; truncated and corrupted sessions; not root.
# Figures are checked against the same run: when the recorder was killed
# (the session must cover all but its last flush interval, however slowly
# the recorder started), a busy program's own cpu-clock count (the session
# must hold its samples up to the last flush). Nothing here
# measures domprof's own speed: the sanitizer pass asserts all of it.
. "$(dirname "$0")/lib.sh"
need_root

# 1. kill -9 mid-recording: the session opens and holds all but the last second.
"$WORKLOADS/split" 60 >/dev/null &
load=$!
BG_PIDS="$BG_PIDS $load"
watch_start "$load"
"$DOMPROF" record -q -a -o "$T/killed.db" &
rec=$!
BG_PIDS="$BG_PIDS $rec"
wait_recording "$T/killed.db"
sleep 4.5
python3 -c 'import time; print(time.monotonic_ns())' >"$T/killed-at"
kill -KILL "$rec"
wait "$rec" 2>/dev/null || true
watch_stop
kill "$load" 2>/dev/null || true
"$DOMPROF" report -i "$T/killed.db" --format json --sort pid >"$T/killed.json" || fail "a killed recording does not report"
python3 - "$T/killed.json" "$(cat "$T/killed-at")" "$T/watch.jsonl" "$load" <<'PY'
import json, sys
from truth import Watch, close, note, sampled_time_tol
j = json.load(open(sys.argv[1]))
killed, w, pid = int(sys.argv[2]), Watch(sys.argv[3]), int(sys.argv[4])
s = j["session"]
assert s["state"] == "recording", s["state"]      # says it did not finish
t0, dur = int(s["start_ns"]), int(s["duration_ns"])  # written with each flush
# Flushes happen every second: the session covers the recording up to at
# most one interval before the kill (and a little: the flush in progress,
# 0.5 s allowed).
lived = killed - t0
note(f"killed {lived / 1e9:.2f} s after the start: the session covers {dur / 1e9:.2f} s")
assert lived - 1.5e9 <= dur <= lived, (dur, lived)
# What it holds of the busy program: its CPU time until the last flush
# (the session's duration is when the rings were last read for it).
got = sum(r["cpu-clock:period"] for r in j["rows"] if r["pid"] == pid)
ev = j["events"][0]
lo, hi = w.clock(pid, t0, t0 + dur)
close("split's time in the killed session against its CPU time until the last flush", got, (lo + hi) / 2,
      sampled_time_tol(hi, ev["period"] / max(ev["samples"], 1), ev["lost"]) + w.steal_allowance(pid, t0, t0 + dur)
      + (hi - lo) / 2, " ms", 1e6)
PY
"$DOMPROF" report -i "$T/killed.db" >/dev/null

# 2. Disk full: a clear error, and the session keeps what was flushed.
#    The disk fills while the recording runs, after its first flush was
#    seen committed (how big a flush is depends on what runs on the host
#    and how fast the recorder runs, so no size is guessed): a file takes
#    every free block of a file system the session lives on. Everything
#    seen in the session before the disk filled must still be there.
mkdir -p "$T/small"
if mount -t tmpfs -o size=64m tmpfs "$T/small" 2>/dev/null; then
	"$DOMPROF" record -a -g -F 4000 -d 60 -o "$T/small/full.db" -- "$WORKLOADS/calltree" 60 >"$T/full.out" 2>&1 &
	rec=$!
	BG_PIDS="$BG_PIDS $rec"
	wait_recording "$T/small/full.db"
	seen=$(python3 - "$T/small/full.db" <<'PY'
import sqlite3, sys, time
for _ in range(300):
    try:
        db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=1)
        n = db.execute("SELECT samples FROM events ORDER BY id LIMIT 1").fetchone()
        db.close()
        if n and n[0] > 0:
            print(n[0])
            sys.exit(0)
    except sqlite3.Error:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
) || fail "no flush was committed within 30 s"
	dd if=/dev/zero of="$T/small/filler" bs=64k 2>/dev/null || true
	note "disk full: the file system filled after a flush with $seen samples"
	set +e
	wait "$rec"
	rc=$?
	set -e
	cp "$T/full.out" "$ARTIFACTS/"
	rm -f "$T/small/filler"
	cp "$T/small/full.db"* "$T/" 2>/dev/null || true
	umount "$T/small"
	[ "$rc" -ne 0 ] || fail "record did not fail on a full disk"
	grep -q "disk is full" "$T/full.out" || fail "no clear disk-full message: $(cat "$T/full.out")"
	grep -q "keeps everything up to the last flush" "$T/full.out" || fail "no word about what was kept"
	"$DOMPROF" report -i "$T/full.db" --format json >"$T/full.json" || fail "the session on the full disk is unreadable"
	python3 -c "import json,sys; j=json.load(open(sys.argv[1])); n=j['events'][0]['samples']; print(f'# disk full: {n} samples kept, {sys.argv[2]} seen before the disk filled'); assert n >= int(sys.argv[2]) > 0" "$T/full.json" "$seen"
else
	note "cannot mount a tmpfs here: disk-full case not run"
fi

# 3. The coordinator killed mid-session: the agent returns to listening and
#    serves the next session. 4. An agent that stops reading does not block
#    the recording of the other domains. Agents run on this host here.
"$DOMPROF" keygen "$T/key" >/dev/null 2>&1
PA=$(free_port)
PB=$(free_port)
"$DOMPROF" agent --listen "tcp:127.0.0.1:$PA" --key "$T/key" >"$T/agent-a.out" 2>"$T/agent-a.log" &
agent_a=$!
"$DOMPROF" agent --listen "tcp:127.0.0.1:$PB" --key "$T/key" >"$T/agent-b.out" 2>"$T/agent-b.log" &
agent_b=$!
BG_PIDS="$BG_PIDS $agent_a $agent_b"
sleep 0.5
"$DOMPROF" record -q -a -d 20 -o "$T/coord1.db" --agent a="tcp:127.0.0.1:$PA" --key "$T/key" &
coord=$!
BG_PIDS="$BG_PIDS $coord"
wait_recording "$T/coord1.db"
sleep 1
kill -KILL "$coord"
wait "$coord" 2>/dev/null || true
sleep 2
kill -0 "$agent_a" || fail "the agent died with its coordinator"
"$DOMPROF" record -q -a -d 2 -o "$T/coord2.db" --agent a="tcp:127.0.0.1:$PA" --key "$T/key" ||
	fail "the agent did not serve the next session: $(tail -5 "$T/agent-a.log")"
sqlite3 "$T/coord2.db" "SELECT complete FROM domains WHERE name='a'" | grep -qx 1 || fail "second session incomplete"
note "agent served the next session after its coordinator was killed"

"$WORKLOADS/split" 60 >/dev/null &
load=$!
BG_PIDS="$BG_PIDS $load"
watch_start "$load"
start=$(date +%s)
"$DOMPROF" record -a -d 6 -o "$T/slow.db" --agent a="tcp:127.0.0.1:$PA" --agent b="tcp:127.0.0.1:$PB" \
	--key "$T/key" >"$T/slow.out" 2>&1 &
rec=$!
BG_PIDS="$BG_PIDS $rec"
wait_recording "$T/slow.db"
sleep 1
kill -STOP "$agent_b"
wait "$rec" || fail "record failed with a stalled agent: $(cat "$T/slow.out")"
kill -CONT "$agent_b"
took=$(( $(date +%s) - start ))
watch_stop
kill "$load" 2>/dev/null || true
cp "$T/slow.out" "$ARTIFACTS/"
[ "$took" -le 30 ] || fail "a stalled agent held the recording for $took s"
"$DOMPROF" report -i "$T/slow.db" --format json --sort domain,pid >"$T/slow.json"
python3 - "$T/slow.json" "$T/watch.jsonl" "$load" <<'PY'
import json, sys
from truth import Watch, close, note, sampled_time_tol
j = json.load(open(sys.argv[1]))
w, pid = Watch(sys.argv[2]), int(sys.argv[3])
d = {x["name"]: x for x in j["domains"]}
assert d["a"]["complete"] and not d["b"]["complete"], (d["a"]["complete"], d["b"]["complete"])
# Both the host and agent a (an agent on this very host, sampling it from
# its own start, skew after the host's, to the stop) saw the busy program
# for as long as the scheduler ran it.
s, ev = j["session"], j["events"][0]
t0, t1 = int(s["start_ns"]), int(s["stop_ns"])
period = ev["period"] / max(ev["samples"], 1)
for name, start in (("host", t0), ("a", t0 + max(0, d["a"]["start_skew_ns"]))):
    got = sum(r["cpu-clock:period"] for r in j["rows"] if r["domain"] == name and r["pid"] == pid)
    lo, hi = w.clock(pid, start, t1)
    close(f"the busy program in {name}'s view against its CPU time", got, (lo + hi) / 2,
          sampled_time_tol(hi, period, ev["lost"]) + w.steal_allowance(pid, t0, t1) + (hi - lo) / 2, " ms", 1e6)
note(f"stalled agent b: incomplete ({d['b']['note']})")
PY

# 5. Truncated and corrupted sessions: an error and a non-zero exit, never a crash.
"$DOMPROF" record -q -g -o "$T/good.db" -- "$WORKLOADS/calltree" 1 >/dev/null
size=$(stat -c %s "$T/good.db")
python3 - "$T/good.db" "$T" <<'PY'
import os, random, sys
src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
random.seed(7)
for i, cut in enumerate([0, 50, 100, 512, 4096, len(data) // 3, len(data) // 2, len(data) - 100]):
    open(os.path.join(out, f"trunc-{i}.db"), "wb").write(data[:cut])
for i in range(12):
    b = bytearray(data)
    for _ in range(1 + i * 4):
        b[random.randrange(len(b))] ^= 1 << random.randrange(8)
    open(os.path.join(out, f"flip-{i}.db"), "wb").write(bytes(b))
PY
for f in "$T"/trunc-*.db "$T"/flip-*.db; do
	for cmd in "report" "report --children" "report --format json" "annotate tree_c" "export --format folded" "html -o $T/x.html"; do
		set +e
		# shellcheck disable=SC2086
		"$DOMPROF" $cmd -i "$f" >/dev/null 2>"$T/err"
		rc=$?
		set -e
		[ "$rc" -lt 128 ] || fail "domprof $cmd on $(basename "$f") died with signal $((rc - 128))"
		if [ "$rc" -ne 0 ] && [ ! -s "$T/err" ]; then fail "domprof $cmd on $(basename "$f") failed silently"; fi
	done
done
"$DOMPROF" report -i "$T/trunc-1.db" 2>&1 | grep -q "not a domprof session\|damaged\|cannot" || fail "unclear error for a truncated session"
note "truncated and corrupted sessions: errors, no crash ($size-byte session)"

# ... and truncated or corrupted perf.data files, through `domprof import`.
if command -v perf >/dev/null && perf record -q -B -e cpu-clock -o "$T/good.data" -- "$WORKLOADS/split" 0.5 >/dev/null 2>&1; then
	python3 - "$T/good.data" "$T" <<'PY'
import os, random, sys
data = open(sys.argv[1], "rb").read()
random.seed(11)
for i, cut in enumerate([0, 8, 100, 104, 500, len(data) // 2, len(data) - 8]):
    open(os.path.join(sys.argv[2], f"trunc-{i}.data"), "wb").write(data[:cut])
for i in range(10):
    b = bytearray(data)
    for _ in range(1 + i * 3):
        b[random.randrange(len(b))] ^= 1 << random.randrange(8)
    open(os.path.join(sys.argv[2], f"flip-{i}.data"), "wb").write(bytes(b))
PY
	for f in "$T"/trunc-*.data "$T"/flip-*.data; do
		set +e
		"$DOMPROF" import -q "$f" -o "$T/imported.db" >/dev/null 2>"$T/err"
		rc=$?
		set -e
		[ "$rc" -lt 128 ] || fail "domprof import of $(basename "$f") died with signal $((rc - 128))"
		if [ "$rc" -ne 0 ] && [ ! -s "$T/err" ]; then fail "import of $(basename "$f") failed silently"; fi
		rm -f "$T/imported.db" "$T/imported.db.old"
	done
	"$DOMPROF" import "$T/trunc-3.data" -o "$T/imported.db" 2>&1 | grep -qi "perf.data\|truncated\|short\|not" ||
		fail "unclear error for a truncated perf.data"
	note "truncated and corrupted perf.data files: errors, no crash"
else
	note "perf is not installed or does not work here: no perf.data to corrupt"
fi

# 6. Not root, with perf_event_paranoid too strict: say which setting or capability.
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ "$paranoid" -ge 1 ] && command -v setpriv >/dev/null; then
	set +e
	setpriv --reuid=65534 --regid=65534 --clear-groups "$DOMPROF" record -a -d 1 -o "/tmp/domprof-nobody-$RUN_TAG.db" >"$T/nobody.out" 2>&1
	rc=$?
	set -e
	rm -f "/tmp/domprof-nobody-$RUN_TAG.db"
	[ "$rc" -ne 0 ] || fail "an unprivileged system-wide recording succeeded with perf_event_paranoid=$paranoid"
	grep -q "perf_event_paranoid" "$T/nobody.out" && grep -q "CAP_PERFMON" "$T/nobody.out" ||
		fail "the permission error does not say what is needed: $(cat "$T/nobody.out")"
	note "not root: $(head -1 "$T/nobody.out")"
else
	note "perf_event_paranoid=$paranoid allows unprivileged profiling here: not-root case not run"
fi
echo ok
