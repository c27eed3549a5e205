#!/bin/bash
# `domprof html`: a real recorded session with two domains (the host running
# the calltree workload under -g, and a process of ours recorded as a VM
# with --vm) becomes one self-contained page, which Debian's headless
# Chromium renders without a console error: every domain of the session is
# in elements the page's JavaScript creates, the host's flame graph holds
# the known call tree in its known proportions, click-to-zoom, search and
# table sorting work, and the file references nothing outside itself.
# Artifacts: the page, the rendered DOM, console logs, light and dark
# screenshots.
# The call tree's shares are checked against the program's own account of
# its CPU time (work.h) within Z standard deviations of the sample count
# (truth.py); the program runs under a name of its own (other programs
# called calltree may run on this host meanwhile, and a flame graph groups
# by name). Nothing here measures domprof's own speed.
. "$(dirname "$0")/lib.sh"
need_root
command -v chromium >/dev/null || skip "chromium is not installed (scripts/deps installs it)"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed (scripts/deps installs it)"

# Headless Chromium, bounded in time (timeout signals its whole process
# group), with a profile of its own under $T and no network chatter.
chrome() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --disable-extensions \
		--user-data-dir="$T/chrome" --enable-logging=stderr --v=0 "$@"
}
# Console messages and uncaught exceptions in Chromium's log; the page logs
# nothing when all is well.
console_errors() { grep -E ':CONSOLE|Uncaught' "$1" || true; }

# 1. A session: calltree on the host with call stacks; a split process of
#    ours treated as the VM "fakevm", and a syscalls process as a VM whose
#    name is hostile markup (names come from guests: the page must show it
#    as text); two events, so the page has an event selector.
EVIL="evil</script><b onmouseover>x<!--\"&amp;'"
"$WORKLOADS/split" 30 >/dev/null &
fake=$!
"$WORKLOADS/syscalls" 30 >/dev/null &
fake2=$!
BG_PIDS="$fake $fake2"
COMM=calltree-$RUN_TAG
cp "$WORKLOADS/calltree" "$T/$COMM"
"$DOMPROF" record -q -a -g -e cpu-clock,page-faults -F 1000 --vm "fakevm=$fake" --vm "$EVIL=$fake2" -o "$T/s.db" \
	-- "$T/$COMM" -c 3 >"$T/ct.out"
cp "$T/ct.out" "$ARTIFACTS/"
kill "$fake" "$fake2" 2>/dev/null || true
sqlite3 -json "$T/s.db" "SELECT name FROM domains ORDER BY id" > "$T/domains.json"
python3 - "$T/domains.json" "$EVIL" <<'PY'
import json, sys
names = [d["name"] for d in json.load(open(sys.argv[1]))]
print(f"# domains: {names}")
assert {"host", "fakevm", sys.argv[2]} <= set(names), f"session lacks host, fakevm or the hostile VM: {names}"
PY

# 2. The page.
"$DOMPROF" html -i "$T/s.db" -o "$T/report.html" 2>"$T/html.err" || fail "domprof html failed: $(cat "$T/html.err")"
cp "$T/report.html" "$ARTIFACTS/report.html"
note "$(cat "$T/html.err")"
"$DOMPROF" report -i "$T/s.db" --format json > "$T/report.json"

