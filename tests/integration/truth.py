"""What the integration tests compare domprof with, and how close it must be.

Every assertion of the suite compares a figure of domprof with a measurement
taken in the same run, never with a figure of one machine:

- a workload's own account of its time (tests/workloads/work.h: thread CPU
  time measured around every call of each hot function, printed at exit as
  "PROG cpu-ns: FN=NS ... total=NS reads=N read_ns=NS"): workload_account();
- the scheduler's exact runtime of the threads a VM or a program runs on
  (/proc/PID/task/TID/schedstat), polled in the background while domprof
  runs (`python3 truth.py watch OUT PID...`): Watch;
- perf on the same workload at the same time, or the kernel's own CPU-time
  accounting (getrusage, /proc/stat), parsed by the tests themselves.

Tolerances come from sample statistics: a share p estimated from n samples
has a standard deviation sqrt(p (1 - p) / n); a figure is accepted within Z
of those standard deviations (plus the measurement uncertainties named next
to each use). With Z = 5 a fair run fails one assertion with probability
below 1e-6 (two-sided normal tail), so the suite's few hundred assertions
pass together with overwhelming probability, while a real attribution error
(a function, layer or domain off by tens of percent) still fails.
"""
import json
import math
import os
import re
import sys
import time

Z = 5.0

# The polling interval of Watch, in seconds: the uncertainty of a runtime read
# at a given instant is what the threads ran in one interval.
WATCH_INTERVAL = 0.025


def sanitized():
    """True when the domprof under test is built with the sanitizers
    (DOMPROF_TEST_SANITIZED=1, set by Meson and scripts/check): its own
    speed is then not a figure worth asserting (docs/testing.md)."""
    return os.environ.get("DOMPROF_TEST_SANITIZED", "0") == "1"


def note(msg):
    print(f"# {msg}", flush=True)


def share_sd(p, *counts):
    """Standard deviation of the difference of shares p estimated from
    independent samples of the given sizes (one size: of the share itself)."""
    p = min(max(p, 0.0), 1.0)
    return math.sqrt(p * (1 - p) * sum(1.0 / max(n, 1) for n in counts))


def ratio_sd(*pairs):
    """Relative standard deviation of a ratio of sample counts: for each
    count, (share p of its run, samples n of its run); a count of p n
    samples has relative variance (1 - p) / (p n)."""
    return math.sqrt(sum((1 - p) / max(p * n, 1e-9) for p, n in pairs))


def close(what, got, want, tol, unit="", scale=1.0):
    """Assert |got - want| <= tol, printing both and the tolerance."""
    line = (f"{what}: {got / scale:.6g}{unit} against {want / scale:.6g}{unit} "
            f"(tolerance {tol / scale:.3g}{unit})")
    note(line)
    assert abs(got - want) <= tol, line


def at_least(what, got, floor, unit="", scale=1.0):
    line = f"{what}: {got / scale:.4g}{unit}, at least {floor / scale:.4g}{unit}"
    note(line)
    assert got >= floor, line


def workload_account(path, prog):
    """The "PROG cpu-ns: ..." line a workload printed (last one wins):
    {name: ns}, with 'total' (process CPU time), 'reads' and 'read_ns'
    (clock reads made and the cost of one, already taken out of each
    function's figure)."""
    found = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(prog + " cpu-ns:"):
                found = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
    assert found, f"{path}: no '{prog} cpu-ns:' line (did the workload run to the end?)"
    return found


def account_shares(acc, names):
    """Shares of the named functions in the process's CPU time, and the
    share of the process's time its own clock reads took (which land in the
    kernel or between functions, outside every named function): an
    allowance to add to share tolerances."""
    total = acc["total"]
    shares = {n: acc[n] / total for n in names}
    overhead = acc.get("reads", 0) * acc.get("read_ns", 0) / total
    return shares, overhead


