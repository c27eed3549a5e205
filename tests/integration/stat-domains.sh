#!/bin/bash
# domprof stat (counting mode) against known work: a command that lives in
# the kernel, a busy host program, and a real VM (TCG here, KVM where it
# works) whose guest computes on its one vCPU. Checks the split into
# domains and layers, that nothing is lost or counted twice (the sum over
# every domain and layer is the wall time of every CPU), the CSV and -I
# forms, and the errors users will meet.
#
# Truths, from the same run: the command's own getrusage (stat splits a
# command's time by its wait4 rusage, so the two agree to the tick); the
# scheduler's runtime and tick accounting of every thread of the VM and of
# the host program, polled while stat counts (truth.py watch). How much of
# a program's or a vCPU's time the kernel accounts as kernel time is the
# machine's (65% to 93% kernel for the same command on machines of one
# kind), so no share is asserted against a fixed figure. Nothing here
# measures domprof's own speed: the sanitizer pass asserts all of it.
. "$(dirname "$0")/lib.sh"
need_root

# --- errors name the input and exit non-zero ---------------------------------
expect_error() { # WHAT PATTERN ARGS...: domprof stat ARGS must fail saying PATTERN
	local what=$1 pattern=$2
	shift 2
	if "$DOMPROF" stat "$@" >"$T/err.out" 2>"$T/err.txt"; then
		fail "$what: domprof stat $* succeeded"
	fi
	grep -q -- "$pattern" "$T/err.txt" || { cat "$T/err.txt" >&2; fail "$what: no '$pattern' in the message"; }
}
expect_error "unknown event" "unknown event 'no-such-event'" -e no-such-event -d 1
expect_error "bad duration" "-d: 'soon' is not a positive number" -d soon
expect_error "bad interval" "-I: '5' is not an interval" -I 5 -d 1
expect_error "bad format" "'xml' is not a format" --format xml -d 1
expect_error "missing process" "-p 999999999: no such process" -p 999999999 -d 1
expect_error "bad --vm" "--vm expects NAME=PID" --vm web -d 1
expect_error "sampling terms" "stat counts every event" -e cpu-clock/period=1000/ -d 1
if "$DOMPROF" list 2>/dev/null | grep -E '^ *cycles ' | grep -qi 'no\b\|not supported\|unsupported'; then :; fi
if ! "$DOMPROF" stat -e cycles -d 0.2 >/dev/null 2>"$T/cycles.txt"; then
	grep -q "cycles is not supported on this CPU.*use -e cpu-clock" "$T/cycles.txt" ||
		{ cat "$T/cycles.txt" >&2; fail "cycles failed without the explanation record gives"; }
	note "no PMU: cycles fails with: $(cat "$T/cycles.txt")"
fi
expect_error "missing command" "cannot run 'no-such-command-here'" -- no-such-command-here
[ "$("$DOMPROF" stat -q -- no-such-command-here 2>/dev/null; echo $?)" = 127 ] || fail "a command that cannot run must exit 127"

# --- a kernel-heavy command -------------------------------------------------
# -o keeps the counts apart from what the command prints on stdout; the
# command prints its own rusage at exit.
steal_before=$(awk '/^cpu /{print $9}' /proc/stat)
"$DOMPROF" stat -q -e cpu-clock,context-switches,page-faults --format json -o "$T/syscalls.json" \
	-- "$WORKLOADS/syscalls" -c 2 >"$T/syscalls.out" 2>"$T/syscalls.err" ||
	{ cat "$T/syscalls.err" >&2; fail "stat -- syscalls failed"; }
