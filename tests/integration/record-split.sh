#!/bin/bash
# Issue 2: real system-wide sampling of a workload with a known 60/30/10
# split, compared with the workload's own account of its time and with perf
# sampling the same run at the same time; symbols in a PIE and a shared
# library; kernel functions in the kernel layer; SIGINT leaves a valid
# session that holds what the scheduler says the workload ran.
# Nothing here measures domprof's own speed: the sanitizer pass asserts all
# of it.
. "$(dirname "$0")/lib.sh"
need_root
need_perf

# perf_shares PERF.DATA COMM OUT.JSON: perf report's samples per symbol
# ({"sym": [samples, mode]}, mode "k" kernel, "." user) for COMM; false when
# perf cannot read its own capture (perf 6.1 sometimes cannot when another
# sampler ran with build-ids at the same time: tests/integration/import-perf.sh).
perf_shares() {
	perf report -i "$1" --stdio -n --comm "$2" --sort sym 2>"$T/perf-report.err" >"$T/perf-report.txt" || return 1
	cp "$T/perf-report.txt" "$ARTIFACTS/perf-$2.txt"
	python3 - "$T/perf-report.txt" "$3" <<'PY'
import json, re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*[\d.]+%\s+(\d+)\s+\[(.)\]\s+(\S+)", line)
    if m:
        n, mode, sym = int(m.group(1)), m.group(2), m.group(3)
        old = rows.get(sym, [0, mode])
        rows[sym] = [old[0] + n, mode]
json.dump(rows, open(sys.argv[2], "w"))
sys.exit(0 if rows else 1)
PY
}

# 1. domprof system-wide while perf samples the workload itself (per task,
#    the same clock event and rate): the same run seen by both. perf runs
#    with -B: no build-id pass, which concurrent sampling can break. The
#    workload runs for 4 s of its own CPU time: about 4000 samples of it on
#    any machine, however loaded.
"$DOMPROF" record -q -a -e cpu-clock -F 1000 -o "$T/split.db" -- \
	perf record -q -B -e cpu-clock -F 1000 -o "$T/split.data" -- "$WORKLOADS/split" -c 4 >"$T/split.out"
"$DOMPROF" report -i "$T/split.db" > "$ARTIFACTS/split-report.txt"
# Other programs called split may run on this host meanwhile (other test
# runs): every figure is of this run's process, by the pid it printed.
"$DOMPROF" report -i "$T/split.db" --comm split --layer user --sort pid,symbol --format csv > "$T/split.csv"
"$DOMPROF" report -i "$T/split.db" --comm split --sort pid --format csv > "$T/split-pid.csv"
cp "$T/split.csv" "$T/split.out" "$ARTIFACTS/"
perf_shares "$T/split.data" split "$T/split-perf.json" ||
	{ note "perf report cannot read its capture ($(head -c 200 "$T/perf-report.err")): domprof checked against the workload only"; echo '{}' >"$T/split-perf.json"; }
python3 - "$T/split.csv" "$T/split.out" "$T/split-perf.json" "$T/split-pid.csv" <<'PY'
import csv, json, sys
from truth import Z, account_shares, close, note, share_sd, unexplained, workload_account
keys = ["split_sixty", "split_thirty", "libwork_ten"]
acc = workload_account(sys.argv[2], "split")
rows = {r["symbol"]: r for r in csv.DictReader(open(sys.argv[1])) if r["pid"] == str(acc["pid"])}
n = sum(int(rows[k]["cpu-clock:samples"]) for k in keys if k in rows)
assert n > 0, f"none of {keys} found in {list(rows)[:10]}"
dp = {k: float(rows[k]["cpu-clock:period"]) if k in rows else 0.0 for k in keys}
d_total = sum(dp.values())
# The truth: the CPU time each function took, measured by the workload
# around every call in this very run, as shares of the three; allowances:
# the workload's clock reads (overhead) and the part of its sampled time
# its CPU time does not explain (truth.unexplained).
[whole] = [r for r in csv.DictReader(open(sys.argv[4])) if r["pid"] == str(acc["pid"])]
eps = unexplained(int(whole["cpu-clock:samples"]), 1e6, acc)
truth, overhead = account_shares(acc, keys)
t_total = sum(truth.values())
for k in keys:
    share, want = dp[k] / d_total, truth[k] / t_total
    # n samples of a share p: sd sqrt(p (1 - p) / n); the workload's clock
    # reads (overhead) took time outside every function.
    close(f"domprof {k} share of the three ({n} samples)", 100 * share, 100 * want,
          100 * (Z * share_sd(want, n) + overhead + eps), "%")
