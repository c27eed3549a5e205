#!/bin/bash
# Issue 4: two real VMs, each with an agent and its own guest program, one
# coordinated recording from the host; the guests' own functions named under
# the right domain and layer. Then the failure paths: a wrong key, hostile
# bytes sent to an agent, and a VM killed mid-recording.
#
# VM names and UUIDs are unique to the run (other test runs may have VMs
# on this host, and an agent is matched to its VM by them). Under the
# sanitizers the agent inside each guest is the instrumented build, several
# times slower under TCG: how soon it starts (the start skew bound) and
# whether it out-runs a guest program that shares its vCPU (betavm's top
# row) are then not asserted; everything else is.
. "$(dirname "$0")/lib.sh"
need_root
ALPHA=alphavm-$RUN_TAG
BETA=betavm-$RUN_TAG
ALPHA_UUID=$(cat /proc/sys/kernel/random/uuid)

"$DOMPROF" keygen "$T/key" >/dev/null 2>&1
"$DOMPROF" keygen "$T/wrongkey" >/dev/null 2>&1
build_guest_image --file "$T/key=/etc/domprof.key"
P1=$(free_port)
P2=$(free_port)
AGENT='domprof agent --listen tcp:0.0.0.0:7070 --key /etc/domprof.key'
alpha=$(start_vm "$ALPHA" --cpus 1 --fwd "$P1:7070" --uuid "$ALPHA_UUID" \
	--wait-for 'domprof agent listening' -- "$AGENT & guest-alpha 300")
beta=$(start_vm "$BETA" --cpus 1 --fwd "$P2:7070" \
	--wait-for 'domprof agent listening' -- "$AGENT & guest-beta 300 & syscalls 300")
note "VMs up: $ALPHA (pid $alpha) agent on port $P1, $BETA (pid $beta) on port $P2"

# 1. A wrong key: refused on both sides, record exits non-zero, nothing recorded.
if "$DOMPROF" record -a -d 2 -o "$T/wrong.db" --agent "$ALPHA=tcp:127.0.0.1:$P1" --key "$T/wrongkey" \
	>"$T/wrong.out" 2>&1; then
	fail "record succeeded with a wrong key"
fi
cp "$T/wrong.out" "$ARTIFACTS/"
grep -q "authentication failed" "$T/wrong.out" || fail "no clear message for a wrong key: $(cat "$T/wrong.out")"
[ ! -e "$T/wrong.db" ] || fail "a session was written although the required agent refused"
sleep 1
grep -q "rejected .*authentication failed" "$T/vmstate/$ALPHA.log" ||
	fail "the agent did not log the rejection: $(tail -5 "$T/vmstate/$ALPHA.log")"
note "wrong key: $(grep -m1 'authentication failed' "$T/wrong.out")"

# 2. Hostile bytes: random data, a truncated frame, an oversized length, a
#    valid HELLO followed by garbage. The agent must stay up.
python3 - "$P1" <<'PY'
import os, socket, struct, sys, time
port = int(sys.argv[1])
def send(data, wait=0.3):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        time.sleep(wait)
        s.settimeout(1)
        try:
            got = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            got = b""
    finally:
        s.close()
    return got
for i in range(20):
    send(os.urandom(1 + i * 97), 0.05)
send(struct.pack("<I", 0xffffffff) + b"x" * 100)            # absurd length
send(struct.pack("<I", 64) + bytes([1, 0, 0, 0]) + b"abc")  # truncated HELLO
hello = struct.pack("<IHHI", 0x46525044, 1, 1, 7) + os.urandom(32)
got = send(struct.pack("<I", 4 + len(hello)) + bytes([1, 0, 0, 0]) + hello + os.urandom(300), 0.5)
# The agent answers a HELLO with its HELLO_REPLY only: nothing else before AUTH.
assert len(got) in (0, 4 + 4 + 4 + 2 + 4 + 32 + 32), f"unexpected {len(got)} bytes before authentication"
print(f"# hostile frames sent; pre-auth reply was {len(got)} bytes")
PY

# 3. The coordinated recording of both VMs, with call graphs (the agents
#    unwind the guests' stacks).
"$DOMPROF" record -a -g -d 10 -o "$T/agents.db" --agent "$ALPHA=tcp:127.0.0.1:$P1" \
	--agent "$BETA=tcp:127.0.0.1:$P2" --key "$T/key" >"$T/record.out" 2>&1 ||
	fail "coordinated record failed: $(cat "$T/record.out")"
