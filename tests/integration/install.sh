#!/bin/bash
# Installation, twice, each run from the installed files alone (another
# directory, PATH/MANPATH/XDG_DATA_DIRS pointing into a fresh root, no path
# into the build tree):
#  1. `meson install --destdir` of this build (what `make install` runs),
#     then Meson's uninstall, which must leave no file behind;
#  2. the Debian packages, built by dpkg-buildpackage -b from a copy of the
#     tree (cached under build-deb/ by a hash of the tree: an unchanged tree
#     is built once, for both builds of make check), lintian-clean but for
#     the documented overrides, with Depends naming the package of every
#     library the binary links, unpacked into a fresh root with dpkg -x.
# In each root: `domprof record -a -d 1` whose cpu-clock total is the
# session's duration on every CPU, `domprof report`, `man -w
# domprof-record`, `domprof help record` opening the page on a terminal and
# printing the usage into a pipe, the man-pages and completion tests against
# the installed files, and the agent's unit: valid for systemd, paths of
# the installation, and a recording inside its capability bounding set
# works (and fails without CAP_PERFMON, so the set is what matters).
. "$(dirname "$0")/lib.sh"
need_root
for t in man capsh script readelf unshare; do
	command -v $t >/dev/null || skip "$t is not installed (scripts/deps: man-db, libcap2-bin, bsdutils, binutils)"
done
INTEGRATION=$(cd "$(dirname "$0")" && pwd)