pf = json.load(open(sys.argv[3]))
m = sum(pf.get(k, [0])[0] for k in keys)
if m:
    # perf's shares from m samples, domprof's from n: two independent
    # estimates of the same run's shares.
    for k in keys:
        d, p = dp[k] / d_total, pf.get(k, [0])[0] / m
        close(f"domprof {k} against perf ({n} and {m} samples)", 100 * d, 100 * p, 100 * Z * share_sd(p, n, m), "%")
PY

# 2. The PIE function and the shared-library function resolve to their images.
img=$("$DOMPROF" report -i "$T/split.db" --comm split --sort pid,image,symbol --format csv | python3 -c '
import csv, sys
from truth import workload_account
pid = workload_account(sys.argv[1], "split")["pid"]
rows = [r for r in csv.DictReader(sys.stdin) if r["pid"] == str(pid)]
d = {r["symbol"]: r["image"] for r in rows}
print(d.get("split_sixty", ""), d.get("libwork_ten", ""))' "$T/split.out")
case "$img" in
*/split\ */libwork.so) note "images: $img" ;;
*) fail "split_sixty/libwork_ten not in the right images: '$img'" ;;
esac

# 3. A syscall-heavy workload: its kernel share as perf sees the same run,
#    in named kernel functions. How much of it is kernel time is the
#    machine's (65% to 93% seen on machines of one kind: it depends on how
#    timer interrupts reach a thread that leaves the kernel), so the test
#    compares, and prints the workload's own rusage split beside.
"$DOMPROF" record -q -a -o "$T/sys.db" -- \
	perf record -q -B -e cpu-clock -F 1000 -o "$T/sys.data" -- "$WORKLOADS/syscalls" -c 3 >"$T/sys.out"
"$DOMPROF" report -i "$T/sys.db" --comm syscalls --sort pid,layer --format csv > "$T/sys-layer.csv"
"$DOMPROF" report -i "$T/sys.db" --comm syscalls --layer kernel --sort pid,image,symbol --format csv > "$T/sys-sym.csv"
cp "$T"/sys-*.csv "$T/sys.out" "$ARTIFACTS/"
perf_shares "$T/sys.data" syscalls "$T/sys-perf.json" ||
	{ note "perf report cannot read its capture: kernel share checked for consistency only"; echo '{}' >"$T/sys-perf.json"; }
python3 - "$T/sys-layer.csv" "$T/sys-sym.csv" "$T/sys-perf.json" "$T/sys.out" <<'PY'
import csv, json, re, sys
from truth import Z, close, note, share_sd
m = re.search(r"syscalls rusage-ns: pid=(\d+) user=(\d+) system=(\d+)", open(sys.argv[4]).read())
assert m, "the workload did not print its rusage"
pid, ru_user, ru_sys = int(m.group(1)), int(m.group(2)), int(m.group(3))
layers = {r["layer"]: int(r["cpu-clock:samples"]) for r in csv.DictReader(open(sys.argv[1])) if r["pid"] == str(pid)}
n = sum(layers.values())
assert n and set(layers) <= {"user", "kernel"}, f"a host program in layers {list(layers)}"
kernel = layers.get("kernel", 0) / n
note(f"syscalls: {n} samples, kernel {100 * kernel:.1f}%; its own rusage says {100 * ru_sys / (ru_user + ru_sys):.1f}% "
     f"kernel of {(ru_user + ru_sys) / 1e6:.0f} ms")
pf = json.load(open(sys.argv[3]))
pk = sum(v[0] for v in pf.values() if v[1] == "k")
pn = sum(v[0] for v in pf.values())
if pn:
    close(f"syscalls kernel share against perf ({n} and {pn} samples)", 100 * kernel, 100 * pk / pn,
          100 * Z * share_sd(pk / pn, n, pn), "%")
