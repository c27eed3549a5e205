#!/usr/bin/env python3
"""Summarise the network case study (scripts/demo): per configuration the
throughput, each domain/layer's cost per megabyte moved for every event, the
VM-vs-native ratio per megabyte, and the VM's top guest-kernel and vmm
functions. Writes OUT/summary.json and prints the tables.

Cost per megabyte counts work only: the host's idle loop (domain idle, the
CPUs waiting) is left out of every cost row and total; each configuration
prints its idle share instead, so a reader sees whether the run was
CPU-bound.

usage: demo-summary.py OUT VM_NAME EVENTS DURATION MSG"""
import json
import os
import sys

out, vm, events_arg, duration, msg = sys.argv[1:6]
CONFIGS = [
    ("native-rx", "native, receive (loopback)"),
    ("native-tx", "native, transmit (loopback)"),
    ("vm-rx", f"VM {vm} receives (host iperf3 client -> guest server)"),
    ("vm-tx", f"VM {vm} transmits (iperf3 -R: guest -> host)"),
]
MB = 1e6


def load(name):
    with open(os.path.join(out, name + ".iperf.json")) as f:
        ip = json.load(f)
    with open(os.path.join(out, name + ".report.json")) as f:
        rep = json.load(f)
    if "error" in ip:
        sys.exit(f"demo: {name}: iperf3 failed: {ip['error']}")
    end = ip["end"]
    received = end.get("sum_received", {})
    return {
        "bytes": received.get("bytes", 0),
        "seconds": received.get("seconds", 0),
        "bits_per_second": received.get("bits_per_second", 0),
        "report": rep,
    }


def unit_of(ev):
    return "msec" if ev["unit"] == "ns" else "events"


def scale(ev, period):
    return period / 1e6 if ev["unit"] == "ns" else period


summary = {"vm": vm, "duration_s": int(duration), "message_size": msg, "configurations": {}}
results = {name: load(name) for name, _ in CONFIGS}
events = results["native-rx"]["report"]["events"]

for name, title in CONFIGS:
    r = results[name]
    mb = r["bytes"] / MB
    conf = {"title": title, "bytes": r["bytes"], "throughput_bps": r["bits_per_second"], "layers": [], "total_per_mb": {},
            "idle_percent": {}}
    work = [d for d in r["report"]["domains"] if d["kind"] != "idle"]
    idle = [d for d in r["report"]["domains"] if d["kind"] == "idle"]
    for ev in events:
        every = sum(d["total"][ev["name"]]["period"] for d in r["report"]["domains"])
        waited = sum(d["total"][ev["name"]]["period"] for d in idle)
        conf["idle_percent"][ev["name"]] = 100 * waited / every if every else 0.0
        conf.setdefault("idle_per_mb", {})[ev["name"]] = scale(ev, waited) / mb if mb else None
    # Other load on the machine during the run (a shared machine: other
    # VMs, other processes' user time), for judging a run's figures.
    ev0 = events[0]["name"]
    every0 = sum(d["total"][ev0]["period"] for d in r["report"]["domains"])
    other = sum(d["total"][ev0]["period"] for d in work if d["kind"] == "vm" and d["name"] != vm)
    other += sum(x[ev0 + ":period"] for x in r["report"]["rows"]
                 if x["domain"] == "host" and x["layer"] == "user" and x["comm"] not in ("iperf3", "domprof"))
    conf["other_load_percent"] = 100 * other / every0 if every0 else 0.0
    for d in work:
        for layer, vals in d["layers"].items():
            row = {"domain": d["name"], "layer": layer}
            for ev in events:
                p = vals.get(ev["name"], {}).get("period", 0)
                row[ev["name"]] = scale(ev, p) / mb if mb else None
            conf["layers"].append(row)
    for ev in events:
        total = sum(scale(ev, d["total"][ev["name"]]["period"]) for d in work)
        conf["total_per_mb"][ev["name"]] = total / mb if mb else None
    rows = r["report"]["rows"]
    def top(layer, n=8):
        sel = [x for x in rows if x["domain"] == vm and x["layer"] == layer]
        key = events[0]["name"] + ":period"
        agg = {}
        for x in sel:
            k = (x["symbol"], x["image"])
            agg[k] = agg.get(k, 0) + x[key]
        tot = sum(agg.values()) or 1
        return [{"symbol": s, "image": i, "percent_of_layer": 100 * v / tot}
                for (s, i), v in sorted(agg.items(), key=lambda kv: -kv[1])[:n]]
    if name.startswith("vm"):
        conf["top_guest_kernel"] = top("guest-kernel")
        conf["top_guest_user"] = top("guest-user")
        conf["top_vmm"] = top("vmm")
        conf["top_hypervisor"] = top("hypervisor")
        dom = next((d for d in r["report"]["domains"] if d["name"] == vm), None)
        conf["overhead"] = dom["overhead"] if dom else None
        conf["vcpu_halt_per_mb"] = ({ev["name"]: scale(ev, dom["halt"][ev["name"]]["period"]) / mb for ev in events}
                                    if dom and mb else None)
        conf["vm_complete"] = dom["complete"] if dom else False
    summary["configurations"][name] = conf

