# Shared by the integration tests (sourced). Exit 77 = skipped (Meson).
set -eu
: "${DOMPROF:?DOMPROF must point at the domprof binary}"
: "${WORKLOADS:?WORKLOADS must point at the built test workloads}"
: "${SOURCE_ROOT:?}"
: "${BUILD_ROOT:?}"

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/domprof-it-$TEST_NAME-XXXXXX")
ARTIFACTS="$BUILD_ROOT/test-artifacts/$TEST_NAME"
mkdir -p "$ARTIFACTS"
BG_PIDS=""

cleanup() {
	for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	# Every VM this test started (start_vm runs in a subshell: the state
	# directory, not a variable, knows them).
	for f in "$T"/vmstate/*.pid; do
		[ -e "$f" ] || continue
		"$SOURCE_ROOT/vm/launch" stop "$(basename "$f" .pid)" --state "$T/vmstate" >/dev/null 2>&1 || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "# $*" >&2; }

need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (system-wide perf events)"; }

# py EXPR-SCRIPT: run python3 with the given program text.
py() { python3 -c "$1"; }

# csv_value FILE KEYCOL KEYVAL COL: the value of column COL in the row
# whose KEYCOL equals KEYVAL (empty if none).
csv_value() {
	python3 - "$@" <<'PY'
import csv, sys
path, keycol, keyval, col = sys.argv[1:5]
with open(path) as f:
    for row in csv.DictReader(f):
        if row.get(keycol) == keyval:
            print(row[col]); break
PY
}

# The guest image used by the VM tests: domprof itself, the workloads and
# iperf3, with their libraries, plus any extra vm/build-image arguments
# (e.g. --file KEY=/etc/domprof.key). Cached under the build directory.
GUEST_IMAGE="$BUILD_ROOT/vm/image"
build_guest_image() {
	local extra=""
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (scripts/deps)"
	for w in "$WORKLOADS"/guest-*; do [ -f "$w" ] && [ -x "$w" ] && extra="$extra --bin $w"; done
	# shellcheck disable=SC2086
	"$SOURCE_ROOT/vm/build-image" --out "$GUEST_IMAGE" --bin "$DOMPROF" --bin "$WORKLOADS/split" \
		--bin "$WORKLOADS/syscalls" --bin "$(command -v iperf3)" $extra "$@" >"$T/build-image.log" 2>&1 ||
		{ cat "$T/build-image.log" >&2; fail "vm/build-image failed"; }
}

# start_vm NAME [launch options] -- CMD: boot a VM in the background (torn
# down by cleanup), print its QEMU pid.
start_vm() {
	local name=$1
	shift
	"$SOURCE_ROOT/vm/launch" start --name "$name" --image "$GUEST_IMAGE" --state "$T/vmstate" --timeout 240 "$@"
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
