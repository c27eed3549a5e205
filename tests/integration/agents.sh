#!/bin/bash
# Issue 4: two real VMs, each with an agent and its own guest program, one
# coordinated recording from the host; the guests' own functions named under
# the right domain and layer. Then the failure paths: a wrong key, hostile
# bytes sent to an agent, and a VM killed mid-recording.
. "$(dirname "$0")/lib.sh"
need_root

"$DOMPROF" keygen "$T/key" >/dev/null 2>&1
"$DOMPROF" keygen "$T/wrongkey" >/dev/null 2>&1
build_guest_image --file "$T/key=/etc/domprof.key"
P1=$(free_port)
P2=$(free_port)
AGENT='domprof agent --listen tcp:0.0.0.0:7070 --key /etc/domprof.key'
start_vm alphavm --cpus 1 --fwd "$P1:7070" --uuid 11111111-2222-3333-4444-555555555555 \
	--wait-for 'domprof agent listening' -- "$AGENT & guest-alpha 300" >/dev/null
start_vm betavm --cpus 1 --fwd "$P2:7070" \
	--wait-for 'domprof agent listening' -- "$AGENT & guest-beta 300 & syscalls 300" >/dev/null
note "VMs up: alphavm agent on port $P1, betavm on port $P2"

# 1. A wrong key: refused on both sides, record exits non-zero, nothing recorded.
if "$DOMPROF" record -a -d 2 -o "$T/wrong.db" --agent alphavm="tcp:127.0.0.1:$P1" --key "$T/wrongkey" \
	>"$T/wrong.out" 2>&1; then
	fail "record succeeded with a wrong key"
fi
cp "$T/wrong.out" "$ARTIFACTS/"
grep -q "authentication failed" "$T/wrong.out" || fail "no clear message for a wrong key: $(cat "$T/wrong.out")"
[ ! -e "$T/wrong.db" ] || fail "a session was written although the required agent refused"
sleep 1
grep -q "rejected .*authentication failed" "$T/vmstate/alphavm.log" ||
	fail "the agent did not log the rejection: $(tail -5 "$T/vmstate/alphavm.log")"
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
"$DOMPROF" record -a -g -d 10 -o "$T/agents.db" --agent alphavm="tcp:127.0.0.1:$P1" \
	--agent betavm="tcp:127.0.0.1:$P2" --key "$T/key" >"$T/record.out" 2>&1 ||
	fail "coordinated record failed: $(cat "$T/record.out")"
cp "$T/record.out" "$ARTIFACTS/"
"$DOMPROF" report -i "$T/agents.db" --limit 30 >"$ARTIFACTS/report.txt"
"$DOMPROF" report -i "$T/agents.db" --format json --sort domain,layer,comm,image,symbol >"$T/report.json"
"$DOMPROF" report -i "$T/agents.db" --format json --source host --sort domain,layer >"$T/host.json"
cp "$T/report.json" "$ARTIFACTS/"
python3 - "$T/report.json" "$T/host.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
host_view = json.load(open(sys.argv[2]))
doms = {d["name"]: d for d in j["domains"]}
for name, fn, comm in (("alphavm", "alpha_spin", "guest-alpha"), ("betavm", "beta_spin", "guest-beta")):
    assert name in doms, f"{name} missing: {list(doms)}"
    d = doms[name]
    assert d["source"] == "host+agent", d
    assert d["complete"], d
    layers = d["layers"]
    for l in ("guest-user", "vmm", "hypervisor"):
        assert l in layers, f"{name} has no {l} layer: {list(layers)}"
    rows = [r for r in j["rows"] if r["domain"] == name and r["layer"] == "guest-user"]
    top = max(rows, key=lambda r: r["cpu-clock:period"])
    assert top["symbol"] == fn and top["comm"] == comm, f"{name}: top guest-user row is {top}"
    print(f"# {name}: top guest-user {top['comm']} {top['symbol']} {top['cpu-clock:percent']:.1f}%; "
          f"offset {d['clock_offset_ns']/1e6:+.3f} ms, skew {d['start_skew_ns']/1e6:+.3f} ms")
    assert abs(d["start_skew_ns"]) < 100e6, f"start skew {d['start_skew_ns']} ns"
    assert d["clock_offset_ns"] != 0, "clock offset not measured"
