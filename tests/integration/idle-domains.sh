#!/bin/bash
# Issue 14: the host's idle loop is a domain of its own, "idle".
#
# The machine these tests run on is shared (other tests, other people's
# VMs), so no figure is assumed: the truth of each run is the kernel's own
# CPU-time accounting (/proc/stat) over the same window, read by the
# recorded command itself at its start and end. Two runs: a mostly idle
# one (`sleep` under -a) and one with every CPU busy. In each, the idle
# domain's share of the samples must match the idle share /proc/stat
# gives, within the tolerance computed below; and --no-idle, the busy
# share and every output (CSV, JSON, folded, HTML, stat) are checked on the
# recordings.
. "$(dirname "$0")/lib.sh"
need_root
NCPU=$(getconf _NPROCESSORS_ONLN)
SECONDS_RUN=3

# record NAME CMD...: a system-wide recording while CMD runs, /proc/stat
# read by the command itself at its start and its end.
record() {
	local name=$1
	shift
	"$DOMPROF" record -q -a -o "$T/$name.db" -- sh -c \
		"head -1 /proc/stat > $T/$name.before; $*; head -1 /proc/stat > $T/$name.after" ||
		fail "$name: domprof record failed"
	"$DOMPROF" report -i "$T/$name.db" --format json --sort domain,layer,comm,pid,symbol >"$T/$name.json"
	"$DOMPROF" report -i "$T/$name.db" --limit 15 >"$ARTIFACTS/$name-report.txt"
}