cp "$T/record.out" "$ARTIFACTS/"
"$DOMPROF" report -i "$T/agents.db" --limit 30 >"$ARTIFACTS/report.txt"
"$DOMPROF" report -i "$T/agents.db" --format json --sort domain,layer,comm,image,symbol >"$T/report.json"
"$DOMPROF" report -i "$T/agents.db" --format json --source host --sort domain,layer >"$T/host.json"
cp "$T/report.json" "$ARTIFACTS/"
python3 - "$T/report.json" "$T/host.json" "$ALPHA" "$BETA" <<'PY'
import json, sys
from truth import note, sanitized
j = json.load(open(sys.argv[1]))
host_view = json.load(open(sys.argv[2]))
ALPHA, BETA = sys.argv[3:5]
doms = {d["name"]: d for d in j["domains"]}
for name, fn, comm in ((ALPHA, "alpha_spin", "guest-alpha"), (BETA, "beta_spin", "guest-beta")):
    assert name in doms, f"{name} missing: {list(doms)}"
    d = doms[name]
    assert d["source"] == "host+agent", d
    assert d["complete"], d
    layers = d["layers"]
    for l in ("guest-user", "vmm", "hypervisor"):
        assert l in layers, f"{name} has no {l} layer: {list(layers)}"
    rows = [r for r in j["rows"] if r["domain"] == name and r["layer"] == "guest-user"]
    # The guest program spins in one function: the top row of its process
    # (by construction), and of the VM's guest user space unless the
    # instrumented agent shares its vCPU.
    mine = [r for r in rows if r["comm"] == comm]
    assert mine, f"{name}: no guest-user row of {comm}"
    top = max(mine, key=lambda r: r["cpu-clock:period"])
    assert top["symbol"] == fn, f"{name}: top guest-user row of {comm} is {top}"
    assert not [r for r in j["rows"] if r["symbol"] == fn and r["domain"] != name], f"{fn} outside {name}"
    if not sanitized():
        top = max(rows, key=lambda r: r["cpu-clock:period"])
        assert top["symbol"] == fn and top["comm"] == comm, f"{name}: top guest-user row is {top}"
    note(f"{name}: top guest-user {top['comm']} {top['symbol']} {top['cpu-clock:percent']:.1f}%; "
         f"offset {d['clock_offset_ns']/1e6:+.3f} ms, skew {d['start_skew_ns']/1e6:+.3f} ms")
    # The START barrier: the agents start with the host, not when they
    # connected seconds earlier. 1 s is far above a guest's scheduling
    # delay (tens of ms on a loaded host) and far below a missed barrier.
    if not sanitized():
        assert abs(d["start_skew_ns"]) < 1e9, f"start skew {d['start_skew_ns']} ns"
    assert d["clock_offset_ns"] != 0, "clock offset not measured"
# Guest kernel functions of the kernel-heavy guest program, by name.
kern = [r for r in j["rows"] if r["domain"] == BETA and r["layer"] == "guest-kernel" and r["comm"] == "syscalls"]
named = [r for r in kern if r["symbol"] != "[unknown]"]
assert named, f"no named guest-kernel function for syscalls in {BETA}"
note(f"{BETA} guest-kernel (syscalls): {[r['symbol'] for r in sorted(named, key=lambda r: -r['cpu-clock:period'])[:3]]}")
# Merged view: the VM keeps the host's magnitude.
hd = {d["name"]: d for d in host_view["domains"]}
for name in (ALPHA, BETA):
    m, h = doms[name]["total"]["cpu-clock"]["period"], hd[name]["total"]["cpu-clock"]["period"]
    assert abs(m - h) <= 0.01 * h + 1e6, f"{name}: merged total {m} differs from the host's {h}"
PY
sqlite3 "$T/agents.db" "SELECT name, clock_offset_ns, start_skew_ns, complete FROM domains WHERE kind='vm'" >"$ARTIFACTS/domains.txt"
# A guest user-space call stack, from inside the guest: main -> alpha_spin.
"$DOMPROF" report -i "$T/agents.db" --callers alpha_spin --domain "$ALPHA" --format csv >"$T/callers.csv"
"$DOMPROF" export -i "$T/agents.db" --format folded --domain "$ALPHA" >"$T/alphavm.folded"
cp "$T/callers.csv" "$T/alphavm.folded" "$ARTIFACTS/"
top_caller=$(sed -n 2p "$T/callers.csv" | cut -d, -f1)
[ "$top_caller" = main ] || fail "alpha_spin's caller in the guest is '$top_caller', not main"
grep -q "^$ALPHA;guest-user;guest-alpha;.*main;alpha_spin " "$T/alphavm.folded" ||
	fail "no guest stack ...;main;alpha_spin in the folded export"
