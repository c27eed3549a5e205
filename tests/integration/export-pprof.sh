#!/bin/bash
# Issue: domprof export. A workload with a known call tree (calltree:
# main -> tree_a -> tree_c 40%, main -> tree_b -> tree_c 30%, tree_a itself
# 10%, tree_b itself 20%) recorded with -g:
#  - the folded export holds both paths in the right proportion (against the
#    workload's own account of each part's CPU time in the same run, within
#    Z standard deviations of the sample count: truth.py);
#  - the pprof export decodes with an independent decoder (protoc --decode
#    against lib/report/profile.proto) and each sample type sums to the
#    report's totals exactly, with and without filters; stacks are leaf
#    first; `pprof` itself is used too when it is installed;
#  - the JSON export parses and agrees with the report;
#  - bad input gets a clear error and a non-zero exit.
. "$(dirname "$0")/lib.sh"
need_root
command -v protoc >/dev/null || skip "protoc is not installed (Debian package protobuf-compiler, scripts/deps)"
PROTO_DIR="$SOURCE_ROOT/lib/report"

"$DOMPROF" record -q -g -o "$T/ct.db" -- "$WORKLOADS/calltree" -c 3 >"$T/ct.out"
cp "$T/ct.out" "$ARTIFACTS/"

# 1. Folded stacks: both paths to tree_c, in proportion.
"$DOMPROF" export -q -i "$T/ct.db" --format folded -o "$T/ct.folded"
cp "$T/ct.folded" "$ARTIFACTS/"
"$DOMPROF" report -i "$T/ct.db" --comm calltree --format json >"$T/ct-summary.json"
python3 - "$T/ct.folded" "$T/ct.out" "$T/ct-summary.json" <<'PY'
import json, sys
from truth import Z, close, share_sd, unexplained, user_fraction, workload_account
paths = {"a_c": 0, "b_c": 0, "a": 0, "b": 0}
total = kernel = 0
for line in open(sys.argv[1], "rb"):
    stack, _, count = line.rstrip(b"\n").rpartition(b" ")
    frames = stack.decode("utf-8", "replace").split(";")
    domain, layer, comm = frames[:3]
    if comm != "calltree":
        continue
    n = int(count)
    total += n
    kernel += n if layer == "kernel" else 0
    tail = ";".join(frames[3:])
    for key, suffix in (("a_c", "main;tree_a;tree_c"), ("b_c", "main;tree_b;tree_c"), ("a", "main;tree_a"),
                        ("b", "main;tree_b")):
        if tail.endswith(suffix) and (tail == suffix or tail.endswith(";" + suffix)):
            paths[key] += n
assert total > 0, "no calltree lines in the folded export"
# The truth: each part's CPU time as the program measured it (work.h), of
# its whole CPU time; a folded line ending in a function is a sample in it,
# in user mode (user_fraction); the program's clock reads and the part of
# its sampled time its CPU time does not explain are allowances.
# Folded counts are periods: the program's sample count is the report's.
ev = json.load(open(sys.argv[3]))["events"][0]
n = ev["filtered_samples"]
acc = workload_account(sys.argv[2], "calltree")
eps = unexplained(n, ev["filtered_period"] / n, acc)
u = user_fraction(kernel, total, acc)
overhead = acc["reads"] * acc["read_ns"] / acc["total"]
want = {"a_c": acc["c_in_a"], "b_c": acc["c_in_b"], "a": acc["tree_a"], "b": acc["tree_b"]}
for k, v in want.items():
    p = u * v / acc["total"]
    close(f"folded {k} ({n} samples)", 100 * paths[k] / total, 100 * p, 100 * (Z * share_sd(p, n) + overhead + eps), "%")
PY