for direction in ("rx", "tx"):
    nat, vmc = summary["configurations"]["native-" + direction], summary["configurations"]["vm-" + direction]
    summary["ratio_" + direction] = {ev["name"]: (vmc["total_per_mb"][ev["name"]] / nat["total_per_mb"][ev["name"]])
                                     if nat["total_per_mb"][ev["name"]] else None for ev in events}

with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)

# ---- print ----
evn = [ev["name"] for ev in events]
print()
print(f"Network I/O virtualization: cost per megabyte moved ({', '.join(evn)}; "
      f"{duration} s per run, {msg} messages; work only: the host's idle loop is left out)")
print()
print(f"{'configuration':<48} {'throughput':>14} {'MB moved':>10}")
for name, title in CONFIGS:
    c = summary["configurations"][name]
    print(f"{title:<48} {c['throughput_bps'] / 1e9:>9.2f} Gbit/s {c['bytes'] / MB:>10.0f}")
for name, title in CONFIGS:
    c = summary["configurations"][name]
    print()
    print(title)
    head = "".join(f" {e + ' ' + unit_of(ev) + '/MB':>28}" for e, ev in zip(evn, events))
    print(f"  {'domain':<12} {'layer':<13}{head}")
    for row in c["layers"]:
        cells = "".join(f" {row[e]:>28.4f}" for e in evn)
        print(f"  {row['domain']:<12} {row['layer']:<13}{cells}")
    cells = "".join(f" {c['total_per_mb'][e]:>28.4f}" for e in evn)
    print(f"  {'all':<12} {'work':<13}{cells}")
    print("  idle (CPUs waiting, not in the costs): " +
          ", ".join(f"{e} {c['idle_percent'][e]:.1f}% of the recording" for e in evn))
    print(f"  other load on this machine (other VMs, other processes' user time): "
          f"{c['other_load_percent']:.1f}% of the recording")
    if c.get("overhead"):
        print("  " + ", ".join(f"{e}: (hypervisor+vmm)/guest = {100 * v:.1f}%" for e, v in c["overhead"].items() if v is not None))
print()
for direction, label in (("rx", "receive"), ("tx", "transmit")):
    ratios = summary["ratio_" + direction]
    print(f"VM vs native, {label}, per MB: " + ", ".join(f"{e} {v:.2f}x" for e, v in ratios.items() if v))
for name in ("vm-rx", "vm-tx"):
    c = summary["configurations"][name]
    for layer in ("guest_kernel", "vmm"):
        print()
        print(f"Top {layer.replace('_', '-')} functions of {vm}, {c['title']}:")
        for t in c["top_" + layer][:6]:
            print(f"  {t['percent_of_layer']:6.2f}%  {t['symbol']:<40} {os.path.basename(t['image'])}")