steal_after=$(awk '/^cpu /{print $9}' /proc/stat)
grep -q "reads" "$T/syscalls.out" || fail "the command's own output did not reach stdout"
cp "$T/syscalls.json" "$T/syscalls.out" "$ARTIFACTS/"
python3 - "$T/syscalls.json" "$T/syscalls.out" "$steal_before" "$steal_after" <<'PY'
import json, os, re, sys
from truth import close, kernel_hz, note
j = json.load(open(sys.argv[1]))
m = re.search(r"syscalls rusage-ns: pid=\d+ user=(\d+) system=(\d+) clock=(\d+)", open(sys.argv[2]).read())
assert m, "the command did not print its rusage"
own_user, own_sys, own_clock = int(m.group(1)), int(m.group(2)), int(m.group(3))
own = own_user + own_sys
steal = (int(sys.argv[4]) - int(sys.argv[3]) + 1) * 1e9 / os.sysconf("SC_CLK_TCK")
assert j["target"] == "command", j["target"]
[host] = j["domains"]
assert host["name"] == "host"
L = host["layers"]
user, kernel = L["user"]["cpu-clock"]["value"], L["kernel"]["cpu-clock"]["value"]
# The count runs from the command's exec to its exit: the command's own
# cpu-clock count (a counter it opened on itself at the start of main, read
# at its end) plus its start (exec, the dynamic loader) and exit, measured
# at 1-14 ms, allowed 20 ms + 0.5%. (Where the command could not count
# itself: its rusage, which leaves out time stolen by the hypervisor above,
# so that is allowed for, with 2%: the two clocks were seen to differ by 4%
# on a loaded virtual machine.)
note(f"syscalls: stat {user/1e6:.0f} ms user + {kernel/1e6:.0f} ms kernel; its own rusage {own_user/1e6:.0f} + "
     f"{own_sys/1e6:.0f} ms, its own cpu-clock {own_clock/1e6:.0f} ms")
if own_clock:
    lo, hi = own_clock, 1.005 * own_clock + 20e6
else:
    lo, hi = 0.995 * own, 1.02 * own + 20e6 + steal
assert lo <= user + kernel <= hi, f"stat counted {(user + kernel)/1e6:.1f} ms, the command's own figure is " \
    f"{(own_clock or own)/1e6:.1f} ms (allowed {lo/1e6:.1f}..{hi/1e6:.1f})"
# The split is the command's rusage (wait4): the same ticks the command
# read itself, but for those of its exit (3 ticks allowed).
close("stat's kernel share against the command's own rusage", 100 * kernel / (user + kernel), 100 * own_sys / own,
      100 * 3e9 / kernel_hz() / own, "%")
assert L["kernel"]["cpu-clock"]["scaled_pct"] == 100.0
# A context switch happens in the kernel: none counted in user mode.
assert L["user"]["context-switches"]["value"] == 0, L["user"]["context-switches"]
PY

# --- a VM and a host program, system-wide ------------------------------------
build_guest_image
VM=statvm-$RUN_TAG
vm=$(start_vm "$VM" --cpus 1 -- split 600)
note "$VM pid $vm, accel $("$SOURCE_ROOT/vm/launch" accel)"
"$WORKLOADS/split" 60 >/dev/null &
hostsplit=$!
BG_PIDS="$BG_PIDS $hostsplit"
watch_start "$vm" "$hostsplit"

# stat_window NAME ARGS...: domprof stat ARGS > $T/NAME, and the monotonic
# times (ns) just before it started and just after it ended, in
# $T/NAME.window: stat's window (its JSON's end_s - start_s) lies inside.
stat_window() {
	local name=$1
	shift
	python3 -c 'import time; print(time.monotonic_ns())' >"$T/$name.window"
	"$DOMPROF" stat "$@" >"$T/$name" 2>>"$T/stat.err" || { cat "$T/stat.err" >&2; fail "domprof stat $* failed"; }
	python3 -c 'import time; print(time.monotonic_ns())' >>"$T/$name.window"
}
stat_window stat.json -q -a -d 5 -e cpu-clock --format json
stat_window stat.csv -q -a -d 2 -I 500 -e cpu-clock,context-switches --format csv
stat_window stat.txt -q -a -d 2 -e cpu-clock,page-faults
stat_window stat-p.json -q -p "$vm" -d 2 -e cpu-clock --format json
watch_stop
kill "$hostsplit" 2>/dev/null || true
cp "$T/stat.json" "$T/stat.csv" "$T/stat.txt" "$T/stat-p.json" "$ARTIFACTS/"
grep -q "^$VM (vm, qemu, " "$T/stat.txt" || { cat "$T/stat.txt" >&2; fail "text output has no $VM row"; }
grep -q "split: thread role\|split: guest/host exclusion" "$T/stat.txt" || fail "text output names no method"
grep -q "overhead.*(hypervisor+vmm)/guest" "$T/stat.txt" || fail "text output has no overhead"

python3 - "$T" "$vm" "$hostsplit" "$VM" "$(nproc)" <<'PY'
import csv, json, os, sys
from truth import Watch, Z, close, kernel_hz, note, share_sd
T, vmpid, splitpid, VM, ncpus = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
w = Watch(f"{T}/watch.jsonl")
tick = 1e9 / os.sysconf("SC_CLK_TCK")

