/* domprof: the command hub. Dispatches `domprof <command> ...` through a
 * table to cmd_<command> in src/cmd-<command>.c. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "domprof.h"

#ifndef DOMPROF_VERSION
#define DOMPROF_VERSION "dev"
#endif

bool quiet = false;

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage;
};

static const struct command commands[] = {
	{ "record", cmd_record, "sample the host and its VMs into a session file",
	  "domprof record [-a | -p PID | [--] CMD [ARGS...]] [-e EVENTS] [-F HZ | -c PERIOD]\n"
	  "               [-g | --call-graph fp|dwarf[,SIZE]] [-d SECONDS] [-o FILE] [-m PAGES] [--vm NAME=PID]...\n"
	  "               [--guest-kallsyms VM=FILE]... [--guest-kaslr-offset VM=HEX]... [--guest-stext VM=HEX]...\n"
	  "               [--agent NAME=ADDR]... [--key FILE] [--agent-optional] [--agent-memory SIZE]\n"
	  "               [--rotate DURATION|SIZE [--keep N|SIZE]] [-q]\n"
	  "  -a, --all-cpus        sample every CPU (default without -p/CMD; with CMD: while CMD runs)\n"
	  "  -p, --pid PID         sample one process (all its threads, and their children)\n"
	  "  -e, --event LIST      comma-separated events (see `domprof list`); default cycles, else cpu-clock\n"
	  "  -F, --freq HZ         samples per second per CPU and event (default 1000)\n"
	  "  -c, --count PERIOD    sample every PERIOD events instead\n"
	  "  -g                    record call chains (frame pointers)\n"
	  "      --call-graph MODE fp (as -g), or dwarf[,SIZE]: copy SIZE bytes of user stack per sample\n"
	  "                        (default 8192, at most 64K) and unwind it from the binaries' CFI\n"
	  "  -d, --duration SEC    stop after SEC seconds (decimals allowed)\n"
	  "  -o, --output FILE     session file (default domprof.db; an existing one becomes FILE.old)\n"
	  "  -m, --mmap-pages N    ring size per CPU in pages, a power of two (default 128)\n"
	  "      --vm NAME=PID     treat process PID as a VM called NAME\n"
	  "      --guest-kallsyms VM=FILE      guest kernel symbols: a copy of its /proc/kallsyms,\n"
	  "                                    a System.map or a vmlinux\n"
	  "      --guest-kaslr-offset VM=HEX   KASLR offset for a System.map/vmlinux\n"
	  "      --guest-stext VM=HEX          the guest's runtime _stext (from its /proc/kallsyms), to\n"
	  "                                    compute the KASLR offset\n"
	  "      --agent NAME=ADDR an agent inside VM NAME (tcp:HOST:PORT or vsock:CID:PORT); repeatable:\n"
	  "                        one coordinated recording of the host and every agent's guest\n"
	  "      --key FILE        the pre-shared key the agents use (from `domprof keygen`): a file of\n"
	  "                        yours, mode 0600, not a symbolic link; a bad key stops record at once\n"
	  "      --agent-optional  an unreachable or failing agent is a warning, not an error\n"
	  "      --agent-memory SIZE  what one agent may make the host hold (default 256M): past it, that\n"
	  "                        agent's part ends, marked incomplete, and the recording goes on\n"
	  "      --rotate DURATION|SIZE  a new complete session every DURATION (30s, 10m, 1h, 1d) or\n"
	  "                        SIZE (100M, 1G), in the directory -o names (default .), each named\n"
	  "                        domprof-YYYYmmdd-HHMMSS.db by its start (UTC); runs until stopped\n"
	  "                        unless -d is given\n"
	  "      --keep N|SIZE     with --rotate: remove the oldest sessions past N of them or SIZE\n"
	  "  -q, --quiet           print nothing but errors\n" },
	{ "top", cmd_top, "the live view: domains, layers and hot functions, refreshed every second",
	  "domprof top [-a | -p PID] [-e EVENTS] [-F HZ] [-d SECONDS] [-I MS] [--sort KEYS] [-o FILE]\n"
	  "            [--vm NAME=PID]... [--agent NAME=ADDR]... [--key FILE] [--agent-optional]\n"
	  "            [--batch] [--format text|csv|json] [--limit N] [-q]\n"
	  "  -a, --all-cpus        sample every CPU (the default)\n"
	  "  -p, --pid PID         sample one process (all its threads, and their children)\n"
	  "  -e, --event LIST      comma-separated events (see `domprof list`); default cycles, else cpu-clock\n"
	  "  -F, --freq HZ         samples per second per CPU and event (default 1000)\n"
	  "  -d, --duration SEC    stop after SEC seconds (decimals allowed)\n"
	  "  -I, --interval MS     refresh every MS milliseconds (default 1000, 100 to 3600000)\n"
	  "  -s, --sort KEYS       grouping keys among domain,layer,comm,pid,tid,image,symbol\n"
	  "                        (default domain,layer,comm,image,symbol)\n"
	  "  -o, --output FILE     also write the run as a session, as record does\n"
	  "      --vm NAME=PID     treat process PID as a VM called NAME\n"
	  "      --agent NAME=ADDR an agent inside VM NAME (tcp:HOST:PORT or vsock:CID:PORT); repeatable:\n"
	  "                        its guest functions appear live under the VM\n"
	  "      --key FILE        the pre-shared key the agents use (from `domprof keygen`)\n"
	  "      --agent-optional  an unreachable or failing agent is a warning, not an error\n"
	  "  -b, --batch           plain snapshots, one per interval (the default when stdout is not a terminal)\n"
	  "  -f, --format FMT      batch mode: text (default), csv or json (docs/commands.md, top)\n"
	  "  -n, --limit N         batch mode: at most N rows per snapshot (default 20 for text, all for csv/json)\n"
	  "  -q, --quiet           print nothing but errors\n"
	  "Keys: q quit, d domain, l layer, s order, e event, t interval/run, z zero, p pause, / filter, h help\n" },
	{ "report", cmd_report, "print the domain/layer table and top symbols of a session",
	  "domprof report [-i FILE] [--sort KEYS] [--domain LIST] [--layer LIST] [--comm LIST]\n"
	  "               [--event LIST] [--threshold PCT] [--limit N] [--format text|csv|json]\n"
	  "               [--source merged|host|agent] [--no-idle] [--no-layers]\n"
	  "               [--children | --callers F | --callees F]\n"
	  "  -i, --input FILE      session file (default domprof.db); a directory of sessions or a\n"
	  "                        comma-separated list reads them as one\n"
	  "  -s, --sort KEYS       grouping keys among domain,layer,comm,pid,tid,image,symbol\n"
	  "                        (default domain,layer,image,symbol); rows are ordered by period\n"
	  "      --domain LIST     only these domains (comma-separated names)\n"
	  "      --layer LIST      layers: user,kernel,idle,guest-user,guest-kernel,guest,vmm,hypervisor\n"
	  "      --comm LIST       only these command names\n"
	  "      --event LIST      only these events\n"
	  "  -t, --threshold PCT   drop rows under PCT percent in every event\n"
	  "  -n, --limit N         at most N rows (default 40 for text, all for csv/json)\n"
	  "  -f, --format FMT      text (default), csv or json (docs/report-formats.md)\n"
	  "      --source VIEW     merged (default), host or agent view of active VMs\n"
	  "      --no-idle         leave the host's idle loop (domain idle) out of every table and total\n"
	  "      --no-layers       text: skip the domain/layer table\n"
	  "      --children        (-g sessions) add each function's inclusive period: itself and its callees\n"
	  "      --callers F       (-g sessions) who calls function F, by share of F's inclusive period\n"
	  "      --callees F       (-g sessions) what F calls, and F's own (self) share\n" },
	{ "list", cmd_list, "list the events and whether each works here",
	  "domprof list [--all]\n"
	  "  --all   also list every CPU-specific event libpfm4 knows for this CPU\n" },
	{ "vms", cmd_vms, "list the VMs running on this host",
	  "domprof vms [--vm NAME=PID]... [--format text|json]\n" },
	{ "diff", cmd_diff, "compare two sessions row by row, optionally per unit of work",
	  "domprof diff A.db B.db [--sort KEYS] [--per-a N] [--per-b M] [--domain LIST] [--layer LIST]\n"
	  "               [--comm LIST] [--event LIST] [--source VIEW] [--no-idle] [--threshold PCT] [--limit N]\n"
	  "               [--format text|csv|json]\n"
	  "  -s, --sort KEYS       rows to compare (default domain,layer,image,symbol)\n"
	  "      --per-a N         divide A's values by N units of work (bytes, packets, requests)\n"
	  "      --per-b M         divide B's values by M units of work\n"
	  "      --no-idle         leave the host's idle loop out of both sessions (shares of busy time)\n"
	  "  (filters, --threshold, --limit and --format as for report; rows sorted by |B - A|)\n"
	  "  A and B may each be a directory of sessions or a comma-separated list, read as one\n" },
	{ "annotate", cmd_annotate, "show a function's instructions and source lines with their share of each event",
	  "domprof annotate [-i FILE] [--domain NAME] [--image PATH] [--event LIST] [--format text|json] SYMBOL\n"
	  "  the code of the hottest functions is stored in the session when recording, so annotate\n"
	  "  works on another machine and for guest code recorded by an agent\n" },
	{ "stat", cmd_stat, "count events per domain and layer (no sampling)",
	  "domprof stat [-a | -p PID | [--] CMD [ARGS...]] [-e EVENTS] [-d SECONDS] [-I MS] [--vm NAME=PID]...\n"
	  "             [--format text|csv|json] [-o FILE] [-q]\n"
	  "  -a, --all-cpus        count every CPU and every VM (default without -p/CMD; with CMD: while it runs)\n"
	  "  -p, --pid PID         count one process (all its threads); a VM's process is counted as that VM\n"
	  "  -e, --event LIST      comma-separated events (see `domprof list`); default cycles,instructions,\n"
	  "                        cpu-clock, else (no PMU) cpu-clock,context-switches,page-faults\n"
	  "  -d, --duration SEC    stop after SEC seconds (decimals allowed)\n"
	  "  -I, --interval-print MS  also print the counts of every MS milliseconds (10 or more)\n"
	  "      --vm NAME=PID     treat process PID as a VM called NAME\n"
	  "  -f, --format FMT      text (default), csv or json (docs/stat.md)\n"
	  "  -o, --output FILE     write the counts to FILE instead of stdout\n"
	  "  -q, --quiet           print nothing but errors and the counts\n" },
	{ "export", cmd_export, "export a session as pprof, folded stacks or JSON",
	  "domprof export --format pprof|folded|json [-i FILE] [-o FILE] [--domain LIST] [--layer LIST]\n"
	  "               [--comm LIST] [--event LIST] [--source merged|host|agent] [--value samples|period]\n"
	  "               [--no-idle] [-q]\n"
	  "  -f, --format FMT      pprof (gzipped profile.proto), folded (FlameGraph stacks) or json\n"
	  "  -i, --input FILE      session file (default domprof.db); a directory of sessions or a\n"
	  "                        comma-separated list reads them as one\n"
	  "  -o, --output FILE     default domprof.pb.gz for pprof, standard output otherwise ('-': stdout)\n"
	  "      --domain LIST     only these domains (comma-separated names)\n"
	  "      --layer LIST      layers: user,kernel,idle,guest-user,guest-kernel,guest,vmm,hypervisor\n"
	  "      --comm LIST       only these command names\n"
	  "      --event LIST      pprof/json: only these events; folded: the one event counted (default the first)\n"
	  "      --source VIEW     merged (default), host or agent view of active VMs\n"
	  "      --value V         folded: period (default, in the event's unit) or samples\n"
	  "      --no-idle         leave the host's idle loop (domain idle) out\n"
	  "  -q, --quiet           no summary line after writing a file\n"
	  "Formats and how to load them in pprof, flamegraph.pl or speedscope: docs/export.md\n" },
	{ "html", cmd_html, "write a self-contained HTML report of a session",
	  "domprof html [-i FILE] [-o FILE] [--source merged|host|agent] [--no-idle] [-q]\n"
	  "  -i, --input FILE      session file (default domprof.db); a directory of sessions or a\n"
	  "                        comma-separated list reads them as one\n"
	  "  -o, --output FILE     the page (default domprof.html; - for standard output)\n"
	  "      --source VIEW     merged (default), host or agent view of active VMs\n"
	  "      --no-idle         leave the host's idle loop (domain idle) out of the page\n"
	  "  -q, --quiet           print nothing but errors\n"
	  "  The page needs nothing else and loads nothing; docs/html.md describes it.\n" },
	{ "import", cmd_import, "turn a perf.data file into a session",
	  "domprof import [PERF.DATA | -i PERF.DATA | -] [-o FILE] [-q]\n"
	  "  PERF.DATA             a capture of perf record or perf kvm record (default perf.data);\n"
	  "                        - reads a pipe capture (perf record -o -) from stdin\n"
	  "  -o, --output FILE     session file (default domprof.db; an existing one becomes FILE.old)\n"
	  "  -q, --quiet           print nothing but errors and warnings\n" },
	{ "agent", cmd_agent, "run inside a VM: sample it for a coordinating `domprof record`",
	  "domprof agent --listen tcp:ADDR:PORT|vsock:CID:PORT --key FILE [--once] [--compact-rows N] [-q]\n"
	  "  -l, --listen ADDR     where to wait for the coordinator: tcp:0.0.0.0:7070, vsock:any:7070\n"
	  "  -k, --key FILE        the pre-shared key (from `domprof keygen`): a file of yours, mode 0600,\n"
	  "                        not a symbolic link\n"
	  "      --once            serve one coordinator, then exit\n"
	  "      --compact-rows N  let go of the catalog rows no live counter names once it holds N\n"
	  "                        images, functions and call-path nodes and twice what it kept\n"
	  "                        the last time (default 16384)\n"
	  "  -q, --quiet           log nothing\n" },
	{ "keygen", cmd_keygen, "write a new random key for agents and coordinators",
	  "domprof keygen FILE\n" },
	{ "help", cmd_help, "show help for a command", "domprof help [COMMAND]\n" },
};

/* errno_value: what %m in fmt stands for. */
static void vmessage(const char *prefix, int errno_value, const char *fmt, va_list ap)
{
	fprintf(stderr, "domprof: %s", prefix);
	errno = errno_value;
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int log_error_errno(int r, const char *fmt, ...)
{
	va_list ap;
	if (r >= 0)
		r = -EINVAL;
	va_start(ap, fmt);
	vmessage("", -r, fmt, ap);
	va_end(ap);
	return r;
}

int log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("", EINVAL, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void log_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("warning: ", errno, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return;
	va_start(ap, fmt);
	vmessage("", errno, fmt, ap);
	va_end(ap);
}

static void main_usage(FILE *out)
{
	fprintf(out, "usage: domprof <command> [options]\n\n"
		     "A system-wide profiler for hosts running VMs: where the cycles go, per VM and layer.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n`domprof help COMMAND` or `domprof COMMAND --help` for a command's options.\n"
		     "Manual pages: domprof(1), domprof-COMMAND(1).\n");
}

void usage(const char *cmd, FILE *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].name, cmd)) {
			fprintf(out, "usage: %s", commands[i].usage);
			return;
		}
	main_usage(out);
}