rows = [r for r in csv.DictReader(open(sys.argv[2])) if r["pid"] == str(pid)]
assert rows and rows[0]["image"] == "[kernel.kallsyms]", rows[:3]
# Named through /proc/kallsyms: a sample without a name means a kernel
# address domprof could not place (a module, BPF): rare on any machine.
named = sum(int(r["cpu-clock:samples"]) for r in rows if r["symbol"] != "[unknown]")
total = sum(int(r["cpu-clock:samples"]) for r in rows)
assert named >= 0.9 * total, f"only {named} of {total} kernel samples have a function name"
note(f"top kernel functions: {[r['symbol'] for r in rows[:3]]}")
PY

# 4. SIGINT mid-recording: clean stop, complete session, holding the CPU
#    time the workload got between the session's start and stop (its own
#    cpu-clock count, polled meanwhile).
"$WORKLOADS/split" 60 >/dev/null &
load=$!
BG_PIDS="$BG_PIDS $load"
watch_start "$load"
"$DOMPROF" record -q -a -o "$T/int.db" 2>"$T/int.err" &
rec=$!
BG_PIDS="$BG_PIDS $rec"
sleep 3
kill -INT "$rec"
wait "$rec" || fail "record exited with $? after SIGINT: $(cat "$T/int.err")"
watch_stop
kill "$load" 2>/dev/null || true
"$DOMPROF" report -i "$T/int.db" --format json --sort pid > "$T/int.json"
python3 - "$T/int.json" "$T/watch.jsonl" "$load" <<'PY'
import json, sys
from truth import Watch, close, sampled_time_tol
j = json.load(open(sys.argv[1]))
s = j["session"]
assert s["state"] == "complete", s["state"]
w = Watch(sys.argv[2])
t0, t1 = int(s["start_ns"]), int(s["stop_ns"])
pid = int(sys.argv[3])
lo, hi = w.clock(pid, t0, t1)
ev = j["events"][0]
got = sum(r["cpu-clock:period"] for r in j["rows"] if r["pid"] == int(sys.argv[3]))
period = ev["period"] / max(ev["samples"], 1)
# Sampling noise, lost samples, the count's bracket (the polls around the
# session's start and stop).
tol = sampled_time_tol(hi, period, ev["lost"]) + w.steal_allowance(pid, t0, t1) + (hi - lo) / 2
close(f"after SIGINT ({(t1 - t0) / 1e9:.2f} s): split's time in the session against its cpu-clock", got, (lo + hi) / 2,
      tol, " ms", 1e6)
PY
[ ! -e "$T/int.db-wal" ] || fail "session left a WAL file after a clean stop"

# 5. A command's exit ends the recording at once: the loop waits on the
#    command's pidfd as on the rings. Waiting for its next flush instead, a
#    0.2 s command's recording lasts the whole first second. The session's
#    account of the recorder's own CPU lies within what the kernel counted
#    for the process, its flushes' part within that.
python3 - "$DOMPROF" "$T/short.db" <<'PY'
import os, sqlite3, subprocess, sys
p = subprocess.Popen([sys.argv[1], "record", "-q", "-a", "-o", sys.argv[2], "--", "sleep", "0.2"])
_, status, ru = os.wait4(p.pid, 0)
assert status == 0, f"record -- sleep 0.2 exited with {status}"
cpu_ns = (ru.ru_utime + ru.ru_stime) * 1e9
meta = dict(sqlite3.connect(sys.argv[2]).execute("SELECT key, value FROM meta"))
d = int(meta["duration_ns"]) / 1e9
own, flush, flushes = (int(meta[k]) for k in ("recorder_cpu_ns", "recorder_flush_cpu_ns", "recorder_flushes"))
print(f"# record -a -- sleep 0.2: {d:.3f} s of sampling; recorder CPU {own / 1e6:.1f} ms by itself, "
      f"{cpu_ns / 1e6:.1f} ms by wait4; {flushes} flush(es), {flush / 1e6:.2f} ms")
assert meta["state"] == "complete", meta["state"]
assert 0.2 <= d < 0.9, f"recording of a 0.2 s command lasted {d:.3f} s: the loop did not see it end"
assert flushes >= 1 and 0 < flush <= own, (flushes, flush, own)
# wait4 counts the process to its exit, after the session's end; both tick
# in the same units, rounded to 1 ms at most.
assert own <= cpu_ns + 1e6, (own, cpu_ns)
PY
echo "ok"