# check NAME MODE: compare the idle domain with /proc/stat (MODE idle|busy).
check() {
	python3 - "$T/$1.json" "$T/$1.before" "$T/$1.after" "$NCPU" "$2" <<'PY'
import json, math, sys
from truth import Z
rep = json.load(open(sys.argv[1]))
before = list(map(int, open(sys.argv[2]).read().split()[1:9]))
after = list(map(int, open(sys.argv[3]).read().split()[1:9]))
ncpu, mode = int(sys.argv[4]), sys.argv[5]
user, nice, system, idle, iowait, irq, softirq, steal = (a - b for a, b in zip(after, before))
ticks = user + nice + system + idle + iowait + irq + softirq
# The kernel's rule is domprof's: time in the idle task outside interrupts
# is idle (idle + iowait); interrupts served on an idle CPU are irq/softirq.
idle_frac = (idle + iowait) / ticks
kernel_frac = (system + irq + softirq) / ticks

ev = rep["events"][0]
assert ev["name"] == "cpu-clock", ev["name"]
total = ev["filtered_period"]
doms = {d["name"]: d for d in rep["domains"]}
idle_dom = doms.get("idle")
idle_p = idle_dom["total"]["cpu-clock"]["period"] if idle_dom else 0
host_kernel = doms["host"]["layers"].get("kernel", {}).get("cpu-clock", {}).get("period", 0)
idle_share, kernel_share = idle_p / total, host_kernel / total

# A cpu-clock sample is due every 1 ms on every CPU; a halted CPU (or a vCPU
# the hypervisor did not run: steal) sees its timer late and loses the ones
# it missed. lost: the share of due samples that never came. If all were
# idle time, the idle share of the samples is (i - l) / (1 - l); if none,
# i / (1 - l): the two bounds.
duration_s = int(rep["session"]["duration_ns"]) / 1e9
due = ncpu * duration_s * 1000
lost = max(0.0, min(0.9, 1 - ev["samples"] / due))
lo, hi = (idle_frac - lost) / (1 - lost), min(1.0, idle_frac / (1 - lost))
# Tolerance: Z (truth.py: 5) standard deviations of /proc/stat's tick accounting over
# this window (USER_HZ ticks: its user/system split is a sample of that
# size), plus 0.04 for what the two do not share: the few milliseconds
# between the command's /proc/stat reads and the recording's own start and
# stop, and the idle loop's bookkeeping, which the kernel counts as idle
# only from the moment it stops the tick.
tol = 0.04 + Z * math.sqrt(max(idle_frac * (1 - idle_frac), 0.01) / ticks)
print(f"# {mode}: /proc/stat idle {100 * idle_frac:.1f}%, kernel {100 * kernel_frac:.1f}% of {ticks} ticks "
      f"(steal {steal}); samples {ev['samples']} of {due:.0f} due (lost {100 * lost:.1f}%); "
      f"domprof idle {100 * idle_share:.1f}% (allowed {100 * (lo - tol):.1f}..{100 * (hi + tol):.1f}%), "
      f"host kernel {100 * kernel_share:.1f}%")
assert lo - tol <= idle_share <= hi + tol, (idle_share, lo - tol, hi + tol)
# Host kernel is not compared with /proc/stat's system time: how much of a
# CPU's time a clock sampler and the tick accounting see in kernel mode
# differs with the machine (65% to 93% kernel for one program on machines
# of one kind, docs/testing.md), and with another recording sampling at
# 4 kHz beside this one the two were seen 13 points apart (21% against 8%).
# The idle domain is the idle task (pid 0) alone.
rows = [r for r in rep["rows"] if r["domain"] == "idle"]
assert all(r["layer"] == "idle" and r["pid"] == 0 for r in rows), rows[:3]
if mode == "idle":
    if lo - tol >= 0.8:
        # The machine was idle enough that the issue's figure applies.
        assert idle_share >= 0.8, f"idle is {100 * idle_share:.1f}% of the samples on a machine {100 * idle_frac:.1f}% idle"
        assert kernel_share <= 0.1, f"host kernel {100 * kernel_share:.1f}% on an idle machine"
        print("# idle >= 80% of the samples, host kernel small")
    else:
        print(f"# not idle enough here for the 80% figure (other load): compared with /proc/stat only")
    # Shares of busy time: everything but idle.
    busy = ev["filtered_busy_period"]
    assert busy == total - idle_p, (busy, total, idle_p)
    cell = doms["host"]["layers"]["kernel"]["cpu-clock"]
    assert abs(cell["busy_percent"] - 100 * host_kernel / busy) < 1e-3, cell
    if idle_dom:
        assert idle_dom["layers"]["idle"]["cpu-clock"]["busy_percent"] is None
        open(sys.argv[1] + ".has-idle", "w").close()
else:
    # Every CPU busy: idle near zero, as the kernel saw it.
    assert idle_frac <= 0.1, f"/proc/stat says {100 * idle_frac:.1f}% idle with every CPU busy"
    assert idle_share <= 0.1, f"idle is {100 * idle_share:.1f}% of the samples with every CPU busy"
    print("# every CPU busy: idle near zero")
PY
}

# 1. A mostly idle machine. Other load may leave it no idle time at all:
#    then (up to three tries) once more, for the outputs below.
for try in 1 2 3; do
	record idle "sleep $SECONDS_RUN"
	check idle idle || fail "idle run: the idle domain does not match /proc/stat"
	[ -e "$T/idle.json.has-idle" ] && break
	note "try $try: no idle time at all during the run (every CPU busy with other work)"
done

# 2. Every CPU busy.
record busy "for i in \$(seq $NCPU); do $WORKLOADS/split $SECONDS_RUN & done; wait"
check busy busy || fail "busy run: the idle domain does not match /proc/stat"

