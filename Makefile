# Thin wrapper over Meson: the README's commands.
#   make build   build/domprof
#   make check   install what is missing, build, run every test
#   make check-long  the memory tests for minutes instead of seconds
#   make demo    install what is missing, build, run the case study
#   make bench   measured ratios against perf, and continuous mode's cost
#   make fuzz    run the fuzzers for a while
#   make install     build, then install under PREFIX (default /usr/local),
#                    staged under DESTDIR if set (docs/install.md)
#   make uninstall   remove what the last `make install` installed
BUILD ?= build
MESON_OPTS ?=
PREFIX ?= /usr/local
DESTDIR ?=
# make demo settings (scripts/demo explains them)
DURATION ?= 8
MSG ?= 128K
VCPUS ?= 1
EVENTS ?=
VM ?= boot
OUT ?= demo-out
AGENT ?=
KEY ?=
IPERF ?=
VM_NAME ?= demo

.PHONY: all build deps deps-build check check-long demo bench fuzz install uninstall clean

all: build

deps-build:
	@scripts/deps --build

deps:
	@scripts/deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix "$(PREFIX)" $(MESON_OPTS)

build: deps-build $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: deps $(BUILD)/build.ninja
	@scripts/check $(BUILD)

# long-record for five minutes: the recorder's RSS from session to session
# of a rotating recording of process churn (LONG_SECONDS to change).
LONG_SECONDS ?= 300
check-long: deps build
	LONG_RECORD_SECONDS=$(LONG_SECONDS) meson test -C $(BUILD) --print-errorlogs --timeout-multiplier 0 long-record
	@cat $(BUILD)/meson-logs/testlog.txt | grep -E '^# ' || true

demo: deps build
	@DURATION="$(DURATION)" MSG="$(MSG)" VCPUS="$(VCPUS)" EVENTS="$(EVENTS)" VM="$(VM)" OUT="$(OUT)" \
		AGENT="$(AGENT)" KEY="$(KEY)" IPERF="$(IPERF)" VM_NAME="$(VM_NAME)" scripts/demo

bench: build
	@scripts/deps --bench
	@bench/run
	@bench/continuous

fuzz: deps
	@scripts/fuzz

# The prefix is a setting of the build directory (the unit file and the man
# pages carry installed paths): set it when it differs, then let Meson
# install; it records what it installed for `make uninstall`
# ($(BUILD)/meson-logs/install-log.txt).
install: build
	@if [ "$$(meson introspect --buildoptions $(BUILD) | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')" != "$(PREFIX)" ]; then \
		meson configure $(BUILD) -Dprefix="$(PREFIX)" && ninja -C $(BUILD); fi
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir "$(DESTDIR)")

uninstall:
	@[ -f $(BUILD)/meson-logs/install-log.txt ] || { echo "make uninstall: nothing installed from $(BUILD) (no $(BUILD)/meson-logs/install-log.txt)" >&2; exit 1; }
	ninja -C $(BUILD) uninstall

clean:
	rm -rf $(BUILD) build-*
