/* domprof annotate SYMBOL: a function's instructions and source lines with
 * each one's share of each event, from the session alone. */
#include <errno.h>
#include <getopt.h>

#include "../lib/report/annotate.h"
#include "domprof.h"
#include "options.h"

enum { OPT_IMAGE = OPT_COMMAND_BASE };

int cmd_annotate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		OPTION_DOMAIN, /* one domain here, not a list */
		{ "image", required_argument, NULL, OPT_IMAGE },
		OPTION_EVENT,
		OPTION_FORMAT,
		{ 0 },
	};
	const char *input = "domprof.db";
	struct annotate_query q = { 0 };
	struct session *s = NULL;
	struct annotate a;
	int json = 0;
	char *err = NULL;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:f:", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case OPT_DOMAIN: q.domain = optarg; break;
		case OPT_IMAGE: q.image = optarg; break;
		case OPT_EVENT: option_parse_list(optarg, &q.events); break;
		case 'f': ret = option_parse_format(optarg, option_text_json_formats, &json); break;
		default:
			usage("annotate", stderr);
			ret = -EINVAL;
		}
		if (ret < 0)
			goto out;
	}
	if (argc - optind != 1) {
		ret = log_error("annotate needs one function name: domprof annotate [-i FILE] SYMBOL");
		goto out;
	}
	q.symbol = argv[optind];
	if ((ret = session__open(input, true, &s, &err)) < 0 || (ret = annotate__load(s, &q, &a, &err)) < 0) {
		ret = log_error_errno(ret, "%s", err);
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