def user_fraction(kernel_samples, samples, acc):
    """The fraction of a workload's measured function time that ran in user
    mode, from the same recording: the account's intervals hold the kernel
    time spent in them (interrupts, and being scheduled back in on a loaded
    machine: a per-function self share of the samples lacks it), while the
    clock reads' own kernel time is outside every interval (acc: the
    workload's account)."""
    reads = acc.get("reads", 0) * acc.get("read_ns", 0) / acc["total"]
    kappa = max(0.0, kernel_samples / max(samples, 1) - reads) / max(1.0 - reads, 1e-9)
    return 1.0 - kappa


def unexplained(samples, period_ns, acc):
    """The share of a program's sampled time that its own CPU time does not
    explain, measured in the same run: |samples x period - CPU time| / CPU
    time. On a machine whose hypervisor steals time, or when the recorder's
    own wakeups interrupt the program in step with its samples, a clock
    sampler's count of a busy program strays from its CPU time by several
    percent (measured under load: +8% for perf and +6% for domprof in the
    same run), and those samples can all fall in one function: this share
    is added to a share's tolerance (divided by the share, to a ratio's)."""
    return abs(samples * period_ns - acc["total"]) / acc["total"]


def kernel_hz():
    """The kernel's tick rate (CONFIG_HZ), the sample rate of its CPU-time
    accounting; 100 (the lowest Linux offers, so the widest tolerance) when
    the configuration cannot be read."""
    import gzip
    for path in ("/proc/config.gz", f"/boot/config-{os.uname().release}"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                for line in f:
                    if line.startswith("CONFIG_HZ="):
                        return int(line.split("=")[1])
        except OSError:
            continue
    return 100


def rusage_split_sd(p_kernel, cpu_ns):
    """Standard deviation of a kernel share from tick-based accounting
    (CONFIG_TICK_CPU_ACCOUNTING: each tick's time goes to the mode the CPU
    was in) over cpu_ns of CPU time."""
    return share_sd(p_kernel, max(cpu_ns * kernel_hz() / 1e9, 1))


# ---- the scheduler's runtime of threads, polled in the background ----------

def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _proc_stat_ticks():
    """{'steal': ticks, 'all': ticks} summed over CPUs from /proc/stat."""
    text = _read("/proc/stat") or ""
    for line in text.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            return {"steal": v[7] if len(v) > 7 else 0, "all": sum(v[:8])}
    return {"steal": 0, "all": 0}


_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "riscv64": 241}


def _open_cpu_clock(tid):
    """A cpu-clock counter on one thread (the clock domprof samples and
    counts with), or None where perf events are not allowed."""
    import ctypes
    import struct
    nr = _PERF_EVENT_OPEN.get(os.uname().machine)
    if nr is None:
        return None
    # perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes): type SOFTWARE,
    # config CPU_CLOCK, counting, enabled, user and kernel.
    attr = ctypes.create_string_buffer(struct.pack("<IIQQQQQIIQ", 1, 64, 0, 0, 0, 0, 0, 0, 0, 0), 64)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(ctypes.c_long(nr), attr, ctypes.c_int(tid), ctypes.c_int(-1), ctypes.c_int(-1),
                      ctypes.c_ulong(0))
    return fd if fd >= 0 else None


