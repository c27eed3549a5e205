#!/bin/bash
# The manual pages against the binary: every command of domprof's command
# table (its --help) has a page domprof-COMMAND(1), domprof(1) lists it, and
# every option a command's --help prints appears in its page, so a new
# option documented nowhere fails here. The pages are rendered by man-db
# itself, which must report no warning. MAN_DIR (default: the build
# directory, where Meson generates them) says where the pages are, so
# install.sh runs this against installed pages too.
. "$(dirname "$0")/lib.sh"
command -v man >/dev/null || skip "man is not installed (Debian package man-db, scripts/deps)"
MAN_DIR=${MAN_DIR:-$BUILD_ROOT}

# Render every page as text (no line breaks inside an option: a very wide
# line) and keep man's warnings; an unreadable page is a failure.
mkdir -p "$T/text"
for page in "$MAN_DIR"/domprof*.1*; do
	[ -e "$page" ] || fail "no domprof*.1 pages in $MAN_DIR"
	name=$(basename "$page")
	name=${name%.gz}
	LC_ALL=C.UTF-8 MANWIDTH=400 man --warnings -E UTF-8 -l "$page" 2>"$T/text/$name.err" |
		col -b >"$T/text/$name.txt" || fail "man cannot render $page: $(cat "$T/text/$name.err")"
	[ -s "$T/text/$name.err" ] && fail "man warns about $page: $(cat "$T/text/$name.err")"
done

python3 - "$DOMPROF" "$T/text" <<'PY'
import re, subprocess, sys

domprof, text_dir = sys.argv[1:3]

def run(*args):
    p = subprocess.run([domprof, *args], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"domprof {' '.join(args)} exited {p.returncode}: {p.stderr}"
    return p.stdout

def page(name):
    try:
        with open(f"{text_dir}/{name}.1.txt", encoding="utf-8") as f:
            # groff may print a minus sign as U+2212; options are typed with '-'.
            return f.read().replace("\u2212", "-").replace("\u2010", "-")
    except FileNotFoundError:
        return None

# The command table, as the binary prints it.
main = run("--help")
commands = re.findall(r"^  ([a-z]+) +\S", main.split("Commands:", 1)[1], re.M)
assert len(commands) >= 10, f"cannot read the command table from domprof --help: {main}"
top = page("domprof")
assert top is not None, "no domprof(1)"

OPTION = re.compile(r"(?:^|(?<=[\s\[|(,]))(--?[A-Za-z][A-Za-z0-9-]*)")

def options(usage):
    return sorted(set(OPTION.findall(usage)))

def mentions(text, opt):
    return re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", text) is not None

# The matcher is not vacuous: an option no page has is reported missing.
assert not mentions(top, "--no-such-option"), "the option matcher matches anything"

missing = []
checked = 0
for c in commands:
    text = page("domprof-" + c)
    if text is None:
        missing.append(f"domprof-{c}(1): no page")
        continue
    if not mentions(top, f"domprof-{c}(1)"):
        missing.append(f"domprof(1) does not list domprof-{c}(1)")
    if not re.search(r"^NAME\s+domprof-" + c + r" - \S", text, re.M):
        missing.append(f"domprof-{c}(1): no NAME line 'domprof-{c} - ...'")
    usage = run(c, "--help") if c != "help" else run("help", "--help")
    for opt in options(usage):
        checked += 1
        if not mentions(text, opt):
            missing.append(f"domprof-{c}(1) lacks {opt} (domprof {c} --help prints it)")
print(f"# {len(commands)} commands, {checked} options checked against their pages")
assert not missing, "pages out of step with the binary:\n  " + "\n  ".join(missing)
PY
