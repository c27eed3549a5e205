#!/bin/bash
# Issue 20: record --rotate writes a series of complete sessions named by
# their start time, --keep removes the oldest, SIGINT ends the last one
# complete; every session opens on its own, and the series read as one
# (report -i DIR) is the sum of its parts, row by row. Bad values are
# refused naming the input. About 20 s.
. "$(dirname "$0")/lib.sh"
need_root

# Bad values: a clear error naming the input, nothing recorded.
check_refused() {
	local want=$1
	shift
	if "$DOMPROF" record "$@" -o "$T/bad" -d 1 >"$T/bad.out" 2>&1; then
		fail "record $* was accepted"
	fi
	grep -qF -- "$want" "$T/bad.out" || fail "record $*: the error does not name '$want': $(cat "$T/bad.out")"
	[ ! -e "$T/bad" ] || fail "record $* left $T/bad behind"
}
check_refused "'10'" --rotate 10
check_refused "'0.5s'" --rotate 0.5s
check_refused "'10x'" --rotate 10x
check_refused "'0'" --rotate 10s --keep 0
check_refused "'many'" --rotate 10s --keep many
check_refused "--keep is only used with --rotate" --keep 3

# A rotation by time without -d: it runs until stopped. A session every
# 2 s, the 3 newest kept; SIGINT once three are complete.
"$DOMPROF" record -a -e cpu-clock -F 999 --rotate 2s --keep 3 -o "$T/series" >"$T/series.out" 2>&1 &
rec=$!
BG_PIDS="$BG_PIDS $rec"
for _ in $(seq 600); do
	ls "$T/series"/domprof-*.db >/dev/null 2>&1 && break
	sleep 0.1
done
"$WORKLOADS/split" 20 >/dev/null &
BG_PIDS="$BG_PIDS $!"
# Until three sessions are complete (a loaded machine flushes late, and
# a rotation waits for the flush), at most 60 s.
for _ in $(seq 600); do
	[ "$(grep -c "complete; recording into" "$T/series.out" || true)" -ge 3 ] && break
	sleep 0.1
done
sleep 0.5
kill -INT "$rec"
wait "$rec" || fail "record --rotate did not end cleanly on SIGINT: $(cat "$T/series.out")"
cp "$T/series.out" "$ARTIFACTS/"
rotations=$(grep -c "complete; recording into" "$T/series.out" || true)
[ "$rotations" -ge 3 ] || fail "only $rotations rotations of --rotate 2s in 60 s: $(cat "$T/series.out")"
ls "$T/series" >"$T/names"
python3 - "$T/names" "$rotations" <<'PY'
import re, sys
names = open(sys.argv[1]).read().split()
sessions = sorted(n for n in names if re.fullmatch(r"domprof-\d{8}-\d{6}(_\d+)?\.db", n))
assert names == sessions, f"other files than sessions: {names}"
# --keep 3: rotations + 1 sessions were written, the oldest removed.
assert len(sessions) == 3, f"--keep 3 kept {len(sessions)} of {int(sys.argv[2]) + 1}: {sessions}"
PY

# Each session on its own: complete, readable by every reader.
n=0
for f in "$T/series"/domprof-*.db; do
	n=$((n + 1))
	"$DOMPROF" report -i "$f" --format json --sort domain,layer,image,symbol >"$T/part-$n.json" ||
		fail "$f does not open on its own"
	"$DOMPROF" export -i "$f" --format folded -o "$T/part-$n.folded" >/dev/null 2>&1 || fail "$f does not export"
done
"$DOMPROF" report -i "$T/series" --format json --sort domain,layer,image,symbol >"$T/merged.json" ||
	fail "the series does not report as one"
"$DOMPROF" export -i "$T/series" --format folded -o "$T/merged.folded" >/dev/null 2>&1 ||
	fail "the series does not export as one"
"$DOMPROF" html -i "$T/series" -o "$T/merged.html" >/dev/null 2>&1 || fail "the series has no page"
"$DOMPROF" diff "$T/series" "$T/series/$(ls "$T/series" | head -1)" >/dev/null || fail "the series does not diff"
cp "$T/merged.json" "$ARTIFACTS/"
python3 - "$T" "$n" <<'PY'
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

# A rotation by size, with -d: each session ends at the first flush past
# 64 KiB; every one is complete.
"$DOMPROF" record -q -a -e cpu-clock -F 999 --rotate 64K -d 4 -o "$T/sized" >"$T/sized.out" 2>&1 ||
	fail "record --rotate 64K failed: $(cat "$T/sized.out")"
count=$(ls "$T/sized"/domprof-*.db | wc -l)
[ "$count" -ge 2 ] || fail "--rotate 64K wrote $count session(s) in 4 s"
for f in "$T/sized"/domprof-*.db; do
	"$DOMPROF" report -i "$f" --format json | python3 -c 'import json, sys; s = json.load(sys.stdin)["session"]; assert s["state"] == "complete", s' ||
		fail "$f is not a complete session"
done