def watch(out, pids, interval=WATCH_INTERVAL):
    """Until killed: every interval, one JSON line with CLOCK_MONOTONIC ns,
    every thread of each pid with its comm, runtime (schedstat, ns), tick
    accounting (utime, stime, guest_time in USER_HZ ticks) and cpu-clock
    count since the watcher first saw it (ns, or -1), and /proc/stat's
    steal ticks.

    Why both clocks: the scheduler's runtime leaves out time stolen by the
    hypervisor above, a cpu-clock counter and a clock sampler count it;
    on a loaded virtual machine the two were seen to differ by 4% with
    /proc/stat showing no steal at all. Figures of domprof's clock events
    are compared with the thread's own cpu-clock count; the runtime stays
    the truth for the kernel's tick accounting."""
    fds, seen = {}, {}
    with open(out, "w") as f:
        while True:
            rec = {"t": time.monotonic_ns(), "stat": _proc_stat_ticks(), "pids": {}}
            for pid in pids:
                tasks = {}
                try:
                    tids = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    tids = []
                # A thread gone since the last poll (exited, or its process
                # killed): its counter still holds its count at the exit,
                # read once; the other figures stay the last polled.
                for tid, task in list(seen.get(pid, {}).items()):
                    if tid not in tids:
                        if fds.get(tid) is not None:
                            try:
                                task = task[:5] + [int.from_bytes(os.read(fds[tid], 8), "little")]
                                tasks[tid] = task
                            except OSError:
                                pass
                            os.close(fds[tid])
                            fds[tid] = None
                        del seen[pid][tid]
                for tid in tids:
                    sched = _read(f"/proc/{pid}/task/{tid}/schedstat")
                    comm = _read(f"/proc/{pid}/task/{tid}/comm")
                    stat = _read(f"/proc/{pid}/task/{tid}/stat")
                    if sched and comm is not None and stat:
                        # After the comm's ')': fields 3.. of proc(5);
                        # utime, stime (14, 15) and guest_time (43), ticks.
                        f3 = stat[stat.rindex(")") + 2:].split()
                        if tid not in fds:
                            fds[tid] = _open_cpu_clock(int(tid))
                        clock = -1
                        if fds[tid] is not None:
                            try:
                                clock = int.from_bytes(os.read(fds[tid], 8), "little")
                            except OSError:
                                pass
                        tasks[tid] = [comm.strip(), int(sched.split()[0]), int(f3[11]), int(f3[12]), int(f3[40]),
                                      clock]
                        seen.setdefault(pid, {})[tid] = tasks[tid]
                rec["pids"][str(pid)] = tasks
            rec["t_end"] = time.monotonic_ns()
            f.write(json.dumps(rec) + "\n")
            f.flush()
            time.sleep(interval)