# 3. --no-idle and the other outputs, on the idle recording (they need idle
#    in it; the unit tests check every format with exact numbers anyway).
[ -e "$T/idle.json.has-idle" ] || { note "no idle time here in three tries: outputs not checked"; echo ok; exit 0; }
"$DOMPROF" report -i "$T/idle.db" --no-idle --format json --sort domain,layer >"$T/noidle.json"
"$DOMPROF" report -i "$T/idle.db" --format csv --sort domain,layer >"$T/idle.csv"
"$DOMPROF" report -i "$T/idle.db" --no-idle --format csv --sort domain,layer >"$T/noidle.csv"
"$DOMPROF" report -i "$T/idle.db" --no-idle >"$T/noidle.txt"
grep -q "^# idle: left out (--no-idle)" "$T/noidle.txt" || fail "report --no-idle does not say so in its header"
"$DOMPROF" export -i "$T/idle.db" --format folded -o "$T/idle.folded" -q
"$DOMPROF" export -i "$T/idle.db" --format folded --no-idle -o "$T/noidle.folded" -q
"$DOMPROF" export -i "$T/idle.db" --format json --no-idle -o "$T/noidle-export.json" -q
"$DOMPROF" html -i "$T/idle.db" -o "$T/idle.html" -q
"$DOMPROF" html -i "$T/idle.db" --no-idle -o "$T/noidle.html" -q
"$DOMPROF" diff "$T/idle.db" "$T/busy.db" --no-idle --sort domain,layer --format json >"$T/diff.json"
python3 - "$T" <<'PY'
import csv, json, re, sys
t = sys.argv[1]
full, no = json.load(open(f"{t}/idle.json")), json.load(open(f"{t}/noidle.json"))
assert full["idle"]["included"] is True and no["idle"]["included"] is False, (full["idle"], no["idle"])
assert "idle" not in {d["name"] for d in no["domains"]}
assert not any(r["domain"] == "idle" for r in no["rows"])
# Without idle, the total is the busy total of the full report, to the unit.
assert no["events"][0]["filtered_period"] == full["events"][0]["filtered_busy_period"], (no["events"], full["events"])
rows = list(csv.DictReader(open(f"{t}/idle.csv")))
idle_rows = [r for r in rows if r["domain"] == "idle"]
assert idle_rows and all(r["cpu-clock:busy_percent"] == "" for r in idle_rows), idle_rows
host = next(r for r in rows if r["domain"] == "host" and r["layer"] == "kernel")
assert float(host["cpu-clock:busy_percent"]) >= float(host["cpu-clock:percent"]), host
nrows = list(csv.DictReader(open(f"{t}/noidle.csv")))
assert nrows and all(r["domain"] != "idle" for r in nrows)
assert all(r["cpu-clock:percent"] == r["cpu-clock:busy_percent"] for r in nrows), nrows[:2]
# Folded stacks: idle is its own domain and layer, and --no-idle drops it.
folded = open(f"{t}/idle.folded").read().splitlines()
assert any(l.startswith("idle;idle;") for l in folded), folded[:5]
assert not any(l.startswith("idle;") for l in open(f"{t}/noidle.folded").read().splitlines())
exp = json.load(open(f"{t}/noidle-export.json"))
assert exp["view"]["idle"] is False and not any(s["domain"] == "idle" for s in exp["samples"])
html = open(f"{t}/idle.html").read()
data = json.loads(re.search(r'<script type="application/json" id="domprof-data">(.*?)</script>', html, re.S).group(1))
assert any(d["kind"] == "idle" for d in data["domains"]) and data["idle"]["included"] is True
ndata = json.loads(re.search(r'<script type="application/json" id="domprof-data">(.*?)</script>',
                             open(f"{t}/noidle.html").read(), re.S).group(1))
assert not any(d["kind"] == "idle" for d in ndata["domains"]) and ndata["idle"]["included"] is False
diff = json.load(open(f"{t}/diff.json"))
assert diff["idle"]["included"] is False and not any(r["domain"] == "idle" for r in diff["rows"])
print(f"# --no-idle: report, CSV, folded, export JSON, HTML and diff leave idle out; busy total "
      f"{full['events'][0]['filtered_busy_period'] / 1e6:.0f} ms of {full['events'][0]['filtered_period'] / 1e6:.0f} ms")
PY

# 4. The page's "Show idle" switch, driven in headless Chromium (when there
#    is one): idle shown with its own bar, then hidden, the shares of the
#    bars becoming shares of busy time (each set sums to 100%).
if command -v chromium >/dev/null; then
	python3 - "$T/idle.html" "$T/drive.html" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', "", text)
