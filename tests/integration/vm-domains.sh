#!/bin/bash
# Issue 3: two real VMs (TCG here, KVM where it works) — one busy, one idle —
# and a busy host program, recorded together system-wide. Each VM is its own
# domain, with the guest/vmm/hypervisor layers of the design.
. "$(dirname "$0")/lib.sh"
need_root
build_guest_image

# The busy guest computes, and writes to its serial console now and then:
# device emulation (vmm) and the host kernel work behind it (hypervisor).
busy=$(start_vm busyvm --cpus 1 -- 'split 60 & while :; do echo tick-tick-tick-tick; usleep 2000; done')
note "busyvm pid $busy, accel $("$SOURCE_ROOT/vm/launch" accel)"

# The idle VM starts while a recording runs: it is found from the side-band
# (its exec, its thread names) and gets its own domain.
"$DOMPROF" record -q -a -d 8 -o "$T/late.db" &
late=$!
BG_PIDS="$late"
sleep 1
idle=$(start_vm idlevm --cpus 1 -- sleep 600)
wait "$late"
"$DOMPROF" report -i "$T/late.db" --format json --sort domain,comm >"$T/late.json"
python3 - "$T/late.json" "$idle" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
d = {x["name"]: x for x in j["domains"]}
assert "idlevm" in d, f"a VM started mid-recording was not found: {list(d)}"
assert d["idlevm"]["pid"] == int(sys.argv[2]) and d["idlevm"]["vmm"] == "qemu", d["idlevm"]
vcpu = [r for r in j["rows"] if r["domain"] == "idlevm" and r["comm"].startswith("CPU 0/")]
print(f"# VM started mid-recording: idlevm (pid {sys.argv[2]}) found, {len(vcpu)} rows on its vCPU thread")
PY

"$DOMPROF" vms > "$T/vms.txt"
"$DOMPROF" vms --format json > "$T/vms.json"
cp "$T/vms.txt" "$T/vms.json" "$ARTIFACTS/"
python3 - "$T/vms.json" "$busy" "$idle" <<'PY'
import json, sys
vms = {v["name"]: v for v in json.load(open(sys.argv[1]))}
for name, pid in (("busyvm", int(sys.argv[2])), ("idlevm", int(sys.argv[3]))):
    assert name in vms, f"{name} not listed: {list(vms)}"
    v = vms[name]
    assert v["pid"] == pid, (name, v["pid"], pid)
    assert v["vmm"] == "qemu"
    assert [c["index"] for c in v["vcpus"]] == [0], v["vcpus"]
    assert v["vcpus"][0]["comm"].startswith("CPU 0/"), v["vcpus"]
    print(f"# {name}: pid {pid}, accel {v['accel']}, vcpu thread {v['vcpus'][0]['tid']} {v['vcpus'][0]['comm']}")
PY

"$WORKLOADS/split" 30 >/dev/null &
BG_PIDS="$!"
"$DOMPROF" record -q -a -d 10 -o "$T/vms.db"
kill "$BG_PIDS" 2>/dev/null || true
"$DOMPROF" report -i "$T/vms.db" > "$ARTIFACTS/report.txt"
"$DOMPROF" report -i "$T/vms.db" --format json --sort domain,layer,comm,image,symbol > "$T/report.json"
cp "$T/report.json" "$ARTIFACTS/"
python3 - "$T/report.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
doms = {d["name"]: d for d in j["domains"]}
assert "busyvm" in doms and "idlevm" in doms, f"domains: {list(doms)}"
def total(d): return d["total"]["cpu-clock"]["period"]
def layer(d, l): return d["layers"].get(l, {}).get("cpu-clock", {}).get("period", 0)
busy, idle, host = doms["busyvm"], doms["idlevm"], doms["host"]
print(f"# busyvm total {total(busy)/1e6:.0f} ms, idlevm total {total(idle)/1e6:.0f} ms")
print("# busyvm layers: " + ", ".join(f"{l} {v['cpu-clock']['period']/1e6:.0f} ms" for l, v in busy["layers"].items()))
assert total(busy) >= 5 * max(total(idle), 1), "busy VM is not 5x the idle one"
largest = max(busy["layers"], key=lambda l: layer(busy, l))
assert largest == "guest", f"busy VM's largest layer is {largest}"
for l in ("vmm", "hypervisor"):
    assert layer(busy, l) > 0, f"busy VM has no {l} samples"
assert busy["overhead"]["cpu-clock"] is not None
# The host program is host user, under its own name.
rows = [r for r in j["rows"] if r["comm"] == "split" and r["domain"] == "host"]
assert rows and all(r["layer"] in ("user", "kernel") for r in rows), rows[:3]
user = sum(r["cpu-clock:period"] for r in rows if r["layer"] == "user")
assert user > 1e9, f"host split only {user/1e6:.0f} ms in host user"
top = max(rows, key=lambda r: r["cpu-clock:period"])
assert top["layer"] == "user" and top["symbol"] == "split_sixty", top
# Nothing of the VMs' QEMU threads leaks into the host domain.
leak = [r for r in j["rows"] if r["domain"] == "host" and r["comm"].startswith(("qemu", "CPU "))]
assert not leak, leak[:3]
PY
echo ok
