#!/bin/bash
# Symbolization on real binaries: JIT code announced in /tmp/perf-PID.map,
# the vdso, C++ names demangled, a stripped binary (.dynsym only), and a
# process in another mount namespace. Shares are checked against the
# workload's own account of its CPU time (work.h), within Z standard
# deviations of the sample counts (truth.py); the JIT's late function runs
# for the second half of the program by construction (10% is a floor far
# below the ~35% it takes). Nothing here measures domprof's own speed.
. "$(dirname "$0")/lib.sh"
need_root

# JIT and vdso
"$DOMPROF" record -q -o "$T/jit.db" -- "$WORKLOADS/jit" 3 >/dev/null
"$DOMPROF" report -i "$T/jit.db" --comm jit --sort image,symbol --format csv >"$T/jit.csv"
cp "$T/jit.csv" "$ARTIFACTS/"
python3 - "$T/jit.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
jit = [r for r in rows if r["symbol"] == "jit_hot_loop"]
assert jit and jit[0]["image"].startswith("/tmp/perf-") and jit[0]["image"].endswith(".map"), rows[:5]
late = [r for r in rows if r["symbol"] == "jit_late_loop"]
assert late, "a JIT function announced while recording was not resolved"
assert float(late[0]["cpu-clock:percent"]) > 10, late  # about 35 by construction
vdso = [r for r in rows if r["image"] == "[vdso]"]
assert vdso and any(r["symbol"] in ("clock_gettime", "__vdso_clock_gettime", "do_hres.constprop.0", "vread_tsc", "do_hres")
                    or "clock_gettime" in r["symbol"] for r in vdso), vdso
print(f"# JIT: jit_hot_loop {float(jit[0]['cpu-clock:percent']):.1f}% in {jit[0]['image']}; vdso: {[r['symbol'] for r in vdso][:3]}")
PY

# C++ demangling
"$DOMPROF" record -q -o "$T/cxx.db" -- "$WORKLOADS/demangle" 2 >/dev/null
top=$("$DOMPROF" report -i "$T/cxx.db" --comm demangle --layer user --sort symbol --format csv --limit 1 | tail -1 | cut -d, -f1)
case "$top" in
*"shapes::Accumulator<unsigned long>::spin(long)"*) note "C++: $top" ;;
*) fail "C++ name not demangled: '$top'" ;;
esac

# A stripped PIE (.dynsym only): the exported function still has its name.
cp "$WORKLOADS/split" "$T/split-stripped"
strip --strip-all "$T/split-stripped"
"$DOMPROF" record -q -o "$T/strip.db" -- "$T/split-stripped" -c 2 >"$T/strip.out"
"$DOMPROF" report -i "$T/strip.db" --comm split-stripped --sort image,symbol --format csv >"$T/strip.csv"
python3 - "$T/strip.csv" "$T/strip.out" <<'PY'
import csv, sys
from truth import Z, close, ratio_sd, unexplained, workload_account
rows = list(csv.DictReader(open(sys.argv[1])))
lib = [r for r in rows if r["symbol"] == "libwork_ten"]
own = [r for r in rows if r["image"].endswith("split-stripped")]
assert lib, "libwork_ten (exported by the library) not found"
# No symbols at all in the stripped executable: its functions are named from
# its unwind table (IMAGE+0xADDR), so the 60/30 split of its two hot
# functions still shows.
named = sorted((int(r["cpu-clock:samples"]), r["symbol"]) for r in own if r["symbol"].startswith("split-stripped+0x"))
assert len(named) >= 2, own
(b, fb), (a, fa) = named[-2], named[-1]
n = sum(int(r["cpu-clock:samples"]) for r in rows)
acc = workload_account(sys.argv[2], "split")
want = acc["split_sixty"] / acc["split_thirty"]
print(f"# stripped: libwork_ten named; the executable's own functions {fa} and {fb}")
# Allowances: the clock reads, and the sampled time the CPU time does not
# explain (truth.unexplained), all of which could be either function's.
eps = unexplained(n, sum(float(r["cpu-clock:period"]) for r in rows) / n, acc)
close("their ratio against the workload's own (split_sixty / split_thirty)", a / b, want,
      want * (Z * ratio_sd((a / n, n), (b / n, n)) + (acc["reads"] * acc["read_ns"] + eps * acc["total"]) / acc["split_thirty"]))
PY

# Another mount namespace: the binary is only reachable as /proc/PID/root/...
if command -v unshare >/dev/null && unshare --mount true 2>/dev/null; then
	mkdir -p "$T/ns"
	cp "$WORKLOADS/split" "$WORKLOADS/libwork.so" "$T/ns/"
	unshare --mount sh -c "mount -t tmpfs tmpfs /mnt && cp $T/ns/split $T/ns/libwork.so /mnt/ && LD_LIBRARY_PATH=/mnt exec /mnt/split 4" >/dev/null &
	BG_PIDS="$!"
	sleep 0.5
	"$DOMPROF" record -q -a -d 2 -o "$T/ns.db"
	"$DOMPROF" report -i "$T/ns.db" --comm split --sort image,symbol --format csv >"$T/ns.csv"
	grep -q "^/mnt/split,split_sixty," "$T/ns.csv" || fail "no symbols for a binary in another mount namespace: $(head -5 "$T/ns.csv")"
	note "mount namespace: /mnt/split resolved through /proc/PID/root"
fi

# Libraries a recording does not need are not opened (lib/util/dl.h,
# src/debuginfod.c): libdw's debuginfod client (and with it libcurl and
# GnuTLS) when DEBUGINFOD_URLS names no server, libpfm4 for generic event
# names, capstone outside annotate. The dynamic linker's own log says what
# was opened; the same recording with a server named (nothing listens there)
# opens the client, which shows the log would have shown it.
loaded() { grep -o "file=$1[^ ]*" "$2" | sort -u | tr '\n' ' '; }
spin='i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'
(unset DEBUGINFOD_URLS; LD_DEBUG=files "$DOMPROF" record -q -o "$T/dl.db" -- sh -c "$spin" 2>"$T/dl.log")
for lib in libdebuginfod libcurl libpfm libcapstone; do
	[ -z "$(loaded $lib "$T/dl.log")" ] || fail "record opened $(loaded $lib "$T/dl.log")"
done
DEBUGINFOD_URLS=http://127.0.0.1:9/ DEBUGINFOD_CACHE_PATH="$T/debuginfod" LD_DEBUG=files \
	"$DOMPROF" record -q -o "$T/dl2.db" -- sh -c "$spin" 2>"$T/dl2.log"
[ -n "$(loaded libdebuginfod "$T/dl2.log")" ] || fail "with DEBUGINFOD_URLS set, libdw did not open its client: $(grep -c 'file=' "$T/dl2.log") files opened"
note "record opened none of libdebuginfod, libcurl, libpfm, libcapstone; with DEBUGINFOD_URLS set: $(loaded libdebuginfod "$T/dl2.log")"
echo ok