# check_root ROOT PREFIX SYSCONFDIR UNITDIR LABEL: everything from the files
# installed under ROOT (paths as installed: PREFIX, SYSCONFDIR, UNITDIR).
check_root() {
	local root=$1 prefix=$2 sysconfdir=$3 unitdir=$4 label=$5
	local bin=$root$prefix/bin/domprof mandir=$root$prefix/share/man
	local work=$T/work-$label
	[ -x "$bin" ] || fail "$label: no $prefix/bin/domprof in the installed files"
	mkdir -p "$work"
	# No path back into the build or source tree.
	if readelf -d "$bin" | grep -E 'RPATH|RUNPATH' | grep -qE "$BUILD_ROOT|$SOURCE_ROOT"; then
		fail "$label: the installed binary has a run path into the build tree: $(readelf -d "$bin" | grep PATH)"
	fi
	run() { (cd "$work" && env -i PATH="$root$prefix/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$work" LC_ALL=C.UTF-8 \
		MANPATH="$mandir" MANPAGER=cat PAGER=cat XDG_DATA_DIRS="$root$prefix/share" "$@"); }
	[ "$(run sh -c 'command -v domprof')" = "$bin" ] || fail "$label: PATH does not find the installed domprof"

	# A recording and its report, of the whole system while a workload with
	# a known 60/30/10 split of its work runs (the workload is the subject,
	# from the build tree; domprof is the installed one).
	"$WORKLOADS/split" 3 >/dev/null &
	local split=$!
	run timeout 60 domprof record -q -a -d 1 -e cpu-clock -F 1000 -o s.db || { kill $split; fail "$label: domprof record -a -d 1 failed"; }
	kill $split 2>/dev/null; wait $split 2>/dev/null || true
	run domprof report -i s.db >"$work/report.txt" || fail "$label: domprof report failed"
	grep -q '^Domains and layers' "$work/report.txt" || fail "$label: no domain/layer table: $(head -20 "$work/report.txt")"
	run domprof report -i s.db --comm split --sort pid,symbol --format json >"$work/report.json" ||
		fail "$label: domprof report --format json failed"
	python3 - "$work/report.json" "$label" "$split" <<'PY' || fail "$label: the recording is wrong"
import json, math, sys
d = json.load(open(sys.argv[1]))
label, pid = sys.argv[2], int(sys.argv[3])
assert d["session"]["state"] == "complete", d["session"]
assert d["session"]["command_line"].startswith("domprof record -q -a -d 1"), d["session"]["command_line"]
# This run's workload only (another test may run one of its own).
samples = {r["symbol"]: r["cpu-clock:samples"] for r in d["rows"] if int(r["pid"]) == pid}
want = {"split_sixty": 0.6, "split_thirty": 0.3, "libwork_ten": 0.1}
n = sum(samples.get(k, 0) for k in want)
assert n >= 100, f"only {n} samples of the split workload in a 1 s recording: {samples}"
for k, p in want.items():
    share = samples.get(k, 0) / n
    # Five standard deviations of a sampled proportion.
    tol = 5 * math.sqrt(p * (1 - p) / n)
    print(f"# {label}: {k} {100 * share:.1f}% (truth {100 * p:.0f}%, tolerance {100 * tol:.1f} points, {n} samples)")
    assert abs(share - p) <= tol, f"{k}: {share:.3f} is not within {tol:.3f} of {p}"
PY

	# The manual: man finds the installed page; `help` opens it on a
	# terminal (script gives it one) and prints the usage into a pipe.
	local page
	page=$(run man -w domprof-record) || fail "$label: man -w domprof-record finds no page (MANPATH=$mandir)"
	case $page in "$mandir"/man1/domprof-record.1*) ;; *) fail "$label: man -w domprof-record gave $page, not a page under $mandir" ;; esac
	run script -qec "domprof help record" /dev/null >"$work/help-tty.txt" </dev/null || true
	grep -q 'DOMPROF-RECORD(1)' "$work/help-tty.txt" ||
		fail "$label: domprof help record on a terminal did not show the page: $(head -5 "$work/help-tty.txt")"
	run domprof help record >"$work/help-pipe.txt" || fail "$label: domprof help record into a pipe failed"
	head -1 "$work/help-pipe.txt" | grep -q '^domprof record: ' && ! grep -q 'DOMPROF-RECORD(1)' "$work/help-pipe.txt" ||
		fail "$label: domprof help record into a pipe is not the usage: $(head -3 "$work/help-pipe.txt")"
	# No page where man looks: the usage, on a terminal too.
	(cd "$work" && env -i PATH="$root$prefix/bin:/usr/bin:/bin" HOME="$work" MANPATH="$work/no-pages" MANPAGER=cat PAGER=cat \
		script -qec "domprof help record" /dev/null) >"$work/help-nopage.txt" </dev/null || true
	grep -q '^domprof record: ' "$work/help-nopage.txt" ||
		fail "$label: domprof help record without an installed page is not the usage: $(head -3 "$work/help-nopage.txt")"
	echo "# $label: man -w domprof-record -> $page; help opens it on a terminal, prints the usage into a pipe or without the page"
	MAN_DIR=$mandir/man1 DOMPROF=$bin "$INTEGRATION/man-pages.sh" || fail "$label: the installed man pages"
	COMPLETION=$root$prefix/share/bash-completion/completions/domprof DOMPROF=$bin "$INTEGRATION/completion.sh" ||
		fail "$label: completion with the installed file"

	# The agent's unit: paths of this installation, valid for systemd.
	local unit=$root$unitdir/domprof-agent.service env=$root$sysconfdir/default/domprof-agent
	[ -f "$unit" ] || fail "$label: no $unitdir/domprof-agent.service"
	[ -f "$env" ] || fail "$label: no $sysconfdir/default/domprof-agent"
	grep -qx "ExecStart=$prefix/bin/domprof agent --listen \${DOMPROF_AGENT_LISTEN} --key $sysconfdir/domprof/agent.key" "$unit" ||
		fail "$label: ExecStart does not run $prefix/bin/domprof with $sysconfdir/domprof/agent.key: $(grep ExecStart "$unit")"
	grep -qx "EnvironmentFile=$sysconfdir/default/domprof-agent" "$unit" || fail "$label: EnvironmentFile is not $sysconfdir/default/domprof-agent"
	grep -q '^DOMPROF_AGENT_LISTEN=tcp:' "$env" || fail "$label: $env sets no DOMPROF_AGENT_LISTEN"
	if command -v systemd-analyze >/dev/null; then
		# Verified with ExecStart pointing at the installed binary (systemd
		# checks that it exists), any other warning fails.
		sed "s|=$prefix/bin/domprof |=$bin |" "$unit" >"$T/domprof-agent.service"
		systemd-analyze verify --man=no "$T/domprof-agent.service" 2>"$T/verify.err" >&2 ||
			fail "$label: systemd-analyze verify: $(cat "$T/verify.err")"
		[ -s "$T/verify.err" ] && fail "$label: systemd-analyze verify warns: $(cat "$T/verify.err")"
		note "$label: unit $(systemd-analyze security --offline=yes --no-pager "$T/domprof-agent.service" 2>/dev/null | tail -1)"
	fi
	# Record inside the unit's capability bounding set (as root, as the unit
	# runs it): every other capability dropped. Meanwhile a JIT workload
	# runs with a /tmp of its own (a container's, or what the agent's
	# PrivateTmp= gives the recorder instead): its map is found through
	# /proc/PID/root.
	local caps keep drop="" i n last
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
	[ "$caps" = "CAP_PERFMON CAP_SYSLOG CAP_SYS_PTRACE CAP_IPC_LOCK" ] ||
		fail "$label: the unit's bounding set is '$caps', not the one docs/install.md justifies"
	keep=$(echo "$caps" | tr 'A-Z' 'a-z')
	last=$(cat /proc/sys/kernel/cap_last_cap)
	for ((i = 0; i <= last; i++)); do
		n=$(capsh --decode="$(printf '%x' $((1 << i)))" | sed 's/.*=//')
		case " $keep " in *" $n "*) ;; *) drop="$drop,$n" ;; esac
	done
	drop=${drop#,}
	unshare -m sh -c 'mount -t tmpfs tmpfs /tmp && "$1" 3' sh "$WORKLOADS/jit" >/dev/null 2>&1 &
	local jit=$!
	sleep 0.3
	run timeout 60 capsh --drop="$drop" -- -c 'domprof record -q -a -d 1 -e cpu-clock -o caps.db && domprof report -i caps.db --layer kernel --sort symbol --format csv' \
		>"$work/caps.txt" 2>&1 || { kill $jit; fail "$label: recording inside the unit's bounding set failed: $(cat "$work/caps.txt")"; }
	wait $jit || true
	grep -qE '^[a-zA-Z_][a-zA-Z0-9_.]*,' "$work/caps.txt" ||
		fail "$label: inside the bounding set, no kernel function is named: $(cat "$work/caps.txt")"
	run domprof report -i caps.db --comm jit --sort image,symbol --format csv >"$work/jit.csv"
	grep -qE '^/tmp/perf-[0-9]+\.map,jit_(hot|late)_loop,' "$work/jit.csv" ||
		fail "$label: the JIT functions of a process with its own /tmp are not named: $(head -5 "$work/jit.csv")"
	if run timeout 60 capsh --drop="$drop,cap_perfmon" -- -c 'domprof record -q -a -d 0.2 -e cpu-clock -o noperf.db' \
		>"$work/noperf.txt" 2>&1; then
		if [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 0 ]; then
			fail "$label: a system-wide recording without CAP_PERFMON succeeded (perf_event_paranoid > 0)"
		fi
		note "$label: perf_event_paranoid <= 0 here: CAP_PERFMON is not needed on this machine"
	fi
	echo "# $label: recorded inside the unit's bounding set ($caps), JIT code in another /tmp named; refused without CAP_PERFMON"
}

