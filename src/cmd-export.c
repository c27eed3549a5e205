/* domprof export: a session's samples and call stacks as pprof (gzipped
 * profile.proto), FlameGraph folded stacks or JSON, for the tools that
 * read those (docs/export.md). Files are written atomically
 * (atomic_file), so a failed export never leaves half a profile. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/report/export.h"
#include "../lib/report/report.h"
#include "../lib/session/catalog.h"
#include "../lib/session/session.h"
#include "domprof.h"
#include "options.h"

enum { OPT_VALUE = OPT_COMMAND_BASE };

static int write_export(const struct export_profile *p, enum export_format format, enum export_value value, FILE *out)
{
	switch (format) {
	case EXPORT_PPROF: return export_profile__write_pprof(p, out);
	case EXPORT_FOLDED: return export_profile__write_folded(p, 0, value, out);
	case EXPORT_JSON: return export_profile__write_json(p, out);
	}
	return -EINVAL;
}

static int write_output(const char *output, const struct export_profile *p, enum export_format format,
			enum export_value value)
{
	struct atomic_file af;
	int r = atomic_file__open(&af, output, 0666);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m (does its directory exist, and is it writable?)", output);
	r = write_export(p, format, value, af.f);
	if (r < 0) {
		atomic_file__abort(&af);
		return log_error_errno(r, "cannot write %s: %m", output);
	}
	r = atomic_file__commit(&af, true);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", output);
	return 0;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* An unknown --domain is a typo more often than an empty selection. */
static int check_domains(struct session *s, char **domains)
{
	struct session_catalog cat;
	char *err = NULL;
	int r = 0;
	if (!domains)
		return 0;
	if ((r = session_catalog__load(s, CATALOG_DOMAINS, &cat, &err)) < 0) {
		r = log_error_errno(r, "%s", err);
		free(err);
		return r;
	}
	for (char **d = domains; *d && r == 0; d++) {
		struct strbuf known;
		bool found = false;
		strbuf_init(&known);
		for (uint32_t id = 0; id < cat.n_domains; id++) {
			const struct catalog_domain *cd = session_catalog__domain(&cat, id);
			if (!cd)
				continue;
			found |= streq(cd->name, *d);
			strbuf_addf(&known, "%s%s", known.len ? ", " : "", cd->name);
		}
		if (!found)
			r = log_error("--domain: '%s' is not a domain of %s (it has: %s)", *d, session__path(s),
				      known.len ? known.buf : "none");
		strbuf_release(&known);
	}
	session_catalog__release(&cat);
	return r;
}

struct export_args {
	const char *input, *output;
	struct report_query q;
	int format;
	enum export_value value;
	bool value_set;
};

/* The options, and the combinations export refuses. */
static int parse_args(int argc, char **argv, struct export_args *a)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		OPTION_FORMAT,
		OPTIONS_QUERY,
		{ "value", required_argument, NULL, OPT_VALUE },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:f:q", longopts, NULL)) != -1) {
		switch (c) {
		OPTION_QUERY_CASES: ret = option_parse_query(c, optarg, &a->q); break;
		case 'i': a->input = optarg; break;
		case 'o': a->output = optarg; break;
		case 'f': ret = option_parse_format(optarg, export_format__names, &a->format); break;
		case OPT_VALUE:
			if (export_value__parse(optarg, &a->value) < 0)
				ret = log_error("--value: '%s' is not one of samples, period", optarg);
			a->value_set = true;
			break;
		case 'q': quiet = true; break;
		default:
			usage("export", stderr);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	if (optind < argc)
		return log_error("unexpected argument '%s' (the session is given with -i FILE)", argv[optind]);
	if (a->format < 0)
		return log_error("say which format to write: --format pprof, folded or json");
	if (a->value_set && a->format != EXPORT_FOLDED)
		return log_error("--value applies to --format folded only (pprof and json carry both samples and period)");
	if (a->format == EXPORT_FOLDED && a->q.events && a->q.events[0] && a->q.events[1])
		return log_error("--event: folded stacks carry one value; name one event (e.g. --event %s)", a->q.events[0]);
	if (a->q.events && !a->q.events[0])
		return log_error("--event: no event named");
	if (!a->output && a->format == EXPORT_PPROF)
		a->output = "domprof.pb.gz";
	if (a->output && streq(a->output, "-"))
		a->output = NULL;
	if (!a->output && a->format == EXPORT_PPROF && isatty(STDOUT_FILENO))
		return log_error("not writing a binary pprof profile to a terminal; use -o FILE or redirect the output");
	if (a->output && same_file(a->output, a->input))
		return log_error("-o %s is the session being exported; choose another output file", a->output);
	return 0;
}

/* Folded stacks carry one event: the first of the session, unless one is
 * named. */
static int default_event(struct session *s, struct export_args *a)
{
	struct report_event *ev = NULL;
	size_t n = 0;
	char *err = NULL;
	int r;
	if (a->format != EXPORT_FOLDED || a->q.events)
		return 0;
	if ((r = report__load_events(s, NULL, &ev, &n, &err)) < 0) {
		r = log_error_errno(r, "%s", err);
		free(err);
		return r;
	}
	a->q.events = strv_split(ev[0].name);
	report_events__free(ev, n);
	if (!a->q.events[0])
		return log_error("%s: the first event has an empty name; name one with --event", a->input);
	return 0;
}

static int write_result(const struct export_args *a, const struct export_profile *p)
{
	struct strbuf sum;
	int r;
	if (!a->output) {
		r = write_export(p, (enum export_format)a->format, a->value, stdout);
		if (r < 0)
			return log_error_errno(r, "cannot write the export to standard output: %m");
		return 0;
	}
	r = write_output(a->output, p, (enum export_format)a->format, a->value);
	if (r < 0)
		return r;
	strbuf_init(&sum);
	for (size_t e = 0; e < export_profile__n_events(p); e++) {
		const struct report_event *ev = export_profile__event(p, e);
		strbuf_addf(&sum, "%s%s %llu samples", e ? ", " : "", ev->name,
			    (unsigned long long)export_profile__total_samples(p, e));
	}
	log_info("wrote %s (%s)", a->output, sum.buf);
	strbuf_release(&sum);
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct export_args a = { .input = "domprof.db", .format = -1, .value = EXPORT_VALUE_PERIOD };
	struct session *s = NULL;
	struct export_profile *p = NULL;
	char *err = NULL;
	int r, ret;

	if ((ret = parse_args(argc, argv, &a)) < 0)
		goto out;
	r = session__open_input(a.input, &s, &err);
	if (r < 0) {
		if (r == -ENOENT)
			ret = log_error_errno(r, "%s (record a session with `domprof record`, or name one with -i FILE)", err);
		else
			ret = log_error_errno(r, "%s", err);
		goto out;
	}
	if ((ret = check_domains(s, a.q.domains)) < 0 || (ret = default_event(s, &a)) < 0)
		goto out;
	if ((r = export_profile__load(s, &a.q, &p, &err)) < 0) {
		ret = log_error_errno(r, "%s", err);
		goto out;
	}
	if (!export_profile__n_samples(p))
		log_warning("no samples of %s match the filters; the %s output is empty", a.input,
			    a.format == EXPORT_PPROF ? "pprof" : a.format == EXPORT_FOLDED ? "folded" : "JSON");
	ret = write_result(&a, p);
out:
	free(err);
	export_profile__free(p);
	session__close(s);
	option_query__release(&a.q);
	return ret;
}
