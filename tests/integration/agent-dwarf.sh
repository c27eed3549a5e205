#!/bin/bash
# Issue 17 inside a guest: the coordinator asks the agent for dwarf call
# graphs (SETUP mode 2), and the agent unwinds the guest's own stacks
# through code without frame pointers. The guest runs nofp-sort (-O2,
# -fomit-frame-pointer) again and again; every run prints its own account
# of the CPU time of its two phases (qsort with its comparator, and the
# function main calls directly), and the split is the same in every run
# and every part of one (rounds of both phases alternate), so the guest's
# recorded stacks main -> qsort -> qsort_compare and main -> nofp_direct
# must hold the shares those accounts give, within 3 points.
. "$(dirname "$0")/lib.sh"
need_root
VM=dwarfvm-$RUN_TAG

"$DOMPROF" keygen "$T/key" >/dev/null 2>&1
build_guest_image --file "$T/key=/etc/domprof.key" --bin "$WORKLOADS/nofp-sort"
P=$(free_port)
AGENT='domprof agent --listen tcp:0.0.0.0:7070 --key /etc/domprof.key'
vm=$(start_vm "$VM" --cpus 1 --fwd "$P:7070" \
	--wait-for 'domprof agent listening' -- "$AGENT & while :; do nofp-sort -c 1; done")
note "VM up: $VM (pid $vm), agent on port $P"

"$DOMPROF" record -a --call-graph dwarf -d 12 -o "$T/agent.db" --agent "$VM=tcp:127.0.0.1:$P" \
	--key "$T/key" >"$T/record.out" 2>&1 || fail "record --call-graph dwarf with an agent failed: $(cat "$T/record.out")"
cp "$T/record.out" "$ARTIFACTS/"
sleep 1
tr -d '\r' <"$T/vmstate/$VM.log" >"$T/console.txt"
cp "$T/console.txt" "$ARTIFACTS/"
grep -q "setup: .*dwarf call graphs" "$T/console.txt" ||
	fail "the agent was not asked for dwarf call graphs: $(grep 'setup:' "$T/console.txt" | tail -1)"
"$DOMPROF" export -i "$T/agent.db" -f folded --domain "$VM" --comm nofp-sort --value samples -o "$T/guest.folded"
cp "$T/guest.folded" "$ARTIFACTS/"

python3 - "$T/console.txt" "$T/guest.folded" <<'PY'
import re, sys
from truth import sanitized
runs = [dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
        for line in open(sys.argv[1], errors="replace") if line.startswith("nofp-sort cpu-ns:")]
assert runs, "no run of nofp-sort finished in the guest (no account on its console)"
total = sum(r["total"] for r in runs)
truth = {k: sum(r[k] for r in runs) / total for k in ("qsort", "nofp_direct")}

IS = {
    "main": lambda f: f == "main",
    "qsort": lambda f: "qsort" in f and f != "qsort_compare",
    "qsort_compare": lambda f: f == "qsort_compare",
    "nofp_direct": lambda f: f == "nofp_direct",
}
def has_path(frames, names):
    i = 0
    for f in frames:
        if i < len(names) and IS[names[i]](f):
            i += 1
    return i == len(names)

stacks = []
for line in open(sys.argv[2]):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    stacks.append((stack.split(";")[3:], int(n)))
# Under the sanitizers the agent (instrumented, in an emulated guest) falls
# behind the kernel and keeps most samples without their callers (they end
# in the marker frame, docs/attribution.md), more of them in the deeper qsort
# stacks: the shares then measure its speed. There only the paths are
# checked, among the stacks it walked (docs/testing.md).
walked_only = sanitized()
if walked_only:
    behind = sum(c for s, c in stacks if "[unwind stopped]" in s)
    stacks = [(s, c) for s, c in stacks if "[unwind stopped]" not in s]
    print(f"# sanitizer build: {behind} samples kept without callers left out; shares not asserted")
n = sum(c for _, c in stacks)
assert n >= (30 if walked_only else 300), f"only {n} guest samples of nofp-sort"
share = lambda names: sum(c for s, c in stacks if has_path(s, names)) / n
got = {"main": share(["main"]), "qsort": share(["main", "qsort"]),
       "compare": share(["main", "qsort", "qsort_compare"]), "direct": share(["main", "nofp_direct"])}
print(f"# guest: {len(runs)} runs, truth qsort {truth['qsort']:.3f} direct {truth['nofp_direct']:.3f}; "
      f"recorded {n} samples: " + " ".join(f"{k} {v:.3f}" for k, v in got.items()))
errors = []
if walked_only:
    if got["qsort"] <= 0 or got["direct"] <= 0:
        errors.append("no stack main -> qsort or main -> nofp_direct among the walked ones")
else:
    if abs(got["qsort"] - truth["qsort"]) > 0.03:
        errors.append(f"main->qsort {got['qsort']:.3f} vs the workload's {truth['qsort']:.3f}")
    if abs(got["direct"] - truth["nofp_direct"]) > 0.03:
        errors.append(f"main->nofp_direct {got['direct']:.3f} vs the workload's {truth['nofp_direct']:.3f}")
# How the sort's time splits between qsort's own code and the comparator
# depends on the CPU (and on TCG): only that the path is there.
if got["compare"] <= 0:
    errors.append("no stack main -> qsort -> qsort_compare in the guest")
if errors:
    sys.exit("FAIL: " + "; ".join(errors))
PY
echo "PASS: the agent unwinds the guest's stacks through code without frame pointers"