def window(name):
    lo, hi = map(int, open(f"{T}/{name}.window").read().split())
    return lo, hi

def expected(name, duration_s):
    """What the scheduler says the VM's threads and the host program did in
    a window of stat's duration inside the run of `domprof stat` NAME: per
    layer, [value, tolerance] (the thread-role method of docs/stat.md: a
    TCG vCPU thread's user time is guest, guest_time is guest, other user
    time is vmm, kernel time is hypervisor). Values: each thread's runtime
    in the window, split in the proportions of its tick accounting over the
    whole run. Tolerances: the count's bracket (the window's start is
    known only to lie in the run); the accounting's own spread (stat read
    the ticks of its window, a sample of HZ per second of the thread's
    time: Z standard deviations of a binomial share) and its granularity
    (two USER_HZ ticks at each end of a reading). The threads' time is
    their own cpu-clock count (the clock stat counts), else the runtime
    and an allowance for time stolen from this machine."""
    lo_t, hi_t = window(name)
    d = int(duration_s * 1e9)
    steal = w.steal_allowance(vmpid, lo_t, hi_t)
    out = {k: [0.0, steal] for k in ("guest", "vmm", "hypervisor", "total")}
    def one(pid, comm):
        sel = lambda c: c == comm
        rlo, rhi = w.window_runtime(pid, lo_t, hi_t, d, sel, field=5)
        u, s, g = w.ticks(pid, lo_t, hi_t, sel)
        n = max(u + s, 1)
        rt = (rlo + rhi) / 2
        fu, fs, fg = (u - g) / n, s / n, g / n
        spread = Z * share_sd(fs, rt * kernel_hz() / 1e9) + 4 / n
        return rt, (rhi - rlo) / 2, rt * spread, fu, fs, fg
    for comm in sorted(set(w.threads(vmpid).values())):
        rt, bracket, split_tol, fu, fs, fg = one(vmpid, comm)
        user_layer = "guest" if comm.startswith("CPU ") and comm.endswith("/TCG") else "vmm"
        out[user_layer][0] += rt * fu
        out["guest"][0] += rt * fg
        out["hypervisor"][0] += rt * fs
        out["total"][0] += rt
        out["total"][1] += bracket
        for k in ("guest", "vmm", "hypervisor"):
            out[k][1] += bracket + split_tol
    rt, bracket, split_tol, fu, fs, fg = one(splitpid, "split")
    out["split_user"] = [rt * fu, bracket + split_tol + steal]
    return out

def val(d, l, key="value"):
    return d["layers"].get(l, {}).get("cpu-clock", {}).get(key, 0)

# --- system-wide JSON
j = json.load(open(f"{T}/stat.json"))
assert j["target"] == "system-wide" and j["cpus"] == ncpus, (j["target"], j["cpus"])
doms = {d["name"]: d for d in j["domains"]}
assert VM in doms and "host" in doms, list(doms)
vm, host = doms[VM], doms["host"]
assert vm["pid"] == vmpid and vm["vmm"] == "qemu", vm
method = vm["method"]["cpu-clock"]
# cpu-clock is a software event: :G/:H cannot split it, whatever the kernel.
assert method == "thread-role", method
note(f"{VM} ({vm['accel']}, {vm['threads']} threads, method {method}): " +
     ", ".join(f"{l} {v['cpu-clock']['value']/1e6:.0f} ms" for l, v in vm["layers"].items()))
e = expected("stat.json", j["end_s"] - j["start_s"])
close(f"{VM} total against its threads' CPU time", vm["total"]["cpu-clock"]["value"], *e["total"], unit=" ms", scale=1e6)
for l in ("guest", "vmm", "hypervisor"):
    close(f"{VM} {l} against its threads' CPU time and accounting", val(vm, l) + val(vm, l + "-user") + val(vm, l + "-kernel")
          if l == "guest" else val(vm, l), *e[l], unit=" ms", scale=1e6)
note("host: " + ", ".join(f"{l} {v['cpu-clock']['value']/1e6:.0f} ms" for l, v in host["layers"].items()) +
     f" (idle domain {doms.get('idle', {}).get('layers', {}).get('idle', {}).get('cpu-clock', {}).get('value', 0)/1e6:.0f} ms)")
