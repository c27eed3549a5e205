#!/bin/bash
# Issue 5 (call graphs, diff, annotate) on real recordings: a known call
# tree's inclusive and exclusive shares, the per-unit diff of two work
# sizes, and the hottest instruction of a known loop.
. "$(dirname "$0")/lib.sh"
need_root
TOL=5

# 1. Call graph: main -> tree_a (self 10) -> tree_c (40); main -> tree_b (self 20) -> tree_c (30).
"$DOMPROF" record -q -g -o "$T/ct.db" -- "$WORKLOADS/calltree" 4 >/dev/null
"$DOMPROF" report -i "$T/ct.db" --children --comm calltree --sort symbol --format csv >"$T/children.csv"
"$DOMPROF" report -i "$T/ct.db" --callers tree_c --comm calltree --format csv >"$T/callers.csv"
"$DOMPROF" report -i "$T/ct.db" --callees tree_a --comm calltree --format csv >"$T/callees.csv"
"$DOMPROF" report -i "$T/ct.db" --children --comm calltree --sort symbol --limit 8 >"$ARTIFACTS/children.txt"
cp "$T"/*.csv "$ARTIFACTS/"
python3 - "$T/children.csv" "$T/callers.csv" "$T/callees.csv" "$TOL" <<'PY'
import csv, sys
tol = float(sys.argv[4])
rows = {r["symbol"]: r for r in csv.DictReader(open(sys.argv[1]))}
truth = {"tree_a": (50, 10), "tree_b": (50, 20), "tree_c": (70, 70)}
for f, (inc, exc) in truth.items():
    r = rows[f]
    got_inc, got_exc = float(r["cpu-clock:children_percent"]), float(r["cpu-clock:percent"])
    print(f"# {f}: inclusive {got_inc:.1f}% (truth {inc}), exclusive {got_exc:.1f}% (truth {exc})")
    assert abs(got_inc - inc) <= tol and abs(got_exc - exc) <= tol, f
assert float(rows["main"]["cpu-clock:children_percent"]) > 95
callers = {r["symbol"]: float(r["cpu-clock:percent"]) for r in csv.DictReader(open(sys.argv[2]))}
# tree_c's time: 40 under tree_a, 30 under tree_b -> 57.1% / 42.9%
assert abs(callers["tree_a"] - 400 / 7) <= tol and abs(callers["tree_b"] - 300 / 7) <= tol, callers
callees = {r["symbol"]: float(r["cpu-clock:percent"]) for r in csv.DictReader(open(sys.argv[3]))}
# tree_a: 10 self, 40 in tree_c -> 20% / 80%
assert abs(callees["tree_c"] - 80) <= tol and abs(callees["(self)"] - 20) <= tol, callees
print(f"# callers of tree_c: {callers}; callees of tree_a: {callees}")
PY
# Without -g, the call-graph views say what is missing.
"$DOMPROF" record -q -o "$T/flat.db" -- "$WORKLOADS/split" 0.5 >/dev/null
if "$DOMPROF" report -i "$T/flat.db" --children >"$T/flat.out" 2>&1; then fail "--children worked without stacks"; fi
grep -q "record with -g" "$T/flat.out" || fail "unclear error: $(cat "$T/flat.out")"

# 2. diff of two work sizes, per unit of work: the hot functions cost the same per round.
"$DOMPROF" record -q -o "$T/small.db" -- "$WORKLOADS/split" -n 1500 >/dev/null
"$DOMPROF" record -q -o "$T/large.db" -- "$WORKLOADS/split" -n 3000 >/dev/null
"$DOMPROF" diff "$T/small.db" "$T/large.db" --per-a 1500 --per-b 3000 --comm split --sort symbol --format csv >"$T/diff.csv"
"$DOMPROF" diff "$T/small.db" "$T/large.db" --per-a 1500 --per-b 3000 --comm split --sort symbol --limit 5 >"$ARTIFACTS/diff.txt"
cp "$T/diff.csv" "$ARTIFACTS/"
python3 - "$T/diff.csv" <<'PY'
import csv, sys
rows = {r["symbol"]: r for r in csv.DictReader(open(sys.argv[1]))}
for f in ("split_sixty", "split_thirty", "libwork_ten"):
    ratio = float(rows[f]["cpu-clock:ratio"])
    print(f"# per-round {f}: A {float(rows[f]['cpu-clock:a'])/1e3:.1f} us, B {float(rows[f]['cpu-clock:b'])/1e3:.1f} us, B/A {ratio:.3f}")
    assert abs(ratio - 1) <= 0.10, f"{f}: per-unit ratio {ratio}"
PY

# 3. annotate: the hottest instruction of split_sixty is inside its loop.
"$DOMPROF" annotate -i "$T/small.db" split_sixty >"$ARTIFACTS/annotate.txt"
"$DOMPROF" annotate -i "$T/small.db" --format json split_sixty >"$T/annotate.json"
python3 - "$T/annotate.json" <<'PY'
import json, re, sys
a = json.load(open(sys.argv[1]))
ins = a["instructions"]
assert ins, "no instructions"
# The loop: a backward conditional jump and its target.
loops = []
for i in ins:
    m = re.match(r"j\w+ (0x[0-9a-f]+)$", i["text"])
    if m and not i["text"].startswith("jmp") and int(m.group(1), 16) < i["address"]:
        loops.append((int(m.group(1), 16), i["address"]))
assert loops, "no backward jump in split_sixty"
hot = max(ins, key=lambda i: i["period"][0])
lo, hi = loops[0]
print(f"# hottest instruction {hot['address']:#x} {hot['text']!r} ({hot['percent'][0]:.1f}%), loop {lo:#x}..{hi:#x}")
assert lo <= hot["address"] <= hi, "hottest instruction is outside the loop"
inside = sum(i["percent"][0] for i in ins if lo <= i["address"] <= hi)
assert inside > 90, f"only {inside:.1f}% inside the loop"
assert any(i["file"] and i["file"].endswith("split.c") for i in ins), "no source lines"
PY
echo ok
