#!/usr/bin/env python3
"""Several runs of the network case study (scripts/demo), side by side: for
each figure of demo-summary.py, the median and the range (min-max) over the
runs, as the Markdown tables of docs/case-study.md.

usage: demo-aggregate.py OUT1 OUT2 OUT3 ...   (each an OUT of scripts/demo)"""
import json
import os
import statistics
import sys

runs = [json.load(open(os.path.join(d, "summary.json"))) for d in sys.argv[1:]]
if len(runs) < 2:
    sys.exit("usage: demo-aggregate.py OUT1 OUT2 [OUT3 ...]: at least two runs of scripts/demo")
CONFIGS = [("native-rx", "native rx"), ("native-tx", "native tx"), ("vm-rx", "VM rx"), ("vm-tx", "VM tx")]
event = next(iter(runs[0]["configurations"]["native-rx"]["total_per_mb"]))


def cell(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return ""
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return f"{fmt.format(mid)} ({fmt.format(lo)}–{fmt.format(hi)})"


def conf(run, name):
    return run["configurations"][name]


print(f"{len(runs)} runs; each cell: median (min–max); event {event}\n")
print("| configuration | throughput, Gbit/s | MB moved | idle, % of the recording | other load, % of the recording |")
print("| --- | --- | --- | --- | --- |")
for name, title in CONFIGS:
    print(f"| {title} | {cell([conf(r, name)['throughput_bps'] / 1e9 for r in runs], '{:.2f}')} "
          f"| {cell([conf(r, name)['bytes'] / 1e6 for r in runs], '{:.0f}')} "
          f"| {cell([conf(r, name)['idle_percent'][event] for r in runs], '{:.1f}')} "
          f"| {cell([conf(r, name).get('other_load_percent') for r in runs], '{:.1f}')} |")

print(f"\n{event} per megabyte moved, work only (msec/MB for clock events):\n")


def row_key(run, row):
    """host LAYER, VM LAYER (the demo's VM), or other VMs (every layer of
    VMs that were not the demo's: other load on a shared machine)."""
    if row["domain"] == "host":
        return ("host", row["layer"])
    if row["domain"] == run["vm"]:
        return ("VM", row["layer"])
    return ("other VMs", "")


ORDER = [("host", "user"), ("host", "kernel"), ("VM", "guest-user"), ("VM", "guest-kernel"), ("VM", "guest"),
         ("VM", "hypervisor"), ("VM", "vmm"), ("other VMs", "")]
rows = [k for k in ORDER if any(row_key(r, row) == k for r in runs for n, _ in CONFIGS for row in conf(r, n)["layers"])]
print("| domain / layer | " + " | ".join(t for _, t in CONFIGS) + " |")
print("| --- |" + " --- |" * len(CONFIGS))
for key in rows:
    cells = []
    for name, _ in CONFIGS:
        vals = []
        for r in runs:
            v = [row[event] for row in conf(r, name)["layers"] if row_key(r, row) == key]
            vals.append(sum(v) if v else None)
        cells.append(cell(vals, "{:.4f}"))
    print(f"| {' '.join(key).strip()} | " + " | ".join(cells) + " |")
print("| **work total** | " + " | ".join(cell([conf(r, name)["total_per_mb"][event] for r in runs], "{:.4f}")
                                       for name, _ in CONFIGS) + " |")
print("| VM overhead (hypervisor + vmm) / guest, % | | | " +
      " | ".join(cell([100 * conf(r, name)["overhead"][event] if conf(r, name).get("overhead") and
                       conf(r, name)["overhead"][event] is not None else None for r in runs], "{:.1f}")
                 for name in ("vm-rx", "vm-tx")) + " |")
print("\nThe same runs counted as before idle was a domain (idle inside host kernel):\n")
print("| per MB | " + " | ".join(t for _, t in CONFIGS) + " |")
print("| --- |" + " --- |" * len(CONFIGS))
def old_host_kernel(c):
    return sum(row[event] for row in c["layers"] if row["domain"] == "host" and row["layer"] == "kernel") + c["idle_per_mb"][event]
print("| host kernel, idle included | " + " | ".join(cell([old_host_kernel(conf(r, name)) for r in runs], "{:.4f}")
                                              for name, _ in CONFIGS) + " |")
print("| total, idle included | " + " | ".join(cell([conf(r, name)["total_per_mb"][event] + conf(r, name)["idle_per_mb"][event]
                                                  for r in runs], "{:.4f}") for name, _ in CONFIGS) + " |")
for d, label in (("rx", "receive"), ("tx", "transmit")):
    old = [(conf(r, "vm-" + d)["total_per_mb"][event] + conf(r, "vm-" + d)["idle_per_mb"][event]) /
           (conf(r, "native-" + d)["total_per_mb"][event] + conf(r, "native-" + d)["idle_per_mb"][event]) for r in runs]
    print(f"\nVM vs native, {label}, per MB, idle included: {cell(old, '{:.1f}')}x", end="")
print()
print()
for d, label in (("rx", "receive"), ("tx", "transmit")):
    print(f"VM vs native, {label}, per MB of work: {cell([r['ratio_' + d][event] for r in runs], '{:.1f}')}x")

# The VM's top functions per layer: share of the layer in each run, for the
# functions in the top 6 of any run.
for name, title in (("vm-rx", "VM rx"), ("vm-tx", "VM tx")):
    for layer in ("guest_kernel", "vmm", "hypervisor"):
        names = []
        for r in runs:
            for t in conf(r, name)["top_" + layer][:6]:
                if t["symbol"] not in names:
                    names.append(t["symbol"])
        shares = {n: [next((t["percent_of_layer"] for t in conf(r, name)["top_" + layer] if t["symbol"] == n), 0.0)
                      for r in runs] for n in names}
        ranked = sorted(names, key=lambda n: -statistics.median(shares[n]))[:6]
        print(f"\n{title}, top {layer.replace('_', '-')} functions (% of the layer): " +
              ", ".join(f"`{n}` {cell(shares[n], '{:.1f}')}" for n in ranked))