# The host program's user time is in host user, with whatever else ran in
# user mode on the host meanwhile. Host user is derived: the system-wide
# user time (each CPU's count split by /proc/stat's ticks) less the VMs'
# user layers, so it carries their tolerance and the spread of the
# system-wide split (a binomial share of HZ ticks per CPU-second).
wall = ncpus * (j["end_s"] - j["start_s"]) * 1e9
sys_user = sum(val(d, l) for d in j["domains"] for l in ("user", "guest", "guest-user", "vmm"))
p_user = sys_user / wall
lo = e["split_user"][0] - e["split_user"][1] - e["guest"][1] - e["vmm"][1] \
    - Z * share_sd(p_user, wall * kernel_hz() / 1e9) * wall
note(f"host user {val(host, 'user')/1e6:.0f} ms; the host program's user time {e['split_user'][0]/1e6:.0f} ms "
     f"(at least {lo/1e6:.0f} ms)")
assert val(host, "user") >= lo, f"host user {val(host, 'user')/1e6:.0f} ms, below the host program's {lo/1e6:.0f} ms"
# Every CPU's clock counter counts every nanosecond: the sum over all
# domains and layers (the idle loop included, wherever it is reported) is
# the wall time of all CPUs; they differ by when each counter is read (us)
# and by the clamp of the host's layers (docs/stat.md): 2% is far above.
total = sum(v["cpu-clock"]["value"] for d in j["domains"] for v in d["layers"].values())
want = ncpus * (j["end_s"] - j["start_s"]) * 1e9
close("all domains and layers against the CPUs' wall time", total, want, 0.02 * want, " ms", 1e6)
assert abs(j["total"]["cpu-clock"]["value"] - total) < 2, "total is not the sum of the layers"
ov = vm["overhead"]["cpu-clock"]
guest = val(vm, "guest") + val(vm, "guest-user") + val(vm, "guest-kernel")
assert ov is not None and ov >= 0, ov
assert abs(ov - (val(vm, "vmm") + val(vm, "hypervisor")) / guest) < 1e-4
for d in j["domains"]:
    for l, v in d["layers"].items():
        assert v["cpu-clock"]["scaled_pct"] == 100.0, (d["name"], l, v)

# --- CSV with -I 500 over 2 s: one header, 4 intervals (a late wakeup can
# merge two, a short last one can follow), then the whole run as rows with
# time "total".
rows = list(csv.DictReader(open(f"{T}/stat.csv")))
assert list(rows[0])[:3] == ["time", "domain", "layer"], list(rows[0])
assert "cpu-clock:value" in rows[0] and "context-switches:scaled_pct" in rows[0]
times = sorted({float(r["time"]) for r in rows if r["time"] != "total"})
assert 3 <= len(times) <= 5 and 0.5 <= times[0] < 0.75, times
tot = [r for r in rows if r["time"] == "total"]
assert {(r["domain"], r["layer"]) for r in tot} >= {("host", "user"), ("host", "kernel"), (VM, "guest"),
                                                    (VM, "vmm"), (VM, "hypervisor")}, tot
# Intervals add up to the whole run (per row, within rounding).
for r in tot:
    s = sum(float(x["cpu-clock:value"]) for x in rows if x["time"] != "total" and x["domain"] == r["domain"]
            and x["layer"] == r["layer"])
    assert abs(s - float(r["cpu-clock:value"])) <= 0.02 * 2e9 + len(times), (r, s)
def csv_total(layer):
    return [float(r["cpu-clock:value"]) for r in tot if r["domain"] == VM and r["layer"] == layer][0]
duration = max(times)
e = expected("stat.csv", duration)
for l in ("guest", "vmm", "hypervisor"):
    close(f"-I: {VM} {l} against its threads' CPU time and accounting", csv_total(l), *e[l], unit=" ms", scale=1e6)

# --- -p on the VMM process: that VM alone.
p = json.load(open(f"{T}/stat-p.json"))
assert [d["name"] for d in p["domains"]] == [VM], [d["name"] for d in p["domains"]]
assert p["target"] == "process", p["target"]
pd = p["domains"][0]
e = expected("stat-p.json", p["end_s"] - p["start_s"])
close(f"-p {vmpid}: total against its threads' CPU time", pd["total"]["cpu-clock"]["value"], *e["total"], unit=" ms",
      scale=1e6)
close(f"-p {vmpid}: guest against its threads' CPU time and accounting", val(pd, "guest"), *e["guest"], unit=" ms",
      scale=1e6)
PY
echo ok