# 2. pprof: decoded by protoc; totals equal the report's, per view and filter.
check_pprof() {
	local name=$1
	shift
	"$DOMPROF" export -q -i "$T/ct.db" --format pprof -o "$T/$name.pb.gz" "$@"
	gunzip -c "$T/$name.pb.gz" > "$T/$name.pb"
	protoc --decode=perftools.profiles.Profile -I "$PROTO_DIR" "$PROTO_DIR/profile.proto" \
		< "$T/$name.pb" > "$T/$name.txt" 2>"$T/$name.err" ||
		fail "protoc could not decode the pprof export ($*): $(cat "$T/$name.err")"
	cp "$T/$name.txt" "$ARTIFACTS/"
	"$DOMPROF" report -i "$T/ct.db" --format json "$@" > "$T/$name-report.json"
	python3 - "$T/$name.txt" "$T/$name-report.json" "$name" <<'PY'
import ast, json, sys

def parse(path):
    """protoc's text format -> nested dicts of lists."""
    root = {}
    stack = [root]
    for raw in open(path, encoding="utf-8"):
        line = raw.strip()
        if not line:
            continue
        if line.endswith("{"):
            node = {}
            stack[-1].setdefault(line[:-1].strip(), []).append(node)
            stack.append(node)
        elif line == "}":
            stack.pop()
        else:
            key, _, value = line.partition(": ")
            if value.startswith('"'):
                value = ast.literal_eval("b" + value).decode("utf-8")
            elif value in ("true", "false"):
                value = value == "true"
            else:
                value = int(value)
            stack[-1].setdefault(key, []).append(value)
    return root

p = parse(sys.argv[1])
report = json.load(open(sys.argv[2]))
strings = p["string_table"]
assert strings[0] == "", "string_table[0] must be empty"
types = [(strings[t.get("type", [0])[0]], strings[t.get("unit", [0])[0]]) for t in p["sample_type"]]
sums = [0] * len(types)
for s in p.get("sample", []):
    values = s.get("value", [])
    assert len(values) == len(types), f"sample with {len(values)} values for {len(types)} types"
    for i, v in enumerate(values):
        sums[i] += v
for ev in report["events"]:
    unit = "nanoseconds" if ev["unit"] == "ns" else "count"
    i = types.index((ev["name"], unit))
    j = types.index((ev["name"] + ":samples", "count"))
    print(f"# {sys.argv[3]}: {ev['name']} pprof {sums[i]} / report {ev['filtered_period']}, "
          f"samples {sums[j]} / {ev['filtered_samples']}")
    assert sums[i] == ev["filtered_period"], (sums[i], ev["filtered_period"])
    assert sums[j] == ev["filtered_samples"], (sums[j], ev["filtered_samples"])
    assert ev["filtered_samples"] > 0

# What pprof's Profile.CheckValid demands: unique non-zero ids, every
# reference resolved.
for kind in ("mapping", "location", "function"):
    ids = [x["id"][0] for x in p[kind]]
    assert all(ids) and len(ids) == len(set(ids)), f"{kind} ids not unique and non-zero"
map_ids = {m["id"][0] for m in p["mapping"]}
fn_ids = {f["id"][0] for f in p["function"]}
loc_ids = {l["id"][0] for l in p["location"]}
for l in p["location"]:
    assert l.get("mapping_id", [0])[0] in map_ids | {0}, l
    assert all(x["function_id"][0] in fn_ids for x in l["line"]), l
for s in p["sample"]:
    assert s["location_id"] and all(i in loc_ids for i in s["location_id"]), s
# Stacks are leaf first: some sample reads tree_c, tree_a, main from index 0.
functions = {f["id"][0]: strings[f["name"][0]] for f in p["function"]}
locations = {l["id"][0]: functions[l["line"][0]["function_id"][0]] for l in p["location"]}
stacks = [[locations[i] for i in s.get("location_id", [])] for s in p.get("sample", [])]
assert any(st[:3] == ["tree_c", "tree_a", "main"] for st in stacks), "no leaf-first tree_c <- tree_a <- main"
assert any(st[:3] == ["tree_c", "tree_b", "main"] for st in stacks), "no leaf-first tree_c <- tree_b <- main"
# Labels, mappings with build-ids, session fields.
labels = {strings[l["key"][0]] for s in p["sample"] for l in s.get("label", [])}
assert {"domain", "layer", "comm", "pid"} <= labels, labels
maps = {strings[m["filename"][0]]: m for m in p["mapping"]}
exe = [m for f, m in maps.items() if f.endswith("/calltree")]
assert exe and strings[exe[0]["build_id"][0]], f"calltree mapping without a build-id: {list(maps)}"
assert p["time_nanos"][0] > 1.5e18 and p["duration_nanos"][0] > 2e9, (p["time_nanos"], p["duration_nanos"])
assert strings[p["period_type"][0]["type"][0]] == report["events"][0]["name"]
PY
}
check_pprof all
check_pprof user --comm calltree --layer user
check_pprof host --domain host --source host --event cpu-clock

