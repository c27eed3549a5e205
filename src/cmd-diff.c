/* domprof diff A B: two sessions side by side, per domain, layer, image
 * and symbol (or the keys given), optionally per unit of work. */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>

#include "../lib/report/diff.h"
#include "domprof.h"

enum { OPT_DOMAIN = 1000, OPT_LAYER, OPT_COMM, OPT_EVENT, OPT_PER_A, OPT_PER_B, OPT_SOURCE, OPT_NO_IDLE };

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sort", required_argument, NULL, 's' },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ "layer", required_argument, NULL, OPT_LAYER },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "per-a", required_argument, NULL, OPT_PER_A },
		{ "per-b", required_argument, NULL, OPT_PER_B },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "no-idle", no_argument, NULL, OPT_NO_IDLE },
		{ "threshold", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ 0 },
	};
	const char *sort = "domain,layer,image,symbol";
	struct report_query q = { 0 };
	enum report_format format = FORMAT_TEXT;
	double per_a = 1, per_b = 1;
	bool limit_set = false;
	struct session *a = NULL, *b = NULL;
	struct diff_table t;
	char *err = NULL;
	int c, ret = 0;
	uint64_t v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:t:n:f:", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sort = optarg; break;
		case OPT_DOMAIN: strv_free(q.domains); q.domains = strv_split(optarg); break;
		case OPT_LAYER: strv_free(q.layers); q.layers = strv_split(optarg); break;
		case OPT_COMM: strv_free(q.comms); q.comms = strv_split(optarg); break;
		case OPT_EVENT: strv_free(q.events); q.events = strv_split(optarg); break;
		case OPT_PER_A:
		case OPT_PER_B: {
			double d;
			if (parse_double(optarg, &d) < 0 || !(d > 0) || isinf(d)) {
				ret = error("%s: '%s' is not a positive number of work units", c == OPT_PER_A ? "--per-a" : "--per-b", optarg);
				goto out;
			}
			if (c == OPT_PER_A)
				per_a = d;
			else
				per_b = d;
			break;
		}
		case OPT_SOURCE:
			if (report_source__parse(optarg, &q.source) < 0) {
				ret = error("--source: '%s' is not one of merged, host, agent", optarg);
				goto out;
			}
			break;
		case OPT_NO_IDLE: q.no_idle = true; break;
		case 't':
			if (parse_double(optarg, &q.threshold) < 0 || q.threshold < 0) {
				ret = error("--threshold: '%s' is not a percentage", optarg);
				goto out;
			}
			break;
		case 'n':
			if (parse_u64(optarg, 10, &v) < 0) {
				ret = error("--limit: '%s' is not a number of rows", optarg);
				goto out;
			}
			q.limit = v;
			limit_set = true;
			break;
		case 'f':
			if (report_format__parse(optarg, &format) < 0) {
				ret = error("--format: '%s' is not one of text, csv, json", optarg);
				goto out;
			}
			break;
		default:
			usage("diff", stderr);
			ret = 1;
			goto out;
		}
	}
	if (argc - optind != 2) {
		ret = error("diff needs two sessions: domprof diff A.db B.db");
		goto out;
	}
	if (report_query__parse_keys(&q, sort, &err) < 0) {
		ret = error("--sort: %s", err);
		goto out;
	}
	if (!limit_set && format == FORMAT_TEXT)
		q.limit = 40;
	if (session__open(argv[optind], true, &a, &err) < 0 || session__open(argv[optind + 1], true, &b, &err) < 0) {
		ret = error("%s", err);
		goto out;
	}
	if (diff_table__compute(a, b, &q, per_a, per_b, &t, &err) < 0) {
		ret = error("%s", err);
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
	strv_free(q.domains);
	strv_free(q.layers);
	strv_free(q.comms);
	strv_free(q.events);
	return ret;
}
