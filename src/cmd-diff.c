/* domprof diff A B: two sessions side by side, per domain, layer, image
 * and symbol (or the keys given), optionally per unit of work. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>

#include "../lib/report/diff.h"
#include "domprof.h"
#include "options.h"

enum { OPT_PER_A = OPT_COMMAND_BASE, OPT_PER_B };

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sort", required_argument, NULL, 's' },
		OPTIONS_QUERY,
		{ "per-a", required_argument, NULL, OPT_PER_A },
		{ "per-b", required_argument, NULL, OPT_PER_B },
		OPTION_THRESHOLD,
		OPTION_LIMIT,
		OPTION_FORMAT,
		{ 0 },
	};
	const char *sort = "domain,layer,image,symbol";
	struct report_query q = { 0 };
	int format = FORMAT_TEXT;
	double per_a = 1, per_b = 1;
	bool limit_set = false;
	struct session *a = NULL, *b = NULL;
	struct diff_table t;
	char *err = NULL;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:t:n:f:", longopts, NULL)) != -1) {
		switch (c) {
		OPTION_QUERY_CASES: ret = option_parse_query(c, optarg, &q); break;
		case 's': sort = optarg; break;
		case OPT_PER_A:
		case OPT_PER_B: {
			double d;
			if (parse_double(optarg, &d) < 0 || !(d > 0) || isinf(d)) {
				ret = log_error("%s: '%s' is not a positive number of work units",
						c == OPT_PER_A ? "--per-a" : "--per-b", optarg);
				break;
			}
			if (c == OPT_PER_A)
				per_a = d;
			else
				per_b = d;
			break;
		}
		case 't': ret = option_parse_threshold(optarg, &q.threshold); break;
		case 'n':
			ret = option_parse_limit(optarg, &q.limit);
			limit_set = true;
			break;
		case 'f': ret = option_parse_format(optarg, option_table_formats, &format); break;
		default:
			usage("diff", stderr);
			ret = -EINVAL;
		}
		if (ret < 0)
			goto out;
	}
	if (argc - optind != 2) {
		ret = log_error("diff needs two sessions: domprof diff A.db B.db");
		goto out;
	}
	if ((ret = report_query__parse_keys(&q, sort, &err)) < 0) {
		ret = log_error_errno(ret, "--sort: %s", err);
		goto out;
	}
	if (!limit_set && format == FORMAT_TEXT)
		q.limit = 40;
	if ((ret = session__open_input(argv[optind], &a, &err)) < 0 ||
	    (ret = session__open_input(argv[optind + 1], &b, &err)) < 0) {
		ret = log_error_errno(ret, "%s", err);
		goto out;
	}
	if ((ret = diff_table__compute(a, b, &q, per_a, per_b, &t, &err)) < 0) {
		ret = log_error_errno(ret, "%s", err);
		goto out;
	}
	if (format == FORMAT_TEXT)
		diff_table__print_text(&t, argv[optind], argv[optind + 1], stdout);
	else if (format == FORMAT_CSV)
		diff_table__print_csv(&t, stdout);
	else
		diff_table__print_json(&t, argv[optind], argv[optind + 1], stdout);
	diff_table__release(&t);
out:
	free(err);
	session__close(a);
	session__close(b);
	option_query__release(&q);
	return ret;
}