note "guest call stack: $(grep -m1 'main;alpha_spin ' "$T/alphavm.folded")"

# 4. One VM killed mid-recording: the other complete, the killed one kept
#    and marked. The VM dies once its agent has started and sent data (two
#    seconds after it said so: four DATA frames), however long the agent
#    took to start; the host's own view of it holds the CPU time its
#    threads got until then (their cpu-clock counts, polled meanwhile).
watch_start "$alpha" "$beta"
"$DOMPROF" record -a -d 30 -o "$T/kill.db" --agent "$ALPHA=tcp:127.0.0.1:$P1" \
	--agent "$BETA=tcp:127.0.0.1:$P2" --key "$T/key" >"$T/kill.out" 2>&1 &
rec=$!
BG_PIDS="$BG_PIDS $rec"
for i in $(seq 600); do
	grep -q "agent $BETA: started" "$T/kill.out" && break
	kill -0 "$rec" 2>/dev/null || fail "record ended before $BETA's agent started: $(cat "$T/kill.out")"
	sleep 0.1
done
grep -q "agent $BETA: started" "$T/kill.out" || fail "$BETA's agent did not start within 60 s: $(cat "$T/kill.out")"
sleep 2
"$SOURCE_ROOT/vm/launch" stop "$BETA" --state "$T/vmstate" >/dev/null
python3 -c 'import time; print(time.monotonic_ns())' >"$T/killed-at"
sleep 2
kill -INT "$rec"
wait "$rec" || fail "record failed after a VM died: $(cat "$T/kill.out")"
watch_stop
cp "$T/kill.out" "$ARTIFACTS/"
grep -q "$BETA" "$T/kill.out" || fail "no warning about the lost agent"
"$DOMPROF" report -i "$T/kill.db" --format json --sort domain,layer,symbol >"$T/kill.json"
"$DOMPROF" report -i "$T/kill.db" --format json --source host --sort domain,layer >"$T/kill-host.json"
"$DOMPROF" report -i "$T/kill.db" --format json --source agent --sort domain,layer,comm,symbol >"$T/kill-agent.json"
python3 - "$T/kill.json" "$T/kill-host.json" "$T/kill-agent.json" "$T/watch.jsonl" "$beta" "$ALPHA" "$BETA" <<'PY'
import json, sys
from truth import Watch, close, note, sampled_time_tol, sanitized
j, host, agent = (json.load(open(p)) for p in sys.argv[1:4])
w = Watch(sys.argv[4])
beta_pid = int(sys.argv[5])
ALPHA, BETA = sys.argv[6:8]
doms = {d["name"]: d for d in j["domains"]}
a, b = doms[ALPHA], doms[BETA]
assert a["complete"] and not b["complete"], (a["complete"], b["complete"])
# What the agent sent before its VM died is kept: its own samples of the
# guest program, under the guest program's function.
beta = [r for r in agent["rows"] if r["domain"] == BETA and r["symbol"] == "beta_spin" and r["comm"] == "guest-beta"]
assert beta and beta[0]["cpu-clock:samples"] > 0, f"{BETA} kept none of its agent's beta_spin samples"
# The host's view of the dead VM: every sample of its threads until it died.
s = host["session"]
t0, t1 = int(s["start_ns"]), int(s["stop_ns"])
hb = {d["name"]: d for d in host["domains"]}[BETA]["total"]["cpu-clock"]
ev = host["events"][0]
lo, hi = w.clock(beta_pid, t0, t1)
# Under the sanitizers the instrumented recorder can run more than a flush
# behind the rings beside two TCG guests; this figure is then not asserted
# (docs/testing.md), only noted.
tol = (sampled_time_tol(hi, ev["period"] / ev["samples"], ev["lost"]) + w.steal_allowance(beta_pid, t0, t1)
       + (hi - lo) / 2)
if sanitized():
    note(f"{BETA} (killed) in the host's view: {hb['period'] / 1e6:.0f} ms against its threads' "
         f"{(lo + hi) / 2e6:.0f} ms (not asserted under the sanitizers)")
else:
    close(f"{BETA} (killed) in the host's view against its threads' CPU time", hb["period"], (lo + hi) / 2, tol,
          " ms", 1e6)
note(f"killed {BETA}: incomplete, {beta[0]['cpu-clock:samples']} beta_spin samples from its agent kept; note: {b['note']}")
PY
echo ok
