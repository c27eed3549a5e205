#!/bin/bash
# Issue 20, agents' catalogs: an agent whose guest runs ever new code lets
# go of the catalog rows no live counter names (capability COMPACT,
# docs/protocol.md) and renumbers the rest, and the coordinator follows.
# An agent on this host (its "guest" is the host), told to compact from
# 64 rows on, recorded system-wide at 1000 Hz while a loop runs `split`
# under a new name each time (a hard link: a new image to the agent, with
# its own rows), 20 ms of its CPU time each. Checked: the agent compacted
# and let rows go; the most it held is less than what it sent; every
# sample row of the agent's domain names a function of its own image (a
# renumbering off by one on either side would name another's); the code of
# its hottest functions is filed under the function it is of; every run of
# split is in the session under its own name, with the time it says it
# took. About 25 s.
. "$(dirname "$0")/lib.sh"
need_root

"$DOMPROF" keygen "$T/key" >/dev/null 2>&1 || fail "keygen failed"
PORT=$(free_port)
"$DOMPROF" agent --listen "tcp:127.0.0.1:$PORT" --key "$T/key" --compact-rows 64 >"$T/agent.out" 2>"$T/agent.log" &
agent=$!
BG_PIDS="$BG_PIDS $agent"
wait_for "$T/agent.out" listening

DURATION=15
"$DOMPROF" record -q -a -e cpu-clock -F 1000 -d $DURATION -o "$T/c.db" --key "$T/key" \
	--agent g="tcp:127.0.0.1:$PORT" >"$T/record.out" 2>&1 &
rec=$!
BG_PIDS="$BG_PIDS $rec"
wait_recording "$T/c.db"
mkdir "$T/bin"
bash -c "end=\$((SECONDS + $DURATION - 4)); i=0; while [ \$SECONDS -lt \$end ]; do i=\$((i + 1)); \
	ln -f '$WORKLOADS/split' '$T/bin/split-'\$i; '$T/bin/split-'\$i -c 0.02 | sed 's/^/split-'\$i' /'; done" \
	>"$T/churn.out" 2>&1
wait "$rec" || fail "record failed: $(cat "$T/record.out")"
cp "$T/record.out" "$T/agent.log" "$T/churn.out" "$ARTIFACTS/"
kill -0 "$agent" || fail "the agent died: $(tail -5 "$T/agent.log")"

python3 - "$T/c.db" "$T/agent.log" "$T/churn.out" <<'PY'
import re, sqlite3, sys
from truth import close, note, sampled_time_tol
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
meta = db.execute("SELECT value FROM meta WHERE key = 'agent.g'").fetchone()[0]
assert "state=complete" in meta, f"the agent's part is not complete: {meta}"
compacted = int(re.search(r"compacted=(\d+)", meta).group(1))

# The agent's own account of its compactions: kept of held, each time.
held = [(int(k), int(n)) for k, n in re.findall(r"catalog compacted: (\d+) of (\d+) rows kept", open(sys.argv[2]).read())]
assert held, "the agent never compacted its catalog"
assert compacted > 0, f"the coordinator was told of no row let go ({len(held)} compactions: {held[:5]})"
let_go = sum(n - k for k, n in held)
assert let_go == compacted, f"the agent let {let_go} rows go, the coordinator heard of {compacted}"
most = max(n for _, n in held)
sent = held[-1][0] + let_go
assert most < sent, f"the agent held up to {most} rows and sent {sent} in all: it let nothing go for good"
note(f"{len(held)} compactions let {let_go} rows go; the agent held at most {most} rows of the {sent} it sent")

# Every row of the agent's names a function of its own image: the
# agent's and the host's renumbering agree.
bad = db.execute(
    "SELECT count(*), coalesce(min(i.path || ' / ' || y.name || ' / ' || j.path), '') FROM samples s "
    "JOIN domains d ON d.id = s.domain_id JOIN symbols y ON y.id = s.symbol_id "
    "JOIN images i ON i.id = s.image_id JOIN images j ON j.id = y.image_id "
    "WHERE d.name = 'g' AND s.origin = 'agent' AND y.image_id != s.image_id").fetchone()
assert bad[0] == 0, f"{bad[0]} rows of the agent name a function of another image: {bad[1]}"

# The guest's hottest functions' code (CODE, after the last DATA) is
# each of the function it is filed under: the same address.
code, wrong = db.execute(
    "SELECT count(*), coalesce(sum(c.address != y.address), 0) FROM symbol_code c "
    "JOIN symbols y ON y.id = c.symbol_id JOIN images i ON i.id = y.image_id "
    "JOIN domains d ON d.id = i.domain_id WHERE d.name = 'g'").fetchone()
assert wrong == 0, f"{wrong} of the agent's {code} functions' code is filed under another function"
note(f"the code of {code} of the agent's functions, each under its own")

# Every run of split, under its own name, with its own CPU time.
runs = {}
for line in open(sys.argv[3]):
    m = re.match(r"(split-\d+) split cpu-ns: pid=(\d+) .*total=(\d+)", line)
    if m:
        runs[m.group(1)] = int(m.group(3))
assert len(runs) >= 20, f"only {len(runs)} runs of split completed"
got = dict(db.execute(
    "SELECT substr(i.path, instr(i.path, 'split-')), sum(s.period) FROM samples s "
    "JOIN domains d ON d.id = s.domain_id JOIN images i ON i.id = s.image_id "
    "WHERE d.name = 'g' AND s.origin = 'agent' AND i.path LIKE '%/bin/split-%' "
    "AND s.symbol_id IN (SELECT id FROM symbols WHERE name IN ('split_sixty', 'split_thirty', 'main')) "
    "GROUP BY i.path").fetchall())
missing = [r for r in runs if r not in got]
assert len(missing) <= len(runs) // 10, f"{len(missing)} of {len(runs)} runs are not in the session: {missing[:5]}"
ev = db.execute("SELECT samples, period FROM events LIMIT 1").fetchone()
period = ev[1] / max(ev[0], 1)
truth = sum(runs.values()) * 0.9  # split_sixty and split_thirty: 90% of its work
close(f"the {len(runs)} runs' time in their own functions under the agent's domain against their own account",
      sum(got.get(r, 0) for r in runs), truth, sampled_time_tol(truth, period) + 0.15 * truth, " ms", 1e6)
PY
[ $? -eq 0 ] || fail "the compacting agent's session (see above)"
echo "ok: the agent let go of catalog rows no counter named; every run of the churn under its own name"