class Watch:
    """The records of a `truth.py watch` run. A pid's runtime curve R(t) is
    the sum over its threads of their last known runtime (a thread that has
    exited keeps its final figure), monotone in t; runtime over a window is
    bracketed by the polls around its ends."""

    def __init__(self, path):
        self.recs = []
        with open(path) as f:
            for line in f:
                try:
                    self.recs.append(json.loads(line))
                except ValueError:  # the last line, cut by the kill
                    pass
        assert len(self.recs) >= 2, f"{path}: the runtime watcher recorded nothing"

    def curve(self, pid, thread=None, field=1):
        """[(t_start, t_end, R)] of pid, threads filtered by comm; R is the
        runtime (field 1) or, with field 2, 3, 4 or 5, the utime, stime or
        guest_time ticks or the cpu-clock count."""
        last, out = {}, []
        for r in self.recs:
            for tid, task in r["pids"].get(str(pid), {}).items():
                if thread is None or thread(task[0]):
                    last[tid] = task[field]
            out.append((r["t"], r["t_end"], sum(last.values())))
        return out

    def threads(self, pid):
        """{tid: comm} of every thread of pid ever seen."""
        out = {}
        for r in self.recs:
            for tid, task in r["pids"].get(str(pid), {}).items():
                out[tid] = task[0]
        return out

    def ticks(self, pid, t0, t1, thread=None):
        """(utime, stime, guest_time) ticks pid's threads gained between the
        last poll before t0 and the first after t1."""
        out = []
        for field in (2, 3, 4):
            c = self.curve(pid, thread, field)
            out.append(self._bracket(c, t0, t1)[1])
        return tuple(out)

    def has_clock(self, pid):
        """True when every thread of pid was watched with a cpu-clock counter."""
        tasks = [t for r in self.recs for t in r["pids"].get(str(pid), {}).values()]
        return bool(tasks) and all(len(t) > 5 and t[5] >= 0 for t in tasks)

    def clock(self, pid, t0, t1, thread=None):
        """(low, high) bounds of pid's threads' cpu-clock time in [t0, t1]:
        the clock domprof's cpu-clock figures count; the runtime where the
        watcher could not open counters (then allow for steal_ns)."""
        if not self.has_clock(pid):
            return self.runtime(pid, t0, t1, thread)
        c = self.curve(pid, thread, 5)
        assert c[0][1] <= t0 and c[-1][0] >= t1, \
            f"the watcher ({c[0][0]}..{c[-1][1]}) does not cover the window {t0}..{t1}"
        return self._bracket(c, t0, t1)

    def steal_allowance(self, pid, t0, t1):
        """What to allow for time stolen from this machine when comparing a
        clock figure with clock(): nothing when it is the thread's own
        cpu-clock count, else steal_ns."""
        return 0 if self.has_clock(pid) else self.steal_ns(t0, t1)

    def runtime(self, pid, t0, t1, thread=None):
        """(low, high) bounds of the CPU time pid's threads got in [t0, t1]
        (CLOCK_MONOTONIC ns)."""
        c = self.curve(pid, thread)
        assert c[0][1] <= t0 and c[-1][0] >= t1, \
            f"the watcher ({c[0][0]}..{c[-1][1]}) does not cover the window {t0}..{t1}"
        return self._bracket(c, t0, t1)

    def window_runtime(self, pid, lo_t, hi_t, duration_ns, thread=None, field=1):
        """(low, high) bounds of pid's CPU time (field 1: runtime; 5:
        cpu-clock) in a window of duration_ns that lies somewhere inside
        [lo_t, hi_t] (a command that measured over its own window, whose
        start is only bracketed): the extremes over every start the window
        can have, taken at the polls."""
        if field == 5 and not self.has_clock(pid):
            field = 1
        c = self.curve(pid, thread, field)
        starts = [x[1] for x in c if lo_t <= x[0] and x[1] + duration_ns <= hi_t] or [lo_t]
        brackets = [self._bracket(c, t0, t0 + duration_ns) for t0 in starts]
        return min(b[0] for b in brackets), max(b[1] for b in brackets)

    @staticmethod
    def _bracket(c, t0, t1):
        before = [x for x in c if x[1] <= t0] or [c[0]]
        after = [x for x in c if x[0] >= t1] or [c[-1]]
        inside = [x for x in c if x[0] >= t0 and x[1] <= t1]
        hi = after[0][2] - before[-1][2]
        lo = (inside[-1][2] - inside[0][2]) if len(inside) >= 2 else 0
        return lo, hi

    def steal_ns(self, t0, t1):
        """Time stolen from this machine's CPUs (by the hypervisor it runs
        under) around [t0, t1], all CPUs, ns: sampling counts it, the
        scheduler's runtime does not."""
        before = [r for r in self.recs if r["t_end"] <= t0] or self.recs[:1]
        after = [r for r in self.recs if r["t"] >= t1] or self.recs[-1:]
        tick = 1e9 / os.sysconf("SC_CLK_TCK")
        return (after[0]["stat"]["steal"] - before[-1]["stat"]["steal"] + 1) * tick


def sampled_time_tol(runtime_ns, period_ns, lost=0):
    """Tolerance of a thread group's time estimated by a clock event sampled
    every period_ns against its exact runtime: each sample stands for a
    period; the count has a variance of at most one per sample (the runs of
    the group start and stop at random phases of the timer), plus what was
    lost in the rings."""
    return Z * math.sqrt(max(runtime_ns, period_ns) * period_ns) + lost * period_ns


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "watch":
        try:
            watch(sys.argv[2], [int(p) for p in sys.argv[3:]])
        except KeyboardInterrupt:
            pass
    else:
        sys.exit("usage: truth.py watch OUT PID...")


def rss_kib(pid, field="VmRSS"):
    """A process's resident set (VmRSS, or RssAnon: its own memory, not the
    pages of its program and libraries it has run) in KiB, or None once it
    is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def session_row(db, sql):
    """One row of sql on a session a recorder is writing (read-only; a read
    that meets the writer's checkpoint is tried again), or None."""
    import sqlite3
    for _ in range(50):
        try:
            c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                return list(c.execute(sql).fetchone())
            finally:
                c.close()
        except sqlite3.Error:
            time.sleep(0.1)
    return None
