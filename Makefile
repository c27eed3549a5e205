# Thin wrapper over Meson: the README's commands.
#   make build   build/domprof
#   make check   install what is missing, build, run every test
#   make demo    install what is missing, build, run the case study
#   make bench   measured ratios against perf
#   make fuzz    run the fuzzers for a while
BUILD ?= build
MESON_OPTS ?=
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

.PHONY: all build deps deps-build check demo bench fuzz clean

all: build

deps-build:
	@scripts/deps --build

deps:
	@scripts/deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps-build $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: deps $(BUILD)/build.ninja
	@scripts/check $(BUILD)

demo: deps build
	@DURATION="$(DURATION)" MSG="$(MSG)" VCPUS="$(VCPUS)" EVENTS="$(EVENTS)" VM="$(VM)" OUT="$(OUT)" \
		AGENT="$(AGENT)" KEY="$(KEY)" IPERF="$(IPERF)" VM_NAME="$(VM_NAME)" scripts/demo

bench: deps build
	@bench/run

fuzz: deps
	@scripts/fuzz

clean:
	rm -rf $(BUILD) build-*