# ------------------------------------------------ 1. meson install --destdir
eval "$(meson introspect --buildoptions "$BUILD_ROOT" | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
print("PREFIX=%s SYSCONFDIR=%s UNITDIR=%s" % (p, os.path.join(p, o["sysconfdir"]),
      o.get("systemdunitdir") or os.path.join(p, "lib/systemd/system")))')"
ROOT1=$T/root-meson
# Meson keeps the list of what it installed in the build directory, for
# `make uninstall`: keep the user's own list and restore it afterwards.
LOG=$BUILD_ROOT/meson-logs/install-log.txt
[ -f "$LOG" ] && cp "$LOG" "$T/install-log.saved"
restore_log() { if [ -f "$T/install-log.saved" ]; then cp "$T/install-log.saved" "$LOG"; else rm -f "$LOG"; fi; }
meson install -C "$BUILD_ROOT" --no-rebuild --destdir "$ROOT1" >"$T/meson-install.log" 2>&1 ||
	{ restore_log; fail "meson install failed: $(tail -5 "$T/meson-install.log")"; }
echo "# meson install: $(find "$ROOT1" -type f | wc -l) files under $ROOT1$PREFIX"
check_root "$ROOT1" "$PREFIX" "$SYSCONFDIR" "$UNITDIR" meson-install || { restore_log; exit 1; }
ninja -C "$BUILD_ROOT" uninstall >"$T/uninstall.log" 2>&1 || { restore_log; fail "ninja uninstall failed: $(tail -5 "$T/uninstall.log")"; }
restore_log
left=$(find "$ROOT1" -type f 2>/dev/null | grep -v '/work-' || true)
[ -z "$left" ] || fail "uninstall left files: $left"
echo "# uninstall removed every installed file"

