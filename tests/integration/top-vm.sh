#!/bin/bash
# Issue 18: domprof top with a real VM (TCG here, KVM where it works) whose
# guest runs an agent and a program spinning in one function (guest-alpha:
# alpha_spin). Truths by construction: the VM is a domain of its own (its
# vCPU thread under it, not under host); the agent's guest user-space
# function appears under the VM, layer guest-user, while top runs (in an
# interval before the last), in batch JSON and on the screen, where `d`
# picks the VM; the VM's guest rows (the merged view) add up each interval
# to the host's own measure of its guest code. Skipped (77) when no VM can be booted here.
. "$(dirname "$0")/lib.sh"
need_root
command -v tmux >/dev/null || skip "tmux is not installed (scripts/deps)"
VM=topvm-$RUN_TAG

"$DOMPROF" keygen "$T/key" >/dev/null 2>&1
build_guest_image --file "$T/key=/etc/domprof.key"
PORT=$(free_port)
vm=$(start_vm "$VM" --cpus 1 --fwd "$PORT:7070" --wait-for 'domprof agent listening' -- \
	'domprof agent --listen tcp:0.0.0.0:7070 --key /etc/domprof.key & guest-alpha 600') ||
	skip "the VM could not be booted here (vm/launch start failed)"
note "$VM up: pid $vm, accel $("$SOURCE_ROOT/vm/launch" accel), agent on port $PORT"

# 1. Batch JSON: the VM's rows, and the agent's function while top runs.
#    Its guest rows are the merged view: the agent's functions carry the
#    host's measure of the guest's time, so each interval they add up to
#    the VM's guest layers in the layer table (the host's own figure).
timeout 120 "$DOMPROF" top --batch --format json -e cpu-clock -d 8 -s domain,layer,comm,symbol \
	--agent "$VM=tcp:127.0.0.1:$PORT" --key "$T/key" >"$T/top-vm.json" 2>"$T/top-vm.err" ||
	fail "top --agent failed: $(cat "$T/top-vm.err")"
cp "$T/top-vm.json" "$T/top-vm.err" "$ARTIFACTS/"
python3 - "$T/top-vm.json" "$VM" <<'PY'
import json, sys
from truth import note
vm = sys.argv[2]
snaps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(snaps) >= 5, f"only {len(snaps)} intervals in 8 s"
guest = ("guest", "guest-kernel", "guest-user")
seen_alpha, checked = [], 0
for s in snaps:
    doms = {d["name"]: d for d in s["domains"]}
    rows = s["rows"]
    assert not [r for r in rows if r["domain"] == "host" and r["comm"].startswith("CPU 0/")], "a vCPU thread under host"
    assert not [r for r in rows if r["symbol"] == "alpha_spin" and r["domain"] != vm], "alpha_spin outside its VM"
    alpha = [r for r in rows if r["domain"] == vm and r["symbol"] == "alpha_spin"]
    if alpha:
        assert all(r["layer"] == "guest-user" and r["comm"] == "guest-alpha" and r["agent"] for r in alpha), alpha
        seen_alpha.append(s["time"])
    if vm not in doms:
        continue
    host_guest = sum(v["cpu-clock"]["interval"]["period"] for l, v in doms[vm]["layers"].items() if l in guest)
    mine = [r for r in rows if r["domain"] == vm and r["layer"] in guest]
    if any(r["agent"] for r in mine):
        got = sum(r["cpu-clock:period"] for r in mine)
        # each agent row is rounded to a whole nanosecond
        assert abs(got - host_guest) <= len(mine), f"at {s['time']} s: guest rows {got} ns, host measured {host_guest} ns"
        checked += 1
    assert [r for r in rows if r["domain"] == vm and r["layer"] in ("vmm", "hypervisor")] or host_guest == 0
assert seen_alpha, f"the agent's alpha_spin never showed under {vm}"
assert min(seen_alpha) < snaps[-1]["time"], f"alpha_spin only in the last interval: not live"
assert checked, "no interval had the agent's rows beside the host's measure"
note(f"{vm}: alpha_spin under {vm}/guest-user from {min(seen_alpha):.1f} s in {len(seen_alpha)} of {len(snaps)} "
     f"intervals; in {checked} the guest rows add up to the host's guest time")
PY

# 2. The screen: `d` picks the VM; its rows include the agent's function,
#    marked '*' (measured by the agent).
TM="domprof-top-vm-$RUN_TAG"
tmux -L "$TM" -f /dev/null new-session -d -s top -x 160 -y 50 "env PS1='$ ' TERM=tmux-256color sh"
BG_PIDS="$BG_PIDS $(tmux -L "$TM" display -p '#{pid}')"
cap() { tmux -L "$TM" capture-pane -p -t top >"$T/$1.txt"; }
holds() { python3 "$SOURCE_ROOT/tests/integration/top_screen.py" "$T/$1.txt" 0 "$2"; }
tmux -L "$TM" send-keys -t top "$DOMPROF top -e cpu-clock -s domain,layer,pid,symbol --agent $VM=tcp:127.0.0.1:$PORT \
--key $T/key; echo EXIT=\$?" Enter
for _ in $(seq 100); do cap up; holds up "status('h help') and rows()" && break; sleep 0.2; done
holds up "status('h help')" || fail "top --agent did not show its screen: $(cat "$T/up.txt")"
ok=""
for _ in $(seq 40); do
	cap vm
	if holds vm "status('d:$VM ') and rows() and all(r.domain.rstrip('+') == '$VM'[:len(r.domain.rstrip('+'))] for r in rows()) and any(r.symbol == 'alpha_spin' and r.agent and r.layer == 'guest-user' for r in rows())"; then
		ok=1
		break
	fi
	holds vm "status('d:$VM ')" || tmux -L "$TM" send-keys -t top d
	sleep 0.5
done
cp "$T/vm.txt" "$ARTIFACTS/screen-vm.txt"
[ -n "$ok" ] || fail "d did not show $VM's rows with the agent's alpha_spin: $(cat "$T/vm.txt")"
tmux -L "$TM" send-keys -t top q
for _ in $(seq 300); do cap after; grep -q "^EXIT=[0-9]" "$T/after.txt" && break; sleep 0.1; done
grep -q "^EXIT=0" "$T/after.txt" || fail "top --agent did not exit 0 on q: $(cat "$T/after.txt")"
note "the screen: d picks $VM, alpha_spin (agent) among its rows; q exits 0"
tmux -L "$TM" kill-server 2>/dev/null || true