# pprof itself, when installed (not in Debian's default set): it must read
# the file and name the functions.
if command -v pprof >/dev/null 2>&1; then
	pprof -top "$T/all.pb.gz" > "$T/pprof-top.txt" 2>&1 || fail "pprof could not read the export: $(cat "$T/pprof-top.txt")"
	grep -q tree_c "$T/pprof-top.txt" || fail "pprof -top does not list tree_c"
elif command -v go >/dev/null 2>&1 && go tool pprof -h >/dev/null 2>&1; then
	go tool pprof -top "$T/all.pb.gz" > "$T/pprof-top.txt" 2>&1 || fail "go tool pprof could not read the export"
	grep -q tree_c "$T/pprof-top.txt" || fail "go tool pprof -top does not list tree_c"
else
	note "pprof is not installed: checked with protoc only"
fi

# 3. JSON: parses; sums equal the report's; stacks outermost first.
"$DOMPROF" export -i "$T/ct.db" --format json --comm calltree > "$T/ct.json"
"$DOMPROF" report -i "$T/ct.db" --format json --comm calltree > "$T/ct-report.json"
python3 - "$T/ct.json" "$T/ct-report.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
assert j["format"] == "domprof-export"
for e, re in zip(j["events"], r["events"]):
    total = sum(s["values"][e["name"]]["period"] for s in j["samples"])
    assert total == re["filtered_period"] == e["filtered_period"], (total, re["filtered_period"])
stacks = [[f["symbol"] for f in s["stack"]] for s in j["samples"] if s["stack"]]
assert any(st[-3:] == ["main", "tree_a", "tree_c"] for st in stacks), "no main -> tree_a -> tree_c"
print(f"# json: {len(j['samples'])} samples, stacks outermost first")
PY

# 4. Errors name the input and exit non-zero.
expect_error() {
	local pattern=$1
	shift
	if "$DOMPROF" export "$@" > "$T/err.out" 2> "$T/err.txt"; then
		fail "export $* succeeded"
	fi
	grep -q -- "$pattern" "$T/err.txt" || fail "export $*: '$(cat "$T/err.txt")' does not mention '$pattern'"
}
expect_error "$T/none.db" -i "$T/none.db" --format folded
echo "not a session" > "$T/bad.db"
expect_error "not a domprof session" -i "$T/bad.db" --format folded
expect_error "'svg'" -i "$T/ct.db" --format svg
expect_error "--format" -i "$T/ct.db"
expect_error "'nope'" -i "$T/ct.db" --format folded --domain nope
expect_error "'cycles'" -i "$T/ct.db" --format folded --event cycles
expect_error "--value" -i "$T/ct.db" --format pprof --value samples -o "$T/x.pb.gz"
expect_error "session being exported" -i "$T/ct.db" --format json -o "$T/ct.db"
[ ! -e "$T/x.pb.gz" ] || fail "a failed export left $T/x.pb.gz"
echo "ok"