# ------------------------------------------------------ 2. Debian packages
for t in dpkg-buildpackage dh lintian fakeroot; do
	command -v $t >/dev/null || skip "$t is not installed (scripts/deps installs dpkg-dev, debhelper, lintian, fakeroot); the meson install passed"
done
# The tree as git sees it (tracked and new files, nothing ignored), hashed.
src_files() { git -C "$SOURCE_ROOT" ls-files -co --exclude-standard -z | (cd "$SOURCE_ROOT" && xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh); }
command -v git >/dev/null && git -C "$SOURCE_ROOT" rev-parse >/dev/null 2>&1 || skip "the source is not a git checkout: cannot list the tree to package"
key=$(src_files | (cd "$SOURCE_ROOT" && xargs -0 sha256sum) | sha256sum | cut -c1-16)
CACHE=$SOURCE_ROOT/build-deb
debs=$CACHE/$key
if [ ! -f "$debs/.complete" ]; then
	mkdir -p "$CACHE"
	stage=$(mktemp -d "$CACHE/.build-XXXXXX")
	mkdir "$stage/domprof"
	src_files | (cd "$SOURCE_ROOT" && tar -cf - --null -T -) | tar -xf - -C "$stage/domprof"
	start=$(date +%s)
	# The unit tests run in make check already (both builds): nocheck.
	(cd "$stage/domprof" && DEB_BUILD_OPTIONS=nocheck timeout 900 dpkg-buildpackage -b -us -uc) \
		>"$stage/build.log" 2>&1 || { tail -30 "$stage/build.log" >&2; cp "$stage/build.log" "$ARTIFACTS/"; fail "dpkg-buildpackage -b failed (log in $ARTIFACTS)"; }
	echo "# dpkg-buildpackage -b: $(($(date +%s) - start)) s"
	(cd "$stage" && timeout 600 lintian -I --pedantic domprof_*.changes) >"$stage/lintian.txt" 2>&1 || true
	rm -rf "$stage/domprof"
	touch "$stage/.complete"
	rm -rf "$debs"
	mv "$stage" "$debs"
	# Keep only this tree's packages.
	for d in "$CACHE"/*; do [ "$d" = "$debs" ] || rm -rf "$d"; done
else
	echo "# packages of this tree from the cache ($debs)"
fi
cp "$debs"/*.deb "$debs/lintian.txt" "$ARTIFACTS/" 2>/dev/null || true
tags=$(grep -E '^[EWIPX]: ' "$debs/lintian.txt" || true)
[ -z "$tags" ] || fail "lintian (not overridden in debian/*.lintian-overrides): $tags"
echo "# lintian -I --pedantic: no tag but the documented overrides"

deb=$(ls "$debs"/domprof_*_*.deb)
agent_deb=$(ls "$debs"/domprof-agent_*_all.deb)
# Depends: the package of every library the binary links (dpkg -S on the
# NEEDED entries, resolved by the loader).
dpkg-deb -x "$deb" "$T/probe"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in $(readelf -d "$T/probe/usr/bin/domprof" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	path=$(ldd "$T/probe/usr/bin/domprof" | awk -v l="$lib" '$1 == l { print $3 }')
	[ -n "$path" ] || fail "ldd does not resolve $lib"
	# dpkg knows a library by one of its names (merged /usr: /lib is /usr/lib).
	pkg=""
	for p in "$path" "$(readlink -f "$path")" "${path/#\/lib\//\/usr\/lib\/}" "${path/#\/usr\/lib\//\/lib\/}" \
		"$(dirname "$path")/$(readlink "$path")"; do
		pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1)
		[ -n "$pkg" ] && break
	done
	[ -n "$pkg" ] || fail "dpkg -S knows no package of $path ($lib)"
	echo "$depends" | grep -qE "(^|, )$pkg( |,|$)" || fail "Depends ($depends) lacks $pkg, the package of $lib"
done
echo "# Depends: $depends"
dpkg-deb -f "$agent_deb" Depends | grep -q '^domprof (' || fail "domprof-agent does not depend on domprof"
dpkg-deb --ctrl-tarfile "$agent_deb" | tar -xOf - ./conffiles | grep -qx /etc/default/domprof-agent ||
	fail "/etc/default/domprof-agent is not a conffile of domprof-agent"

ROOT2=$T/root-deb
dpkg -x "$deb" "$ROOT2"
dpkg -x "$agent_deb" "$ROOT2"
check_root "$ROOT2" /usr /etc /lib/systemd/system debian-package
