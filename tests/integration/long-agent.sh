#!/bin/bash
# Issue 20, agents: an agent's memory, and the coordinator's copy of what
# it sent, are bounded by what is alive in its guest (capability FORGET,
# docs/protocol.md). An agent on this host (its "guest" is the host) and a
# coordinator recording it at 2000 Hz while a loop starts short processes
# all the time (a `split` run of 10 ms of its own CPU time, which prints
# that time, then eight /bin/true): the agent forgets the exited ones (the
# session's meta counts them), and the session still holds every one of
# those processes under the agent's domain against their own account of
# their CPU time. The agent's RSS, read from /proc once a second, levels off.
# About 40 s.
. "$(dirname "$0")/lib.sh"
need_root

"$DOMPROF" keygen "$T/key" >/dev/null 2>&1 || fail "keygen failed"
PORT=$(free_port)
# Without MALLOC_PERTURB_ (meson sets it for every test): glibc then fills
# every block it hands out, so the unused part of each grown array is made
# resident, and the RSS no longer tells what the agent holds.
env -u MALLOC_PERTURB_ "$DOMPROF" agent --listen "tcp:127.0.0.1:$PORT" --key "$T/key" >"$T/agent.out" 2>"$T/agent.log" &
agent=$!
BG_PIDS="$BG_PIDS $agent"
wait_for "$T/agent.out" listening

DURATION=30
"$DOMPROF" record -q -a -e cpu-clock -F 2000 -d $DURATION -o "$T/long.db" --key "$T/key" \
	--agent g="tcp:127.0.0.1:$PORT" >"$T/record.out" 2>&1 &
rec=$!
BG_PIDS="$BG_PIDS $rec"
wait_recording "$T/long.db"
bash -c "end=\$((SECONDS + $DURATION - 4)); while [ \$SECONDS -lt \$end ]; do '$WORKLOADS/split' -c 0.01; \
	for i in 1 2 3 4 5 6 7 8; do /bin/true; done; done" >"$T/churn.out" 2>&1 &
churn=$!
BG_PIDS="$BG_PIDS $churn"

# Once a second while the recording runs: the agent's RSS, and in the
# session (flushed every second) the agent's domain's counters of the
# churned programs and of everything else on this host, and its images.
python3 - "$agent" "$rec" "$T/long.db" >"$T/rss.json" <<'PY'
import json, sys, time
from truth import rss_kib, session_row
agent, rec, db = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ROWS = ("SELECT coalesce(sum(t.comm IN ('split', 'true')), 0), count(*), "
        "(SELECT count(*) FROM images i JOIN domains e ON e.id = i.domain_id WHERE e.name = 'g') "
        "FROM samples s JOIN domains d ON d.id = s.domain_id LEFT JOIN threads t ON t.id = s.thread_id "
        "WHERE d.name = 'g'")
t0, out = time.monotonic(), []
while rss_kib(rec) is not None:
    r, f, n = rss_kib(agent, "RssAnon"), rss_kib(agent, "RssFile"), session_row(db, ROWS)
    if r is None or f is None or n is None:
        break
    out.append([time.monotonic() - t0, r] + n + [f])
    time.sleep(1.0)
json.dump(out, sys.stdout)
PY
wait "$churn"
wait "$rec" || fail "record failed: $(cat "$T/record.out")"
cp "$T/rss.json" "$T/record.out" "$T/agent.log" "$ARTIFACTS/"
kill -0 "$agent" || fail "the agent died: $(tail -5 "$T/agent.log")"

meta=$(sqlite3 "$T/long.db" "SELECT value FROM meta WHERE key='agent.g'")
echo "$meta" | grep -q "state=complete" || fail "the agent's part is not complete: $meta"
"$DOMPROF" report -i "$T/long.db" --domain g --sort pid --format json >"$T/g.json" || fail "the session does not report"
python3 - "$T/rss.json" "$T/g.json" "$T/churn.out" "$T/long.db" "$meta" <<'PY'
import json, re, sqlite3, sys
from truth import close, note, sampled_time_tol, sanitized
rss, rep, meta = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[5]
forgotten = int(re.search(r"forgotten=(\d+)", meta).group(1))
db = sqlite3.connect(f"file:{sys.argv[4]}?mode=ro", uri=True)
threads = db.execute("SELECT count(*) FROM threads t JOIN domains d ON d.id = t.domain_id WHERE d.name = 'g'").fetchone()[0]
rows = db.execute("SELECT count(*) FROM samples s JOIN domains d ON d.id = s.domain_id WHERE d.name = 'g'").fetchone()[0]
# Each churned process is a thread with at least one counter; each exits
# long before the end: the agent forgot most of what it sent.
assert forgotten >= threads // 2, f"the agent forgot {forgotten} counters of {threads} threads ({rows} rows)"
note(f"the agent sent {threads} threads and {rows} counters and forgot {forgotten} counters")

