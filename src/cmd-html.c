/* domprof html: write a session's report as one self-contained HTML page
 * (domain/layer chart, timeline, flame graphs, top symbols; docs/html.md).
 * The page is written atomically (atomic_file), so a failed run never
 * leaves a truncated report behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/report/html.h"
#include "../lib/session/session.h"
#include "domprof.h"
#include "options.h"

/* Write the page to path; "-" is stdout. */
static int write_page(struct session *s, const struct html_options *o, const char *path, struct html_summary *summary)
{
	_cleanup_free_ char *err = NULL;
	struct atomic_file af;
	int r;

	if (streq(path, "-")) {
		r = html_report__write(s, o, stdout, summary, &err);
		if (r < 0)
			return log_error_errno(r, "%s", err);
		if (fflush(stdout) != 0)
			return log_error_errno(-errno, "cannot write the report to standard output: %m");
		return 0;
	}
	r = atomic_file__open(&af, path, 0666);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m (check that its directory exists and is writable, or give "
				       "another file with -o)", path);
	r = html_report__write(s, o, af.f, summary, &err);
	if (r < 0) {
		atomic_file__abort(&af);
		return log_error_errno(r, "%s", err);
	}
	r = atomic_file__commit(&af, true);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", path);
	return 0;
}

int cmd_html(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		OPTION_SOURCE,
		OPTION_NO_IDLE,
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	const char *input = "domprof.db", *output = "domprof.html";
	struct html_options o;
	struct html_summary summary = { 0 };
	struct session *s = NULL;
	_cleanup_free_ char *err = NULL;
	struct stat st;
	int c, r;

	html_options__init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'o': output = optarg; break;
		case 'q': quiet = true; break;
		case OPT_SOURCE:
			if ((r = option_parse_source(optarg, &o.source)) < 0)
				return r;
			break;
		case OPT_NO_IDLE: o.no_idle = true; break;
		default:
			usage("html", stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return log_error("unexpected argument '%s' (the session is given with -i FILE)", argv[optind]);
	if (!*output)
		return log_error("-o: empty file name (give a file such as report.html, or - for standard output)");
	if (!streq(output, "-") && stat(output, &st) == 0 && S_ISDIR(st.st_mode))
		return log_error("-o: %s is a directory; give a file name such as %s/domprof.html", output, output);
	r = session__open_input(input, &s, &err);
	if (r == -ENOENT)
		return log_error_errno(r, "%s (record a session with `domprof record`, or name one with -i FILE)", err);
	if (r < 0)
		return log_error_errno(r, "%s", err);
	r = write_page(s, &o, output, &summary);
	session__close(s);
	if (r < 0)
		return r;
	if (!streq(output, "-")) {
		char size[32];
		if (stat(output, &st) < 0)
			st.st_size = 0;
		log_info("wrote %s (%s): %zu domain%s, %zu event%s, %zu flame graph frames", output,
			 format_bytes((uint64_t)st.st_size, size, sizeof(size)), summary.n_domains,
			 summary.n_domains == 1 ? "" : "s", summary.n_events, summary.n_events == 1 ? "" : "s",
			 summary.frames);
		if (summary.frames_pruned)
			log_info("flame graphs: %zu frames under %.2g%% of their domain merged into their callers",
				 summary.frames_pruned, summary.min_frame_percent);
	}
	return 0;
}
