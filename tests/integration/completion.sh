#!/bin/bash
# Bash completion (dist/domprof.bash-completion, or COMPLETION=FILE: the
# installed one, from install.sh): sourced in a bash that has no
# bash-completion package loaded, its function is called the way bash calls
# it (COMP_WORDS split at COMP_WORDBREAKS, so `--event=ta` is `--event`, `=`,
# `ta`; COMP_CWORD the word being completed) and the candidates are
# compared with what the binary itself says: its command table
# (domprof --help), a command's options (its --help), the events
# (domprof list), a VM running now (domprof vms), the session files of a
# directory made here.
. "$(dirname "$0")/lib.sh"
COMPLETION=${COMPLETION:-$SOURCE_ROOT/dist/domprof.bash-completion}
[ -f "$COMPLETION" ] || fail "no completion file $COMPLETION"

# A VM for `domprof vms` to find: a process whose executable is named like
# QEMU's and that carries -name (a copy of the syscalls workload, which
# ignores the extra arguments).
# The name is completed from a prefix that no other test's VM can share (the
# suite runs tests side by side, and `domprof vms` sees every VM of the machine).
VM_PREFIX="compvm-$$-"
VM_NAME="${VM_PREFIX}vm"
cp "$WORKLOADS/syscalls" "$T/qemu-system-x86_64"
"$T/qemu-system-x86_64" 60 -name "$VM_NAME,debug-threads=on" >/dev/null &
BG_PIDS=$!
for _ in $(seq 50); do "$DOMPROF" vms --format json | grep -q "\"$VM_NAME\"" && break; sleep 0.1; done
"$DOMPROF" vms --format json | grep -q "\"$VM_NAME\"" || fail "domprof vms does not see the fake VM $VM_NAME"

# Session files and others, in a directory of their own.
mkdir -p "$T/dir/sub"
touch "$T/dir/a.db" "$T/dir/b.db" "$T/dir/notes.txt"

# comp WORD...: the candidates, sorted, one per line, for the words given
# (the last one is the word being completed), run in a fresh bash.
comp() {
	(cd "$T/dir" && env -i PATH="$PATH" HOME="$T" bash --norc --noprofile -c '
		source "$1" || exit 3
		complete -p domprof >/dev/null || { echo "no completion registered for domprof" >&2; exit 3; }
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_domprof
		printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort -u | sed "/^$/d"' comp "$COMPLETION" "$DOMPROF" "$@")
}
# expect "WORDS" "CANDIDATE..." (space-separated, any order)
expect() {
	local words=$1 want got
	shift
	want=$(printf '%s\n' $* | LC_ALL=C sort -u | sed '/^$/d')
	# shellcheck disable=SC2086
	got=$(comp $words) || fail "completion of '$words' failed"
	[ "$got" = "$want" ] || fail "completion of '$words': got [$(echo $got)], want [$(echo $want)]"
	echo "# $words -> $(echo $got)"
}
E=""  # an empty word: `expect "report -i $E"` completes an empty word
comp_empty() { comp "$@" ""; }

# Commands: every one of the command table, and a prefix narrows them.
commands=$("$DOMPROF" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')
[ "$(echo "$commands" | wc -l)" -ge 10 ] || fail "cannot read the command table: $commands"
got=$(comp_empty) || fail "completing a command failed"
[ "$got" = "$(echo "$commands" | LC_ALL=C sort)" ] || fail "commands: got [$(echo $got)], want [$(echo $commands)]"
echo "# (command) -> $(echo $got)"
expect "re" record report
expect "help re" record report
expect "-" --help --version

# Options, per command, as its --help prints them.
expect "record --e" --event
expect "report --so" --sort --source
expect "export --f" --format
want=$("$DOMPROF" agent --help | grep -oE '(^|[][ |(,])--?[a-z][a-z-]*' | sed 's/^[][ |(,]//'; echo --help)
expect "agent -" $want

# Option values: from the command's --help.
got=$(comp_empty report --format) && [ "$(echo $got)" = "csv json text" ] || fail "report --format: [$(echo $got)]"
got=$(comp_empty export -f) && [ "$(echo $got)" = "folded json pprof" ] || fail "export -f: [$(echo $got)]"
got=$(comp_empty html --source) && [ "$(echo $got)" = "agent host merged" ] || fail "html --source: [$(echo $got)]"
expect "report --sort domain,la" domain,layer
expect "diff -s domain,c" domain,comm
expect "export --layer guest-" guest-user guest-kernel

# Event names: those `domprof list` prints, also inside a list and after '='.
events=$("$DOMPROF" list | awk 'NR > 1 && NF == 0 { exit } NR > 1 { print $1 }' | grep -v '^rNNNN$')
echo "$events" | grep -qx cpu-clock || fail "domprof list has no cpu-clock: $events"
got=$(comp_empty record -e) || fail "record -e failed"
for ev in $events; do echo "$got" | grep -qx -- "$ev" || fail "record -e does not offer $ev"; done
expect "record -e cpu-c" cpu-clock cpu-cycles
expect "stat -e cpu-clock,page-f" cpu-clock,page-faults
expect "record --event = ta" task-clock

# VM names: the one running now (domprof vms), as VM= for the options that
# take VM=VALUE, and among the domains of a report.
expect "record --guest-kallsyms $VM_PREFIX" "$VM_NAME="
expect "record --agent $VM_PREFIX" "$VM_NAME="
expect "report --domain $VM_PREFIX" "$VM_NAME"
expect "report --domain host,$VM_PREFIX" "host,$VM_NAME"
# After VM=, --guest-kallsyms takes a file.
expect "record --guest-kallsyms $VM_NAME = not" notes.txt

# Session files: *.db and directories, not other files.
got=$(comp_empty report -i) && [ "$(echo $got)" = "a.db b.db sub" ] || fail "report -i: [$(echo $got)]"
got=$(comp_empty diff a.db) && [ "$(echo $got)" = "a.db b.db sub" ] || fail "diff a.db: [$(echo $got)]"
got=$(comp_empty html) && [ "$(echo $got)" = "a.db b.db sub" ] || fail "html: [$(echo $got)]"
expect "import no" notes.txt

# A command to record, then its arguments (files).
comp record -- slee | grep -qx sleep || fail "record -- slee does not offer sleep"
comp record -a -d 1 slee | grep -qx sleep || fail "record -a -d 1 slee does not offer sleep"
expect "record -a -- sleep no" notes.txt
expect "record -e cpu-clock sleep no" notes.txt
# An option's value is not a command: `-d 1` then a command word.
comp record -d 1 -e cpu-clock slee | grep -qx sleep || fail "record -d 1 -e cpu-clock slee does not offer sleep"
echo "# completion: commands, options, values, events, VMs, sessions and commands all complete"
