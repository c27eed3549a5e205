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
	[ -n "${VM_NAMES:-}" ] && for v in $VM_NAMES; do "$SOURCE_ROOT/vm/launch" stop "$v" --state "$T/vmstate" >/dev/null 2>&1 || true; done
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