driver = r"""<script>
(function () {
  const out = {};
  try {
    const shares = () => Array.from(document.querySelectorAll('.bar-card .bar-num .pct'))
      .filter(e => e.offsetParent !== null).map(e => parseFloat(e.textContent) || 0);
    const sum = a => a.reduce((x, y) => x + y, 0);
    const idleBar = () => document.querySelector('.bar-label[data-domain="idle"]');
    out.idle_bar = !!idleBar() && idleBar().offsetParent !== null;
    out.sum_before = sum(shares());
    out.busy_col = Array.from(document.querySelectorAll('#overview th')).some(th => th.textContent === 'busy %');
    const box = document.getElementById('idle-toggle');
    box.checked = false;
    box.dispatchEvent(new Event('change'));
    out.hidden_class = document.body.classList.contains('hide-idle');
    out.idle_bar_after = !!idleBar() && idleBar().offsetParent !== null;
    const sec = document.querySelector('section.domain[data-domain="idle"]');
    out.section_after = !!sec && sec.offsetParent !== null;
    out.sum_after = sum(shares());
  } catch (e) {
    out.error = String((e && e.stack) || e);
  }
  document.body.setAttribute('data-test-result', JSON.stringify(out));
})();
</script>
"""
open(sys.argv[2], "w", encoding="utf-8").write(text.replace("</body>", driver + "</body>"))
PY
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --disable-extensions \
		--user-data-dir="$T/chrome" --window-size=1400,2000 --dump-dom "file://$T/drive.html" >"$T/drive-dom.html" \
		2>"$T/drive.log" || fail "chromium failed on the page: $(tail -5 "$T/drive.log")"
	python3 - "$T/drive-dom.html" <<'PY'
import html, json, re, sys
m = re.search(r'data-test-result="([^"]*)"', open(sys.argv[1], encoding="utf-8").read())
assert m, "the driver script did not run"
r = json.loads(html.unescape(m.group(1)))
assert "error" not in r, r["error"]
print(f"# page: idle bar shown {r['idle_bar']}, shares sum {r['sum_before']:.1f}%; hidden: bar {r['idle_bar_after']}, "
      f"section {r['section_after']}, shares sum {r['sum_after']:.1f}%")
assert r["idle_bar"] and r["busy_col"], r
assert r["hidden_class"] and not r["idle_bar_after"] and not r["section_after"], r
# Shares are rounded for display (2 digits below 10%, 1 above): 0.5 covers
# the rounding of a few bars.
assert abs(r["sum_before"] - 100) <= 0.5 and abs(r["sum_after"] - 100) <= 0.5, r
PY
else
	note "chromium is not installed: the page's Show idle switch is not driven"
fi

# 5. stat: the idle domain from the kernel's idle time.
"$DOMPROF" stat -a -e cpu-clock --format json -o "$T/stat.json" -q -- sh -c \
	"head -1 /proc/stat > $T/stat.before; sleep 2; head -1 /proc/stat > $T/stat.after" || fail "domprof stat failed"
python3 - "$T/stat.json" "$T/stat.before" "$T/stat.after" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
b = list(map(int, open(sys.argv[2]).read().split()[1:9]))
a = list(map(int, open(sys.argv[3]).read().split()[1:9]))
d = [x - y for x, y in zip(a, b)]
frac = (d[3] + d[4]) / sum(d[:7])
doms = {x["name"]: x for x in j["domains"]}
assert "idle" in doms and doms["idle"]["kind"] == "idle", list(doms)
idle = doms["idle"]["layers"]["idle"]["cpu-clock"]["value"]
total = j["total"]["cpu-clock"]["value"]
busy = j["busy"]["cpu-clock"]["value"]
# stat splits each CPU's clock count by /proc/stat's own proportions, read
# per CPU a few ms from the command's reads: 0.05 covers that offset.
print(f"# stat: idle {100 * idle / total:.1f}% of cpu-clock, /proc/stat {100 * frac:.1f}%")
assert abs(idle / total - frac) <= 0.05, (idle / total, frac)
assert abs(busy + idle - total) <= 1e-6 * total + 1, (busy, idle, total)
PY
echo ok