extern char **environ;

/* Whether `man -w PAGE` finds the page (quietly): the package or `make
 * install` put it where man looks. */
static bool man_page_found(const char *page)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "man", "-w", (char *)page, NULL };
	pid_t pid;
	int status, r;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return false;
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, "man", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return false; /* no man here */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].name, argv[1])) {
			/* The manual page, as git and perf show theirs, but only for a
			 * person at a terminal: a script or a pipe gets the usage text at
			 * once and never waits on a pager. */
			if (isatty(STDOUT_FILENO)) {
				_cleanup_free_ char *page = xasprintf("domprof-%s", commands[i].name);
				if (man_page_found(page)) {
					fflush(stdout);
					execlp("man", "man", page, (char *)NULL);
					/* man vanished between the two calls: the usage will do. */
				}
			}
			printf("domprof %s: %s\n\n", commands[i].name, commands[i].summary);
			usage(argv[1], stdout);
			return 0;
		}
	return log_error("no command '%s'; `domprof help` lists them", argv[1]);
}

int main(int argc, char **argv)
{
	int r;

	if (argc < 2) {
		main_usage(stderr);
		return 2;
	}
	if (streq(argv[1], "--help") || streq(argv[1], "-h")) {
		main_usage(stdout);
		return 0;
	}
	if (streq(argv[1], "--version") || streq(argv[1], "version")) {
		printf("domprof %s\n", DOMPROF_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].name, argv[1])) {
			for (int a = 2; a < argc && !streq(argv[a], "--"); a++)
				if (streq(argv[a], "--help") || streq(argv[a], "-h")) {
					usage(argv[1], stdout);
					return 0;
				}
			r = commands[i].fn(argc - 1, argv + 1);
			return r < 0 ? EXIT_FAILURE : r;
		}
	log_error("'%s' is not a domprof command", argv[1]);
	main_usage(stderr);
	return 2;
}
