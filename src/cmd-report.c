/* domprof report: the Xenoprof table (domains and layers) and the top
 * rows by the chosen keys, from a session file alone. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>

#include "../lib/report/report.h"
#include "../lib/session/session.h"
#include "domprof.h"

enum {
	OPT_DOMAIN = 1000,
	OPT_LAYER,
	OPT_COMM,
	OPT_EVENT,
	OPT_SOURCE,
	OPT_NO_LAYERS,
	OPT_NO_IDLE,
	OPT_CHILDREN,
	OPT_CALLERS,
	OPT_CALLEES
};

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "sort", required_argument, NULL, 's' },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ "layer", required_argument, NULL, OPT_LAYER },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "threshold", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "no-layers", no_argument, NULL, OPT_NO_LAYERS },
		{ "no-idle", no_argument, NULL, OPT_NO_IDLE },
		{ "children", no_argument, NULL, OPT_CHILDREN },
		{ "callers", required_argument, NULL, OPT_CALLERS },
		{ "callees", required_argument, NULL, OPT_CALLEES },
		{ 0 },
	};
	const char *input = "domprof.db", *sort = "domain,layer,image,symbol";
	struct report_query q = { 0 };
	enum report_format format = FORMAT_TEXT;
	bool limit_set = false, no_layers = false;
	struct session *s = NULL;
	struct report_table table;
	struct report_layers layers;
	char *err = NULL;
	int c, ret = 0;
	uint64_t v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:s:t:n:f:", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 's': sort = optarg; break;
		case OPT_DOMAIN: strv_free(q.domains); q.domains = strv_split(optarg); break;
		case OPT_LAYER:
			strv_free(q.layers);
			q.layers = strv_split(optarg);
			for (char **l = q.layers; *l; l++)
				if (layer__from_name(*l) < 0) {
					ret = error("--layer: unknown layer '%s' (known: user, kernel, guest-user, guest-kernel, "
						    "guest, vmm, hypervisor, idle)", *l);
					goto out;
				}
			break;
		case OPT_COMM: strv_free(q.comms); q.comms = strv_split(optarg); break;
		case OPT_EVENT: strv_free(q.events); q.events = strv_split(optarg); break;
		case 't':
			if (parse_double(optarg, &q.threshold) < 0 || q.threshold < 0 || q.threshold > 100) {
				ret = error("--threshold: '%s' is not a percentage between 0 and 100", optarg);
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
		case OPT_SOURCE:
			if (report_source__parse(optarg, &q.source) < 0) {
				ret = error("--source: '%s' is not one of merged, host, agent", optarg);
				goto out;
			}
			break;
		case OPT_NO_LAYERS: no_layers = true; break;
		case OPT_NO_IDLE: q.no_idle = true; break;
		case OPT_CHILDREN: q.children = true; break;
		case OPT_CALLERS: q.callers = optarg; break;
		case OPT_CALLEES: q.callees = optarg; break;
		default:
			usage("report", stderr);
			ret = 1;
			goto out;
		}
	}
	if (optind < argc) {
		ret = error("unexpected argument '%s' (the session is given with -i FILE)", argv[optind]);
		goto out;
	}
	if (!!q.children + !!q.callers + !!q.callees > 1) {
		ret = error("give one of --children, --callers, --callees");
		goto out;
	}
	if ((q.callers || q.callees) && streq(sort, "domain,layer,image,symbol"))
		sort = "symbol,image";
	if (report_query__parse_keys(&q, sort, &err) < 0) {
		ret = error("--sort: %s", err);
		goto out;
	}
	if (!limit_set && format == FORMAT_TEXT)
		q.limit = 40;
	if (session__open(input, true, &s, &err) < 0) {
		ret = error("%s", err);
		goto out;
	}
	if (report_layers__query(s, &q, &layers, &err) < 0) {
		ret = error("%s", err);
		goto out;
	}
	if (report_table__query(s, &q, &table, &err) < 0) {
		report_layers__release(&layers);
		ret = error("%s", err);
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
		ret = error("cannot write the report: %s", strerror(errno));
	report_table__release(&table);
	report_layers__release(&layers);
out:
	free(err);
	session__close(s);
	strv_free(q.domains);
	strv_free(q.layers);
	strv_free(q.comms);
	strv_free(q.events);
	return ret;
}
