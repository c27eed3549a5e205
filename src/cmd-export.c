/* domprof export: a session's samples and call stacks as pprof (gzipped
 * profile.proto), FlameGraph folded stacks or JSON, for the tools that
 * read those (docs/export.md). Files are written to a temporary name and
 * renamed into place, so a failed export never leaves half a profile. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/report/export.h"
#include "../lib/report/report.h"
#include "../lib/session/session.h"
#include "domprof.h"

enum { OPT_DOMAIN = 1000, OPT_LAYER, OPT_COMM, OPT_EVENT, OPT_SOURCE, OPT_VALUE, OPT_NO_IDLE };

static int write_export(const struct export_profile *p, enum export_format format, enum export_value value, FILE *out)
{
	switch (format) {
	case EXPORT_PPROF: return export_profile__write_pprof(p, out);
	case EXPORT_FOLDED: return export_profile__write_folded(p, 0, value, out);
	case EXPORT_JSON: return export_profile__write_json(p, out);
	}
	return -EINVAL;
}

/* Write to OUTPUT.tmp-PID, then rename over OUTPUT. */
static int write_file_atomically(const char *output, const struct export_profile *p, enum export_format format,
				 enum export_value value)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", output, (int)getpid());
	FILE *f;
	int fd, r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return error("cannot write %s: %s (does its directory exist, and is it writable?)", output,
			     strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return error("cannot write %s: %s", tmp, strerror(errno));
	}
	r = write_export(p, format, value, f);
	if (fclose(f) != 0 && r >= 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return error("cannot write %s: %s", output, strerror(-r));
	}
	if (rename(tmp, output) != 0) {
		r = errno;
		unlink(tmp);
		return error("cannot write %s: %s", output, strerror(r));
	}
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
	for (char **d = domains; d && *d; d++) {
		sqlite3_stmt *st;
		bool found = false;
		struct strbuf known;
		if (sqlite3_prepare_v2(session__db(s), "SELECT name FROM domains ORDER BY id", -1, &st, NULL) != SQLITE_OK)
			return error("cannot read the domains of %s: %s", session__path(s), session__error(s));
		strbuf_init(&known);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st, 0);
			if (!name)
				continue;
			found |= streq(name, *d);
			strbuf_addf(&known, "%s%s", known.len ? ", " : "", name);
		}
		sqlite3_finalize(st);
		if (!found) {
			error("--domain: '%s' is not a domain of %s (it has: %s)", *d, session__path(s),
			      known.len ? known.buf : "none");
			strbuf_release(&known);
			return 1;
		}
		strbuf_release(&known);
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ "layer", required_argument, NULL, OPT_LAYER },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "value", required_argument, NULL, OPT_VALUE },
		{ "no-idle", no_argument, NULL, OPT_NO_IDLE },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	const char *input = "domprof.db", *output = NULL, *format_name = NULL;
	struct report_query q = { 0 };
	enum export_format format = EXPORT_PPROF;
	enum export_value value = EXPORT_VALUE_PERIOD;
	bool value_set = false;
	struct session *s = NULL;
	struct export_profile *p = NULL;
	char *err = NULL;
	int c, r, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:f:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'o': output = optarg; break;
		case 'f':
			if (export_format__parse(optarg, &format) < 0) {
				ret = error("--format: '%s' is not one of pprof, folded, json", optarg);
				goto out;
			}
			format_name = optarg;
			break;
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
		case OPT_SOURCE:
			if (report_source__parse(optarg, &q.source) < 0) {
				ret = error("--source: '%s' is not one of merged, host, agent", optarg);
				goto out;
			}
			break;
		case OPT_VALUE:
			if (export_value__parse(optarg, &value) < 0) {
				ret = error("--value: '%s' is not one of samples, period", optarg);
				goto out;
			}
			value_set = true;
			break;
		case OPT_NO_IDLE: q.no_idle = true; break;
		case 'q': quiet = true; break;
		default:
			usage("export", stderr);
			ret = 1;
			goto out;
		}
	}
	if (optind < argc) {
		ret = error("unexpected argument '%s' (the session is given with -i FILE)", argv[optind]);
		goto out;
	}
	if (!format_name) {
		ret = error("say which format to write: --format pprof, folded or json");
		goto out;
	}
	if (value_set && format != EXPORT_FOLDED) {
		ret = error("--value applies to --format folded only (pprof and json carry both samples and period)");
		goto out;
	}
	if (format == EXPORT_FOLDED && q.events && q.events[0] && q.events[1]) {
		ret = error("--event: folded stacks carry one value; name one event (e.g. --event %s)", q.events[0]);
		goto out;
	}
	if (q.events && !q.events[0]) {
		ret = error("--event: no event named");
		goto out;
	}
	if (!output && format == EXPORT_PPROF)
		output = "domprof.pb.gz";
	if (output && streq(output, "-"))
		output = NULL;
	if (!output && format == EXPORT_PPROF && isatty(STDOUT_FILENO)) {
		ret = error("not writing a binary pprof profile to a terminal; use -o FILE or redirect the output");
		goto out;
	}
	if (output && same_file(output, input)) {
		ret = error("-o %s is the session being exported; choose another output file", output);
		goto out;
	}

	r = session__open(input, true, &s, &err);
	if (r < 0) {
		if (r == -ENOENT)
			ret = error("%s (record a session with `domprof record`, or name one with -i FILE)", err);
		else
			ret = error("%s", err);
		goto out;
	}
	ret = check_domains(s, q.domains);
	if (ret)
		goto out;
	if (format == EXPORT_FOLDED && !q.events) {
		/* The first event of the session, unless one is named. */
		struct report_event *ev = NULL;
		size_t n = 0;
		if (report__load_events(s, NULL, &ev, &n, &err) < 0) {
			ret = error("%s", err);
			goto out;
		}
		q.events = strv_split(ev[0].name);
		report_events__free(ev, n);
		if (!q.events[0]) {
			ret = error("%s: the first event has an empty name; name one with --event", input);
			goto out;
		}
	}
	if (export_profile__load(s, &q, &p, &err) < 0) {
		ret = error("%s", err);
		goto out;
	}
	if (!export_profile__n_samples(p))
		warning("no samples of %s match the filters; the %s output is empty", input,
			format == EXPORT_PPROF ? "pprof" : format == EXPORT_FOLDED ? "folded" : "JSON");

	if (output) {
		ret = write_file_atomically(output, p, format, value);
		if (!ret) {
			struct strbuf sum;
			strbuf_init(&sum);
			for (size_t e = 0; e < export_profile__n_events(p); e++) {
				const struct report_event *ev = export_profile__event(p, e);
				strbuf_addf(&sum, "%s%s %llu samples", e ? ", " : "", ev->name,
					    (unsigned long long)export_profile__total_samples(p, e));
			}
			info("wrote %s (%s)", output, sum.buf);
			strbuf_release(&sum);
		}
	} else {
		r = write_export(p, format, value, stdout);
		if (r < 0)
			ret = error("cannot write the export to standard output: %s", strerror(-r));
	}
out:
	free(err);
	export_profile__free(p);
	session__close(s);
	strv_free(q.domains);
	strv_free(q.layers);
	strv_free(q.comms);
	strv_free(q.events);
	return ret;
}