# 3. Nothing external: the only URL is the SVG namespace name (an
#    identifier, never fetched), no element loads anything, and the policy
#    forbids every fetch.
python3 - "$T/report.html" <<'PY'
import html.parser, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
urls = set(re.findall(r"""(?i)\b(?:https?|ftp|wss?)://[^\s"'<>)]*""", text))
assert urls <= {"http://www.w3.org/2000/svg"}, f"external references: {sorted(urls)}"
assert not re.search(r"(?i)url\(\s*['\"]?(?!#|data:)", text), "CSS url() pointing outside"
assert not re.search(r"(?i)@import", text), "CSS @import"
class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.bad, self.csp = [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("link", "img", "iframe", "object", "embed", "base", "source", "audio", "video"):
            self.bad.append(tag)
        for k in ("src", "href", "srcset", "action", "data"):
            if k in a and not (a[k] or "").startswith("#"):
                self.bad.append(f"{tag} {k}={a[k]}")
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = a.get("content")
t = Tags()
t.feed(text)
assert not t.bad, f"elements that load something: {t.bad}"
assert t.csp and "default-src 'none'" in t.csp, f"no Content-Security-Policy forbidding fetches: {t.csp}"
print(f"# page: {len(text)} bytes, no external reference, CSP: {t.csp[:40]}...")
PY

# 4. The embedded data: valid JSON, every domain of the session with the
#    totals `domprof report` gives, and calltree's known tree in the host's
#    flame graph: inclusive tree_a, tree_b and tree_c as the program
#    measured them (about 50, 50 and 70 % by construction, calltree.c).
python3 - "$T/report.html" "$T/report.json" "$T/domains.json" "$COMM" "$T/ct.out" "$T/expect.json" <<'PY'
import json, re, sys
from truth import Z, close, share_sd, unexplained, workload_account
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<script type="application/json" id="domprof-data">(.*?)</script>', text, re.S)
assert m, "no embedded data"
assert "<" not in m.group(1), "unescaped '<' in the embedded data"
data = json.loads(m.group(1))
report = json.load(open(sys.argv[2]))
names = [d["name"] for d in json.load(open(sys.argv[3]))]
comm = sys.argv[4]
acc = workload_account(sys.argv[5], "calltree")
assert [d["name"] for d in data["domains"]] == names, ([d["name"] for d in data["domains"]], names)
events = [e["name"] for e in data["events"]]
assert events == ["cpu-clock", "page-faults"], events
for d in data["domains"]:
    r = next(x for x in report["domains"] if x["name"] == d["name"])
    for e, ev in enumerate(events):
        assert d["period"][e] == r["total"][ev]["period"], (d["name"], ev, d["period"], r["total"])
        for layer, v in r["layers"].items():
            assert d["layers"][layer]["period"][e] == v[ev]["period"], (d["name"], ev, layer)
ne = len(data["events"])
stride = 3 + 2 * ne
def tree(d):
    f, nodes = d["flame"]["nodes"], []
    for o in range(0, len(f), stride):
        p = f[o]
        nodes.append({"name": data["strings"][f[o + 1]], "period": f[o + 3], "parent": p,
                      "path": (nodes[p]["path"] if p >= 0 else ()) + (data["strings"][f[o + 1]],)})
    return nodes
host = tree(next(d for d in data["domains"] if d["name"] == "host"))
assert host[0]["period"] == data["domains"][0]["period"][0], "flame root is not the domain total"
prog = [n for n in host if n["path"][:3] == ("host", "user", comm)]
total = next(n["period"] for n in prog if len(n["path"]) == 3)
period = report["events"][0]["period"] / report["events"][0]["samples"]
n = round(total / period)
def inclusive(fn, nodes=prog):
    # Outermost occurrence of fn on each path, so recursion is not counted twice.
    return sum(x["period"] for x in nodes if x["name"] == fn and fn not in x["path"][:-1])
# The program's user-mode subtree: shares of its user samples (the kernel
# time during each part falls out of numerator and denominator alike); the
# program's clock reads and the part of its sampled time its CPU time does
# not explain (truth.unexplained: measured up to 6% on a loaded machine,
# the program shares two CPUs with two busy fake VMs here) are allowances.
overhead = acc["reads"] * acc["read_ns"] / acc["total"]
whole = sum(x["period"] for x in host if x["path"][2:3] == (comm,) and len(x["path"]) == 3)
eps = unexplained(round(whole / period), period, acc)
c = acc["c_in_a"] + acc["c_in_b"]
for fn, own in (("tree_a", acc["tree_a"] + acc["c_in_a"]), ("tree_b", acc["tree_b"] + acc["c_in_b"]), ("tree_c", c)):
    p = own / acc["total"]
    close(f"flame graph: {fn} of {comm} ({n} samples)", 100 * inclusive(fn) / total, 100 * p,
          100 * (Z * share_sd(p, n) + overhead + eps), "%")
# What the page's search must report (section 6): the outermost matching
# frames' share of the host, as FlameGraph counts it.
root = host[0]["period"]
json.dump({"comm": 100 * inclusive(comm, host) / root, "tree_c": 100 * inclusive("tree_c", host) / root},
          open(sys.argv[6], "w"))
fake = tree(next(d for d in data["domains"] if d["name"] == "fakevm"))
assert any(n["path"][:2] == ("fakevm", "vmm") for n in fake), "fakevm has no vmm layer in its flame graph"
assert any(n["name"] == "split_sixty" for n in fake), "fakevm's flame graph lacks split_sixty"
print(f"# data: {len(host)} host frames, {len(fake)} fakevm frames, {data['timeline']['points']} timeline points")
PY

# 5. Rendered by Chromium: the DOM after the page's script ran, console log.
chrome --dump-dom "file://$T/report.html" > "$T/dom.html" 2> "$T/console.log" || fail "chromium --dump-dom failed: $(tail -5 "$T/console.log")"
cp "$T/dom.html" "$T/console.log" "$ARTIFACTS/"
# The header's command line is the one typed, its program name once.
cmdline=$(grep -o '<div class="cmdline">[^<]*' "$T/dom.html" | sed 's/^[^>]*>//')
case $cmdline in "domprof record -q -a -g "*) ;; *) fail "the header's command line is '$cmdline'" ;; esac
errs=$(console_errors "$T/console.log")
[ -z "$errs" ] || fail "console errors while rendering the page: $errs"
python3 - "$T/dom.html" "$T/domains.json" "$COMM" "$T/report.json" <<'PY'
import html.parser, json, sys
names = [d["name"] for d in json.load(open(sys.argv[2]))]
# Other VMs on this host are in a system-wide session too, some with no
# sample in it: their flame graph says so instead of drawing a root.
sampled = {d["name"] for d in json.load(open(sys.argv[4]))["domains"] if d["total"]["cpu-clock"]["period"] > 0}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
class DOM(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.found, self.errors, self.in_errors = [], [], None, False
        self.rendered = False
        self.bad, self.text = [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body" and a.get("data-rendered") == "true":
            self.rendered = True
        if a.get("id") == "domprof-errors":
            self.in_errors, self.errors = True, ""
        for k in ("src", "href"):
            if k in a and not (a[k] or "").startswith("#"):
                self.bad.append(f"{tag} {k}={a[k]}")
        # The page sets handlers with addEventListener: an on* attribute
        # can only come from a name taken as markup.
        self.bad += [f"{tag} {k}" for k in a if k.startswith("on")]
        # (element, its classes, its domain, the domain of the nearest enclosing element)
        outer = next((s[2] for s in reversed(self.stack) if s[2] is not None), None)
        entry = (tag, (a.get("class") or "").split(), a.get("data-domain"), a.get("data-name"), a.get("data-symbol"),
                 a.get("data-layer"))
        self.found.append((entry, outer))
        if tag not in VOID:
            self.stack.append((tag, entry, a.get("data-domain") or outer))
    def handle_endtag(self, tag):
        if self.in_errors and tag == "pre":
            self.in_errors = False
        if any(t[0] == tag for t in self.stack):
            while self.stack.pop()[0] != tag:
                pass
    def handle_data(self, data):
        if self.in_errors:
            self.errors += data
        if not self.stack or self.stack[-1][0] != "script":
            self.text.append(data)
d = DOM()
d.feed(open(sys.argv[1], encoding="utf-8").read())
assert d.rendered, "the page's script did not finish (no data-rendered on <body>)"
assert d.errors is not None, "no #domprof-errors element"
assert d.errors.strip() == "", f"errors reported by the page: {d.errors.strip()}"
assert not d.bad, f"rendered elements that load something, or names taken as markup: {d.bad}"
text = " ".join(d.text)
for junk in ("[object ", "NaN", "undefined", "Infinity"):
    assert junk not in text, f"rendered text holds {junk!r}: ...{text[max(0, text.find(junk) - 80):text.find(junk) + 40]}..."
def has(domain, tag, cls=None, **want):
    for (t, classes, dom, name, sym, layer), outer in d.found:
        if t != tag or (cls and cls not in classes):
            continue
        if (dom or outer) != domain:
            continue
        if all({"name": name, "symbol": sym, "layer": layer}[k] == v for k, v in want.items()):
            return True
    return False
for n in names:
    for what, tag, cls in (("bar", "div", "track"), ("timeline", "svg", "timeline"), ("flame graph", "svg", "flame"),
                           ("top-symbol table", "table", "top"), ("section", "section", "domain")):
        assert has(n, tag, cls), f"domain {n}: no rendered {what} ({tag}.{cls}[data-domain])"
    assert has(n, "g", "fr", name=n) == (n in sampled), \
        f"domain {n}: {'no' if n in sampled else 'a'} root frame in the flame graph of a domain with{'' if n in sampled else 'out'} samples"
    print(f"# rendered: {n!r}: bar, timeline, flame graph, table")
for fn in ("tree_a", "tree_b", "tree_c", "main", sys.argv[3]):
    assert has("host", "g", "fr", name=fn), f"host flame graph has no frame {fn}"
assert has("host", "tr", symbol="tree_c"), "host table has no tree_c row"
assert has("host", "div", "seg", layer="user"), "host bar has no user segment"
assert has("fakevm", "div", "seg", layer="vmm"), "fakevm bar has no vmm segment"
assert has("fakevm", "g", "fr", name="split_sixty"), "fakevm flame graph has no split_sixty"
print("# rendered: flame frames tree_a, tree_b, tree_c; no page errors")
PY

# 6. Interaction, in a copy of the page with a driver script appended (and
#    the policy that would refuse that script removed): search reports the
#    matched share, a click zooms a frame to the full width, reset undoes
#    it, a column header sorts the table.
python3 - "$T/report.html" "$T/interact.html" "$COMM" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', "", text)
driver = r"""<script>
(function () {
  const out = {};
  try {
    const card = document.querySelector('.flame-card[data-domain="host"]');
    const svg = card.querySelector('svg.flame');
    const input = card.querySelector('input[type=search]');
    const info = card.querySelector('.match-info');
    const search = t => { input.value = t; input.dispatchEvent(new Event('change')); return parseFloat(info.getAttribute('data-matched') || 'NaN'); };
    out.calltree = search('^COMM$');
    out.tree_c = search('^tree_c$');
    out.highlighted = svg.querySelectorAll('g.match').length;
    out.info = info.textContent;
    search('');
    out.cleared = svg.querySelectorAll('g.match').length;
    const W = parseFloat(svg.getAttribute('width'));
    /* The widest tree_a: calltree's own, not one under an interrupt. */
    const widest = sel => Array.from(svg.querySelectorAll(sel)).map(g => [g, parseFloat(g.querySelector('rect').getAttribute('width'))])
      .reduce((b, x) => (!b || x[1] > b[1] ? x : b), null);
    const [a, wa] = widest('g.fr[data-name="tree_a"]');
    out.before = wa / W;
    const tip = document.getElementById('tip');
    a.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: 200, clientY: 300 }));
    out.flame_tip = tip.hidden ? '' : tip.textContent;
    const seg = document.querySelector('.seg[data-domain="fakevm"][data-layer="vmm"]');
    seg.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: 200, clientY: 300 }));
    out.bar_tip = tip.hidden ? '' : tip.textContent;
    a.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    out.after = widest('g.fr[data-name="tree_a"]:not(.anc)')[1] / W;
    out.tree_b_after_zoom = !!svg.querySelector('g.fr[data-name="tree_b"]');
    const reset = card.querySelector('button');
    out.reset_enabled = !reset.disabled;
    reset.click();
    out.tree_b_after_reset = !!svg.querySelector('g.fr[data-name="tree_b"]');
    const table = document.querySelector('table.top[data-domain="host"]');
    table.querySelector('th').click();
    out.symbols = Array.from(table.querySelectorAll('tbody tr')).map(r => r.getAttribute('data-symbol'));
    /* The event selector redraws the timeline, flame graphs and tables. */
    const sel = document.getElementById('event-select');
    sel.value = '1';
    sel.dispatchEvent(new Event('change'));
    out.lead = document.querySelector('#timeline .lead').textContent;
    out.flame_stat = card.querySelector('.stat').textContent;
    out.columns = Array.from(table.querySelectorAll('th')).map(th => th.textContent);
  } catch (e) {
    out.error = String((e && e.stack) || e);
  }
  document.body.setAttribute('data-test-result', JSON.stringify(out));
})();
</script>
"""
driver = driver.replace("COMM", sys.argv[3])
open(sys.argv[2], "w", encoding="utf-8").write(text.replace("</body>", driver + "</body>"))
PY
chrome --dump-dom "file://$T/interact.html" > "$T/interact-dom.html" 2> "$T/interact-console.log" ||
	fail "chromium failed on the interaction page: $(tail -5 "$T/interact-console.log")"
cp "$T/interact-console.log" "$ARTIFACTS/"
errs=$(console_errors "$T/interact-console.log")
[ -z "$errs" ] || fail "console errors while driving the page: $errs"
python3 - "$T/interact-dom.html" "$T/expect.json" <<'PY'
import html, json, re, sys
from truth import close
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'data-test-result="([^"]*)"', dom)
assert m, "the driver script did not run"
r = json.loads(html.unescape(m.group(1)))
assert "error" not in r, r["error"]
want = json.load(open(sys.argv[2]))
print(f"# search: {r['highlighted']} frames highlighted: {r['info']!r}")
# The page's own arithmetic on its own data: equal to 4 decimals.
close("search: the program's share of host", r["calltree"], want["comm"], 1e-4, "%")
close("search: tree_c's share of host", r["tree_c"], want["tree_c"], 1e-4, "%")
assert r["highlighted"] >= 2, "tree_c under both tree_a and tree_b should be highlighted"
assert r["cleared"] == 0, "clearing the search left highlighted frames"
print(f"# tooltips: {r['flame_tip'][:90]!r}... / {r['bar_tip'][:60]!r}...")
for want in ("tree_a", "calltree", "Samples", "Share of host", "Self"):
    assert want in r["flame_tip"], f"flame graph tooltip lacks {want!r}: {r['flame_tip']!r}"
for want in ("fakevm", "vmm", "Samples", "Share of cpu-clock"):
    assert want in r["bar_tip"], f"bar tooltip lacks {want!r}: {r['bar_tip']!r}"
print(f"# zoom: tree_a {100 * r['before']:.1f}% of the width before, {100 * r['after']:.1f}% after")
assert r["before"] < 0.6 and r["after"] > 0.99, r
assert not r["tree_b_after_zoom"] and r["reset_enabled"] and r["tree_b_after_reset"], r
syms = r["symbols"]
assert len(syms) > 3 and syms == sorted(syms), f"table not sorted by symbol after a click: {syms[:8]}"
print(f"# event selector: timeline {r['lead'][:40]!r}..., host flame graph {r['flame_stat']!r}, columns {r['columns'][4:6]}")
assert "page-faults" in r["lead"] and "Count" in r["columns"], r
PY

# 7. Screenshots, kept: light (the default) and dark.
chrome --hide-scrollbars --window-size=1400,2000 --screenshot="$ARTIFACTS/report.png" "file://$T/report.html" \
	> /dev/null 2> "$T/shot.log" || fail "chromium --screenshot failed: $(tail -5 "$T/shot.log")"
chrome --hide-scrollbars --window-size=1400,2000 --force-dark-mode --blink-settings=preferredColorScheme=0 \
	--screenshot="$ARTIFACTS/report-dark.png" "file://$T/report.html" > /dev/null 2> "$T/shot-dark.log" ||
	fail "chromium --screenshot (dark) failed: $(tail -5 "$T/shot-dark.log")"
python3 - "$ARTIFACTS/report.png" "$ARTIFACTS/report-dark.png" <<'PY'
import struct, sys
for path in sys.argv[1:]:
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    w, h = struct.unpack(">II", b[16:24])
    assert (w, h) == (1400, 2000) and len(b) > 20000, f"{path}: {w}x{h}, {len(b)} bytes"
    print(f"# screenshot {path}: {w}x{h}, {len(b)} bytes")
PY

# 8. Bad input: a clear error naming the input, a non-zero exit, no page.
if "$DOMPROF" html -i "$T/missing.db" -o "$T/x.html" 2>"$T/err1"; then fail "html accepted a missing session"; fi
grep -q "missing.db" "$T/err1" || fail "error does not name the missing session: $(cat "$T/err1")"
echo "not a session" > "$T/text.db"
if "$DOMPROF" html -i "$T/text.db" -o "$T/x.html" 2>"$T/err2"; then fail "html accepted a text file as a session"; fi
grep -q "text.db" "$T/err2" || fail "error does not name the bad session: $(cat "$T/err2")"
if "$DOMPROF" html -i "$T/s.db" -o "$T/no/such/dir/x.html" 2>"$T/err3"; then fail "html wrote into a missing directory"; fi
grep -q "no/such/dir/x.html" "$T/err3" || fail "error does not name the output: $(cat "$T/err3")"
[ ! -e "$T/x.html" ] || fail "a failed run left $T/x.html behind"
echo ok
