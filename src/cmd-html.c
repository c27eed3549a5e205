/* domprof html: write a session's report as one self-contained HTML page
 * (domain/layer chart, timeline, flame graphs, top symbols; docs/html.md).
 * The page is written to a temporary file beside the target and renamed
 * into place, so a failed run never leaves a truncated report behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/report/html.h"
#include "../lib/session/session.h"
#include "domprof.h"

enum { OPT_SOURCE = 1000, OPT_NO_IDLE };

/* Write the page to path through a temporary file; "-" is stdout. */
static int write_page(struct session *s, const struct html_options *o, const char *path, struct html_summary *summary)
{
	_cleanup_free_ char *tmp = NULL, *err = NULL;
	FILE *f;
	mode_t mask;
	int fd, r;

	if (streq(path, "-")) {
		r = html_report__write(s, o, stdout, summary, &err);
		if (r < 0)
			return error("%s", err);
		if (fflush(stdout) != 0)
			return error("cannot write the report to standard output: %s", strerror(errno));
		return 0;
	}
	tmp = xasprintf("%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return error("cannot create %s: %s (check that its directory exists and is writable, or give another "
			     "file with -o)", path, strerror(errno));
	/* mkstemp makes the file private; a report is an ordinary file. */
	mask = umask(0);
	umask(mask);
	(void)fchmod(fd, 0666 & ~mask);
	f = fdopen(fd, "w");
	if (!f) {
		r = errno;
		close(fd);
		unlink(tmp);
		return error("cannot write %s: %s", path, strerror(r));
	}
	r = html_report__write(s, o, f, summary, &err);
	if (r < 0) {
		fclose(f);
		unlink(tmp);
		return error("%s", err);
	}
	if (fclose(f) != 0) {
		r = errno;
		unlink(tmp);
		return error("cannot write %s: %s", path, strerror(r));
	}
	if (rename(tmp, path) < 0) {
		r = errno;
		unlink(tmp);
		return error("cannot create %s: %s", path, strerror(r));
	}
	return 0;
}

int cmd_html(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "no-idle", no_argument, NULL, OPT_NO_IDLE },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	const char *input = "domprof.db", *output = "domprof.html";
	struct html_options o;
	struct html_summary summary = { 0 };
	struct session *s = NULL;
	_cleanup_free_ char *err = NULL;
	struct stat st;
	int c, ret;

	html_options__init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'o': output = optarg; break;
		case 'q': quiet = true; break;
		case OPT_SOURCE:
			if (report_source__parse(optarg, &o.source) < 0)
				return error("--source: '%s' is not one of merged, host, agent", optarg);
			break;
		case OPT_NO_IDLE: o.no_idle = true; break;
		default:
			usage("html", stderr);
			return 1;
		}
	}
	if (optind < argc)
		return error("unexpected argument '%s' (the session is given with -i FILE)", argv[optind]);
	if (!*output)
		return error("-o: empty file name (give a file such as report.html, or - for standard output)");
	if (!streq(output, "-") && stat(output, &st) == 0 && S_ISDIR(st.st_mode))
		return error("-o: %s is a directory; give a file name such as %s/domprof.html", output, output);
	ret = session__open(input, true, &s, &err);
	if (ret == -ENOENT)
		return error("%s (record a session with `domprof record`, or name one with -i FILE)", err);
	if (ret < 0)
		return error("%s", err);
	ret = write_page(s, &o, output, &summary);
	session__close(s);
	if (ret)
		return ret;
	if (!streq(output, "-")) {
		char size[32];
		if (stat(output, &st) < 0)
			st.st_size = 0;
		info("wrote %s (%s): %zu domain%s, %zu event%s, %zu flame graph frames", output,
		     format_bytes((uint64_t)st.st_size, size, sizeof(size)), summary.n_domains,
		     summary.n_domains == 1 ? "" : "s", summary.n_events, summary.n_events == 1 ? "" : "s", summary.frames);
		if (summary.frames_pruned)
			info("flame graphs: %zu frames under %.2g%% of their domain merged into their callers",
			     summary.frames_pruned, summary.min_frame_percent);
	}
	return 0;
}
