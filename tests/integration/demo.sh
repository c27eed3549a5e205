#!/bin/bash
# Issue 6: a short `make demo` (the network case study) inside make check:
# every configuration moves data; the VM's guest kernel (from its agent)
# shows its network receive path; its vmm layer shows QEMU's network
# backend or device emulation; receiving in the VM costs more per MB than
# natively; an HTML report per configuration names every domain. The VM's
# name is unique to the run (other test runs may have VMs on this host).
# These are properties of the network paths, true on any machine: the VM
# path does all the native path's host work and more. Nothing here measures
# domprof's own speed.
. "$(dirname "$0")/lib.sh"
need_root
command -v iperf3 >/dev/null || skip "iperf3 is not installed (scripts/deps)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (scripts/deps)"

VM=demovm-$RUN_TAG
OUT="$T/demo" DURATION=2 VM_NAME="$VM" "$SOURCE_ROOT/scripts/demo" >"$T/demo.out" 2>&1 ||
	{ cat "$T/demo.out" >&2; fail "scripts/demo failed"; }
cp "$T/demo.out" "$T/demo/summary.json" "$ARTIFACTS/"
cp "$T"/demo/*.html "$ARTIFACTS/" 2>/dev/null || true
python3 - "$T/demo" "$VM" <<'PY'
import json, os, re, sys
out, VM = sys.argv[1:3]
s = json.load(open(os.path.join(out, "summary.json")))
confs = s["configurations"]
for name, c in confs.items():
    assert c["bytes"] > 0 and c["throughput_bps"] > 0, f"{name}: no data moved"
    print(f"# {name}: {c['throughput_bps']/1e9:.2f} Gbit/s, total {list(c['total_per_mb'].values())[0]:.3f} per MB")
net = re.compile(r"^(tcp_|virtnet_|virtqueue_|vring_|ip_|ipv4_|__netif|netif_|napi_|__napi|skb_|__skb|page_to_skb|"
                 r"receive_buf|net_rx_action|inet_|sock_|__sock|copy_user|csum_|__dev_queue|dev_hard_start|"
                 r"vp_notify)")
for name in ("vm-rx", "vm-tx"):
    rep = json.load(open(os.path.join(out, name + ".report.json")))
    rows = rep["rows"]
    gk = [r for r in rows if r["domain"] == VM and r["layer"] == "guest-kernel"]
    hits = sorted({r["symbol"] for r in gk if net.match(r["symbol"])})
    assert hits, f"{name}: no network-path function in the guest kernel: {[r['symbol'] for r in gk[:10]]}"
    vmm = [r for r in rows if r["domain"] == VM and r["layer"] == "vmm"]
    backend = [r for r in vmm if "slirp" in r["image"] or re.search(r"virtio|net_|_net|e1000|slirp|tap", r["symbol"])]
    assert backend, f"{name}: no network backend/device code in vmm: {[(r['symbol'], r['image']) for r in vmm[:10]]}"
    doms = {d["name"] for d in rep["domains"]}
    dom = next(d for d in rep["domains"] if d["name"] == VM)
    assert dom["source"] == "host+agent" and dom["complete"], dom
    print(f"# {name}: guest network path {hits[:5]}; vmm backend {sorted({os.path.basename(r['image']) + ':' + r['symbol'] for r in backend})[:4]}")
    html = open(os.path.join(out, name + ".html")).read()
    for d in doms:
        assert d in html, f"{name}.html does not name domain {d}"
for name in ("native-rx", "native-tx"):
    html = open(os.path.join(out, name + ".html")).read()
    assert "host" in html
r = s["ratio_rx"]
first = list(r)[0]
assert r[first] > 1, f"receive in the VM is not dearer per MB than natively: {r}"
print(f"# VM vs native per MB: receive {r[first]:.2f}x, transmit {list(s['ratio_tx'].values())[0]:.2f}x")
PY
# Issue 14: cost per MB counts work only. No cost row is the idle loop; each
# configuration's work total is its report's total less the idle domain, per
# MB; and its idle share is the idle domain's share of the report's total.
python3 - "$T/demo" <<'PY'
import json, os, sys
out = sys.argv[1]
s = json.load(open(os.path.join(out, "summary.json")))
for name, c in s["configurations"].items():
    rep = json.load(open(os.path.join(out, name + ".report.json")))
    assert all(row["domain"] != "idle" and row["layer"] != "idle" for row in c["layers"]), (name, c["layers"])
    for ev in rep["events"]:
        e, scale = ev["name"], (1e6 if ev["unit"] == "ns" else 1)
        every = sum(d["total"][e]["period"] for d in rep["domains"])
        idle = sum(d["total"][e]["period"] for d in rep["domains"] if d["kind"] == "idle")
        mb = c["bytes"] / 1e6
        assert abs(c["total_per_mb"][e] - (every - idle) / scale / mb) <= 1e-9 * max(1, c["total_per_mb"][e]), (name, e)
        assert abs(c["idle_percent"][e] - 100 * idle / every) <= 1e-9, (name, e, c["idle_percent"][e])
        print(f"# {name}: {e} idle {c['idle_percent'][e]:.1f}% of the recording, not in its cost per MB")
PY
grep -q "idle (CPUs waiting, not in the costs)" "$T/demo.out" || fail "the demo does not print each configuration's idle share"
echo ok