# Guest kernel functions of the kernel-heavy guest program, by name.
kern = [r for r in j["rows"] if r["domain"] == "betavm" and r["layer"] == "guest-kernel" and r["comm"] == "syscalls"]
named = [r for r in kern if r["symbol"] != "[unknown]"]
assert named, "no named guest-kernel function for syscalls in betavm"
print(f"# betavm guest-kernel (syscalls): {[r['symbol'] for r in sorted(named, key=lambda r: -r['cpu-clock:period'])[:3]]}")
# Merged view: the VM keeps the host's magnitude.
hd = {d["name"]: d for d in host_view["domains"]}
for name in ("alphavm", "betavm"):
    m, h = doms[name]["total"]["cpu-clock"]["period"], hd[name]["total"]["cpu-clock"]["period"]
    assert abs(m - h) <= 0.01 * h + 1e6, f"{name}: merged total {m} differs from the host's {h}"
PY
sqlite3 "$T/agents.db" "SELECT name, clock_offset_ns, start_skew_ns, complete FROM domains WHERE kind='vm'" >"$ARTIFACTS/domains.txt"
# A guest user-space call stack, from inside the guest: main -> alpha_spin.
"$DOMPROF" report -i "$T/agents.db" --callers alpha_spin --domain alphavm --format csv >"$T/callers.csv"
"$DOMPROF" export -i "$T/agents.db" --format folded --domain alphavm >"$T/alphavm.folded"
cp "$T/callers.csv" "$T/alphavm.folded" "$ARTIFACTS/"
top_caller=$(sed -n 2p "$T/callers.csv" | cut -d, -f1)
[ "$top_caller" = main ] || fail "alpha_spin's caller in the guest is '$top_caller', not main"
grep -q "^alphavm;guest-user;guest-alpha;.*main;alpha_spin " "$T/alphavm.folded" ||
	fail "no guest stack ...;main;alpha_spin in the folded export"
note "guest call stack: $(grep -m1 'main;alpha_spin ' "$T/alphavm.folded")"

# 4. One VM killed mid-recording: the other complete, the killed one kept and marked.
"$DOMPROF" record -a -d 14 -o "$T/kill.db" --agent alphavm="tcp:127.0.0.1:$P1" \
	--agent betavm="tcp:127.0.0.1:$P2" --key "$T/key" >"$T/kill.out" 2>&1 &
rec=$!
BG_PIDS="$rec"
# Long enough for the agent's first frames even in a slow (sanitizer) build.
sleep 8
"$SOURCE_ROOT/vm/launch" stop betavm --state "$T/vmstate" >/dev/null
wait "$rec" || fail "record failed after a VM died: $(cat "$T/kill.out")"
cp "$T/kill.out" "$ARTIFACTS/"
grep -q "betavm" "$T/kill.out" || fail "no warning about the lost agent"
"$DOMPROF" report -i "$T/kill.db" --format json --sort domain,layer,symbol >"$T/kill.json"
python3 - "$T/kill.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
doms = {d["name"]: d for d in j["domains"]}
a, b = doms["alphavm"], doms["betavm"]
assert a["complete"] and not b["complete"], (a["complete"], b["complete"])
# About 8 s of the VM ran before the kill: at least a second of its guest
# time must be in the session, beta_spin among it.
beta = [r for r in j["rows"] if r["domain"] == "betavm" and r["symbol"] == "beta_spin"]
guest = sum(b["layers"].get(l, {}).get("cpu-clock", {}).get("period", 0) for l in ("guest-user", "guest-kernel"))
assert beta and beta[0]["cpu-clock:period"] > 2e8, f"betavm kept too little beta_spin: {beta}"
assert guest > 1e9, f"betavm kept only {guest/1e6:.0f} ms of guest time"
print(f"# killed betavm: incomplete, {guest/1e6:.0f} ms of guest time kept ({beta[0]['cpu-clock:period']/1e6:.0f} ms beta_spin); note: {b['note']}")
PY
echo ok
