/* domprof: the command hub. Dispatches `domprof <command> ...` through a
 * table to cmd_<command> in src/cmd-<command>.c. */
#include <stdarg.h>
#include <string.h>

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
	  "domprof record [-a | -p PID | [--] CMD [ARGS...]] [-e EVENTS] [-F HZ | -c PERIOD] [-g]\n"
	  "               [-d SECONDS] [-o FILE] [-m PAGES] [--vm NAME=PID]...\n"
	  "               [--guest-kallsyms VM=FILE]... [--guest-kaslr-offset VM=HEX]... [--guest-stext VM=HEX]...\n"
	  "               [-q]\n"
	  "  -a, --all-cpus        sample every CPU (default without -p/CMD; with CMD: while CMD runs)\n"
	  "  -p, --pid PID         sample one process (all its threads, and their children)\n"
	  "  -e, --event LIST      comma-separated events (see `domprof list`); default cycles, else cpu-clock\n"
	  "  -F, --freq HZ         samples per second per CPU and event (default 1000)\n"
	  "  -c, --count PERIOD    sample every PERIOD events instead\n"
	  "  -g, --call-graph      record call chains (frame pointers)\n"
	  "  -d, --duration SEC    stop after SEC seconds (decimals allowed)\n"
	  "  -o, --output FILE     session file (default domprof.db; an existing one becomes FILE.old)\n"
	  "  -m, --mmap-pages N    ring size per CPU in pages, a power of two (default 128)\n"
	  "      --vm NAME=PID     treat process PID as a VM called NAME\n"
	  "      --guest-kallsyms VM=FILE      guest kernel symbols: a copy of its /proc/kallsyms,\n"
	  "                                    a System.map or a vmlinux\n"
	  "      --guest-kaslr-offset VM=HEX   KASLR offset for a System.map/vmlinux\n"
	  "      --guest-stext VM=HEX          the guest's runtime _stext (from its /proc/kallsyms), to\n"
	  "                                    compute the KASLR offset\n"
	  "  -q, --quiet           print nothing but errors\n" },
	{ "report", cmd_report, "print the domain/layer table and top symbols of a session",
	  "domprof report [-i FILE] [--sort KEYS] [--domain LIST] [--layer LIST] [--comm LIST]\n"
	  "               [--event LIST] [--threshold PCT] [--limit N] [--format text|csv|json]\n"
	  "               [--source merged|host|agent] [--no-layers]\n"
	  "  -i, --input FILE      session file (default domprof.db)\n"
	  "  -s, --sort KEYS       grouping keys among domain,layer,comm,pid,tid,image,symbol\n"
	  "                        (default domain,layer,image,symbol); rows are ordered by period\n"
	  "      --domain LIST     only these domains (comma-separated names)\n"
	  "      --layer LIST      only these layers (user,kernel,guest-user,guest-kernel,guest,vmm,hypervisor)\n"
	  "      --comm LIST       only these command names\n"
	  "      --event LIST      only these events\n"
	  "  -t, --threshold PCT   drop rows under PCT percent in every event\n"
	  "  -n, --limit N         at most N rows (default 40 for text, all for csv/json)\n"
	  "  -f, --format FMT      text (default), csv or json (docs/report-formats.md)\n"
	  "      --source VIEW     merged (default), host or agent view of active VMs\n"
	  "      --no-layers       text: skip the domain/layer table\n" },
	{ "list", cmd_list, "list the events and whether each works here",
	  "domprof list [--all]\n"
	  "  --all   also list every CPU-specific event libpfm4 knows for this CPU\n" },
	{ "vms", cmd_vms, "list the VMs running on this host",
	  "domprof vms [--vm NAME=PID]... [--format text|json]\n" },
	{ "stat", cmd_stat, "count events per domain and layer (no sampling)",
	  "domprof stat [-a | -p PID | [--] CMD [ARGS...]] [-e EVENTS] [-d SECONDS] [--format text|csv|json]\n" },
	{ "export", cmd_export, "export a session as pprof, folded stacks or JSON",
	  "domprof export [-i FILE] --format pprof|folded|json [-o FILE]\n" },
	{ "html", cmd_html, "write a self-contained HTML report of a session",
	  "domprof html [-i FILE] [-o FILE]\n" },
	{ "import", cmd_import, "turn a perf.data file into a session",
	  "domprof import [PERF.DATA | -i PERF.DATA | -] [-o FILE] [-q]\n"
	  "  PERF.DATA             a capture of perf record or perf kvm record (default perf.data);\n"
	  "                        - reads a pipe capture (perf record -o -) from stdin\n"
	  "  -o, --output FILE     session file (default domprof.db; an existing one becomes FILE.old)\n"
	  "  -q, --quiet           print nothing but errors and warnings\n" },
	{ "help", cmd_help, "show help for a command", "domprof help [COMMAND]\n" },
};

static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "domprof: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	return 1;
}

void warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("warning: ", fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return;
	va_start(ap, fmt);
	vmessage("", fmt, ap);
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
		     "Documentation: docs/commands.md\n");
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

int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].name, argv[1])) {
			printf("domprof %s: %s\n\n", commands[i].name, commands[i].summary);
			usage(argv[1], stdout);
			return 0;
		}
	return error("no command '%s'; `domprof help` lists them", argv[1]);
}

int main(int argc, char **argv)
{
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
			return commands[i].fn(argc - 1, argv + 1);
		}
	error("'%s' is not a domprof command", argv[1]);
	main_usage(stderr);
	return 2;
}
