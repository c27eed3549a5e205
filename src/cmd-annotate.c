/* domprof annotate SYMBOL: a function's instructions and source lines with
 * each one's share of each event, from the session alone. */
#include <getopt.h>

#include "../lib/report/annotate.h"
#include "domprof.h"

enum { OPT_DOMAIN = 1000, OPT_IMAGE, OPT_EVENT };

int cmd_annotate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "format", required_argument, NULL, 'f' },
		{ 0 },
	};
	const char *input = "domprof.db";
	struct annotate_query q = { 0 };
	struct session *s = NULL;
	struct annotate a;
	bool json = false;
	char *err = NULL;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:f:", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case OPT_DOMAIN: q.domain = optarg; break;
		case OPT_IMAGE: q.image = optarg; break;
		case OPT_EVENT: strv_free(q.events); q.events = strv_split(optarg); break;
		case 'f':
			if (streq(optarg, "json"))
				json = true;
			else if (!streq(optarg, "text")) {
				ret = error("--format: '%s' is not one of text, json", optarg);
				goto out;
			}
			break;
		default:
			usage("annotate", stderr);
			ret = 1;
			goto out;
		}
	}
	if (argc - optind != 1) {
		ret = error("annotate needs one function name: domprof annotate [-i FILE] SYMBOL");
		goto out;
	}
	q.symbol = argv[optind];
	if (session__open(input, true, &s, &err) < 0 || annotate__load(s, &q, &a, &err) < 0) {
		ret = error("%s", err);
		goto out;
	}
	if (json)
		annotate__print_json(&a, stdout);
	else
		annotate__print_text(&a, stdout);
	annotate__release(&a);
out:
	free(err);
	session__close(s);
	strv_free(q.events);
	return ret;
}