# Nothing the agent forgot left the session: the churned processes are
# there, under the agent's domain, against their own CPU time (the
# tolerance of long-record.sh: the clock sampler's spread, its lost
# samples, and 10% for a clock sampler's bias on a loaded machine).
runs = {}
for line in open(sys.argv[3]):
    m = re.match(r"split cpu-ns: pid=(\d+) .*total=(\d+)", line)
    if m:
        runs[int(m.group(1))] = int(m.group(2))
pids = list(runs)
assert len(pids) >= 20, f"only {len(pids)} churned processes completed"
# Thread ids of exited threads name new ones (PROTO_CAP_THREAD_IDS): the
# ids used are about the threads alive at once, not every thread sent;
# the churned processes, one after another, share a few.
ids = int(re.search(r"thread_ids=(\d+)", meta).group(1))
assert ids <= threads - len(pids) // 2, f"{ids} thread ids for {threads} threads, {len(pids)} of them churned one by one"
note(f"{ids} thread ids named the {threads} threads the agent sent")
by_pid = {}
for r in rep["rows"]:
    by_pid[r["pid"]] = by_pid.get(r["pid"], 0) + r["cpu-clock:period"]
truth = sum(runs[p] for p in pids)
got = sum(by_pid.get(p, 0) for p in pids)
ev = rep["events"][0]
period = ev["period"] / max(ev["samples"], 1)
close(f"the {len(pids)} churned processes' time under the agent's domain against their own CPU time", got, truth,
      sampled_time_tol(truth, period, ev["lost"]) + 0.10 * truth, " ms", 1e6)

if sanitized():
    note("sanitizer build: the agent's memory is not judged (ASan's quarantine holds what it frees)")
    sys.exit(0)
# The agent's own memory (RssAnon). Its readings swing by what it
# allocates and frees between two of its forgets (each ends with
# malloc_trim, which gives the freed pages back): a reading just before a
# trim holds a second's garbage. So the judge compares low-water marks:
# the least reading of the middle third of the run against the least of
# the last third (the first third holds the start-up: the agent's symbol
# tables, its first peak). A keep-everything agent would add at least 256
# bytes per thread that came and went and 72 per counter between them (the
# churn's, counted in the session); one that forgets grows by less than
# half of that plus LIVE_STEP_KIB (the doubling of an array of live rows),
# plus the counters of other threads that came meanwhile (the agent samples
# the whole host: another test's long-lived programs are alive at the end,
# and their rows rightly held; a keep-everything agent would hold them
# too, so the judge tells the two apart as well as without them).
if len(rss) < 12:
    print(f"SKIP: {len(rss)} readings of the agent's memory on this machine: too few to judge it; "
          "the forgetting and the session were checked")
    sys.exit(77)
third = len(rss) // 3
mid, last = rss[third:2 * third], rss[2 * third:]
low_b, low_c = min(r[1] for r in mid), min(r[1] for r in last)
(tb, _, cb, nb, ib, fb), (tc, _, cc, nc, ic, fc) = mid[0], last[-1]
churn_rows, other_rows, images = cc - cb, (nc - cc) - (nb - cb), ic - ib
churn_all = db.execute("SELECT count(*) FROM threads t JOIN domains d ON d.id = t.domain_id "
                       "WHERE d.name = 'g' AND t.comm IN ('split', 'true')").fetchone()[0]
churn_threads = churn_all * churn_rows / max(cc, 1)
least_kib = (churn_threads * 256 + churn_rows * 72) / 1024
LIVE_STEP_KIB = 512
allowed_kib = least_kib / 2 + LIVE_STEP_KIB + max(other_rows, 0) * 72 / 1024
note(f"agent RssAnon low-water {low_b} KiB from {tb:.0f} s, {low_c} KiB to {tc:.0f} s (RssFile {fb} -> {fc} KiB); "
     f"meanwhile {churn_rows} counters of the churn (a keep-everything agent: at least {least_kib:.0f} KiB more), "
     f"{other_rows} of other threads and {images} new images; allowed growth {allowed_kib:.0f} KiB")
if least_kib < 2 * LIVE_STEP_KIB:
    print(f"SKIP: {churn_rows} counters of the churn in the judged span, too few to judge the agent's memory "
          f"(a keep-everything agent would add only {least_kib:.0f} KiB); the forgetting and the session were checked")
    sys.exit(77)
assert low_c - low_b < allowed_kib, \
    f"the agent's memory grows with what it forgot: {low_c - low_b} KiB, allowed {allowed_kib:.0f} KiB"
PY
[ $? -eq 0 ] || fail "see above"
