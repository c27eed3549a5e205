#!/bin/bash
# Issue 20: record --rotate writes a series of complete sessions named by
# their start time, --keep removes the oldest, SIGINT ends the last one
# complete; every session opens on its own, and the series read as one
# (report -i DIR) is the sum of its parts, row by row; each session's
# catalog holds what it sampled, not what earlier ones did. Bad values are
# refused naming the input. About 30 s.
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
wait_for_session "$T/series"
"$WORKLOADS/split" 20 >/dev/null &
BG_PIDS="$BG_PIDS $!"
wait_for_rotations "$T/series.out" 3
sleep 0.5
kill -INT "$rec"
wait "$rec" || fail "record --rotate did not end cleanly on SIGINT: $(cat "$T/series.out")"
cp "$T/series.out" "$ARTIFACTS/"
ls "$T/series" >"$T/names"
python3 - "$T/names" "$(rotations "$T/series.out")" <<'PY'
import re, sys
names = open(sys.argv[1]).read().split()
sessions = sorted(n for n in names if re.fullmatch(r"domprof-\d{8}-\d{6}(_\d+)?\.db", n))
assert names == sessions, f"other files than sessions: {names}"
# --keep 3: rotations + 1 sessions were written, the oldest removed.
assert len(sessions) == 3, f"--keep 3 kept {len(sessions)} of {int(sys.argv[2]) + 1}: {sessions}"
PY

check_series "$T/series"

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

# The catalog does not outlive the sessions that sampled it: a program
# sampled only in the first sessions has no image row in a session that
# began after it exited; one sampled later has. Both are copies of split
# under their own names (distinct images).
cp "$WORKLOADS/split" "$T/first-program"
cp "$WORKLOADS/split" "$T/second-program"
"$DOMPROF" record -a -e cpu-clock -F 999 --rotate 2s -o "$T/catalog" >"$T/catalog.out" 2>&1 &
rec=$!
BG_PIDS="$BG_PIDS $rec"
wait_for_session "$T/catalog"
# 3 s: sampled even if the recorder's start (the session file comes
# first) takes a while.
"$T/first-program" 3 >/dev/null || fail "first-program failed"
# Two more rotations: a whole session begins after first-program exited.
wait_for_rotations "$T/catalog.out" $(($(rotations "$T/catalog.out") + 2))
# Running through the whole last session: SIGINT a second after a
# rotation that came while it ran (the next is 2 s after that one).
"$T/second-program" 60 >/dev/null &
second=$!
BG_PIDS="$BG_PIDS $second"
wait_for_rotations "$T/catalog.out" $(($(rotations "$T/catalog.out") + 1))
sleep 1
kill -INT "$rec"
wait "$rec" || fail "record --rotate did not end cleanly on SIGINT: $(cat "$T/catalog.out")"
kill "$second" 2>/dev/null
python3 - "$T/catalog" <<'PY' || fail "the catalog of a rotated session is not its own (see above)"
import glob, sqlite3, sys
from truth import note
sessions = sorted(glob.glob(sys.argv[1] + "/domprof-*.db"))
def images(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    return {p for (p,) in db.execute("SELECT path FROM images")}, \
        db.execute("SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM symbols)").fetchone()
first = [i for i, s in enumerate(sessions) if any(p.endswith("/first-program") for p in images(s)[0])]
assert first, f"first-program is in no session of {len(sessions)}"
last, counts = images(sessions[-1])
assert any(p.endswith("/second-program") for p in last), f"second-program is not in the last session: {sorted(last)}"
assert not any(p.endswith("/first-program") for p in last), \
    f"the last of {len(sessions)} sessions still holds first-program (sampled in sessions {first} only)"
note(f"{len(sessions)} sessions: first-program in sessions {first} only; the last holds {counts[0]} images, "
     f"{counts[1]} symbols")
PY
check_series "$T/catalog"

# With an agent: an agent on this host (its "guest" is the host) recorded
# with --rotate 2s for 7 s while split runs. Each session holds what the
# agent sent in its own span: the agent's rows in the session add up to
# the count the coordinator applied in that span (meta agent.g samples=N,
# exact), every one names a thread row of the session, the agent is
# "recording" at the end of every session but the last ("complete"), and
# the series is the sum of its sessions, row by row.
"$DOMPROF" keygen "$T/key" >/dev/null 2>&1 || fail "keygen failed"
PORT=$(free_port)
"$DOMPROF" agent --listen "tcp:127.0.0.1:$PORT" --key "$T/key" >"$T/agent.out" 2>"$T/agent.log" &
BG_PIDS="$BG_PIDS $!"
wait_for "$T/agent.out" listening
"$WORKLOADS/split" 20 >/dev/null &
split=$!
BG_PIDS="$BG_PIDS $split"
"$DOMPROF" record -a -e cpu-clock -F 999 --rotate 2s -d 7 -o "$T/agents" --key "$T/key" \
	--agent g="tcp:127.0.0.1:$PORT" >"$T/agents.out" 2>&1 || fail "record --rotate --agent failed: $(cat "$T/agents.out")"
kill "$split" 2>/dev/null
cp "$T/agents.out" "$ARTIFACTS/"
python3 - "$T/agents" <<'PY' || fail "the agent's rows are not split by session (see above)"
import glob, re, sqlite3, sys
from truth import note
sessions = sorted(glob.glob(sys.argv[1] + "/domprof-*.db"))
assert len(sessions) >= 3, f"--rotate 2s -d 7 wrote {len(sessions)} sessions"
total = 0
for i, path in enumerate(sessions):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    meta = db.execute("SELECT value FROM meta WHERE key = 'agent.g'").fetchone()
    assert meta, f"{path}: no agent.g meta"
    state = re.search(r"state=(\w+)", meta[0]).group(1)
    sent = int(re.search(r"samples=(\d+)", meta[0]).group(1))
    want = "complete" if i == len(sessions) - 1 else "recording"
    assert state == want, f"{path}: agent state {state}, want {want}: {meta[0]}"
    rows = db.execute("SELECT coalesce(sum(s.count), 0) FROM samples s JOIN domains d ON d.id = s.domain_id "
                      "WHERE d.name = 'g' AND s.origin = 'agent'").fetchone()[0]
    assert rows == sent, f"{path}: the agent's rows count {rows} samples, the coordinator applied {sent}"
    assert sent > 0, f"{path}: nothing from the agent in this session"
    dangling = db.execute("SELECT count(*) FROM samples s JOIN domains d ON d.id = s.domain_id "
                          "WHERE d.name = 'g' AND s.thread_id IS NOT NULL AND s.thread_id NOT IN "
                          "(SELECT id FROM threads WHERE domain_id = d.id)").fetchone()[0]
    assert dangling == 0, f"{path}: {dangling} of the agent's rows name a thread the session does not hold"
    total += sent
note(f"{len(sessions)} sessions with an agent: {total} samples from it, each session's rows = its own span's")
PY
check_series "$T/agents"
echo "ok: rotation by time and by size, --keep, and with an agent: complete sessions whose merge is their sum"
