/* domprof report: the Xenoprof table (domains and layers) and the top
 * rows by the chosen keys, from a session file alone. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>

#include "../lib/report/report.h"
#include "../lib/session/session.h"
#include "domprof.h"
#include "options.h"

enum { OPT_NO_LAYERS = OPT_COMMAND_BASE, OPT_CHILDREN, OPT_CALLERS, OPT_CALLEES };

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "sort", required_argument, NULL, 's' },
		OPTIONS_QUERY,
		OPTION_THRESHOLD,
		OPTION_LIMIT,
		OPTION_FORMAT,
		{ "no-layers", no_argument, NULL, OPT_NO_LAYERS },
		{ "children", no_argument, NULL, OPT_CHILDREN },
		{ "callers", required_argument, NULL, OPT_CALLERS },
		{ "callees", required_argument, NULL, OPT_CALLEES },
		{ 0 },
	};
	const char *input = "domprof.db", *sort = "domain,layer,image,symbol";
	struct report_query q = { 0 };
	int format = FORMAT_TEXT;
	bool limit_set = false, no_layers = false;
	struct session *s = NULL;
	struct report_table table;
	struct report_layers layers;
	char *err = NULL;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:s:t:n:f:", longopts, NULL)) != -1) {
		switch (c) {
		OPTION_QUERY_CASES: ret = option_parse_query(c, optarg, &q); break;
		case 'i': input = optarg; break;
		case 's': sort = optarg; break;
		case 't': ret = option_parse_threshold(optarg, &q.threshold); break;
		case 'n':
			ret = option_parse_limit(optarg, &q.limit);
			limit_set = true;
			break;
		case 'f': ret = option_parse_format(optarg, option_table_formats, &format); break;
		case OPT_NO_LAYERS: no_layers = true; break;
		case OPT_CHILDREN: q.children = true; break;
		case OPT_CALLERS: q.callers = optarg; break;
		case OPT_CALLEES: q.callees = optarg; break;
		default:
			usage("report", stderr);
			ret = -EINVAL;
		}
		if (ret < 0)
			goto out;
	}
	if (optind < argc) {
		ret = log_error("unexpected argument '%s' (the session is given with -i FILE)", argv[optind]);
		goto out;
	}
	if (!!q.children + !!q.callers + !!q.callees > 1) {
		ret = log_error("give one of --children, --callers, --callees");
		goto out;
	}
	if ((q.callers || q.callees) && streq(sort, "domain,layer,image,symbol"))
		sort = "symbol,image";
	if ((ret = report_query__parse_keys(&q, sort, &err)) < 0) {
		ret = log_error_errno(ret, "--sort: %s", err);
		goto out;
	}
	if (!limit_set && format == FORMAT_TEXT)
		q.limit = 40;
	if ((ret = session__open_input(input, &s, &err)) < 0) {
		ret = log_error_errno(ret, "%s", err);
		goto out;
	}
	if ((ret = report_layers__query(s, &q, &layers, &err)) < 0) {
		ret = log_error_errno(ret, "%s", err);
		goto out;
	}
	if ((ret = report_table__query(s, &q, &table, &err)) < 0) {
		report_layers__release(&layers);
		ret = log_error_errno(ret, "%s", err);
		goto out;
	}
	switch (format) {
	case FORMAT_TEXT:
		report__print_header(s, &layers, stdout);
		if (!no_layers && !q.callers && !q.callees)
			report_layers__print_text(&layers, stdout);
		report_table__print_text(&table, stdout);
		break;
	case FORMAT_CSV:
		report_table__print_csv(&table, stdout);
		break;
	case FORMAT_JSON:
		report__print_json(s, &layers, &table, stdout);
		break;
	}
	if (fflush(stdout) != 0)
		ret = log_error_errno(-errno, "cannot write the report: %m");
	report_table__release(&table);
	report_layers__release(&layers);
out:
	free(err);
	session__close(s);
	option_query__release(&q);
	return ret;
}
