/* domprof import: turn a perf.data capture (perf record, perf kvm record,
 * pipe captures, zstd-compressed ones) into a session, so every report
 * works on it. The work is in lib/import/importer.c; this file parses the
 * command line, prints the errors and the summary. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/import/importer.h"
#include "../lib/session/session.h"
#include "child.h"
#include "domprof.h"

struct import_options {
	const char *input;
	const char *output;
};

static int parse_options(int argc, char **argv, struct import_options *o)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	int c;

	o->output = "domprof.db";
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->input = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage("import", stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		if (o->input || optind + 1 < argc) {
			usage("import", stderr);
			return log_error("give one perf.data file");
		}
		o->input = argv[optind];
	}
	if (!o->input)
		o->input = "perf.data"; /* as perf report */
	if (!*o->output)
		return log_error("-o: the session file name is empty");
	return 0;
}



static void print_summary(const struct importer *im, const char *input, const char *output, bool complete)
{
	const struct perf_data_info *info = perf_data__info(im->data);
	const struct perf_data_stats *st = perf_data__stats(im->data);
	struct stat sb;
	char in_size[32], out_size[32] = "?";
	uint64_t samples = importer__samples(im), lost = importer__lost(im);

	if (quiet)
		return;
	format_bytes(perf_data__file_size(im->data), in_size, sizeof(in_size));
	if (stat(output, &sb) == 0)
		format_bytes((uint64_t)sb.st_size, out_size, sizeof(out_size));
	fprintf(stderr, "domprof: imported %s (%s%s%s%s%s%s), %.2f s of samples\n", input, in_size,
		info->version ? ", perf " : "", info->version ? info->version : "", info->hostname ? ", host " : "",
		info->hostname ? info->hostname : "", info->pipe ? ", pipe layout" : "",
		im->have_time ? (double)(im->last_time - im->first_time) / 1e9 : 0.0);
	collector__print_totals(&im->collector, im->events, stderr);
	collector__print_unwind(&im->collector, stderr);
	fprintf(stderr, "  %llu records read", (unsigned long long)st->records);
	if (st->decompressed_bytes)
		fprintf(stderr, " (%llu compressed bytes -> %llu)", (unsigned long long)st->compressed_bytes,
			(unsigned long long)st->decompressed_bytes);
	fprintf(stderr, ", %llu of unknown types skipped\n", (unsigned long long)st->unknown_records);
	fprintf(stderr, "  lost %llu of %llu samples\n", (unsigned long long)lost, (unsigned long long)(samples + lost));
	for (size_t i = 0; i < im->collector.machine.n_vms; i++) {
		const struct vm *vm = im->collector.machine.vms[i];
		fprintf(stderr, "  VM %s: pid %d\n", vm->name, vm->pid);
	}
	fprintf(stderr, "  session: %s (%s)%s\n", output, out_size, complete ? "" : ", incomplete");
}

int cmd_import(int argc, char **argv)
{
	struct import_options o = { 0 };
	struct importer im;
	struct session *session = NULL;
	_cleanup_free_ char *err = NULL, *read_err = NULL, *cmdline = NULL;
	int r, read_r;

	if ((r = parse_options(argc, argv, &o)) < 0)
		return r;
	r = importer__open(&im, o.input, 0, &err);
	if (r == -ENOENT)
		return log_error_errno(r, "%s: no such file (record one with perf record, or give its path)", o.input);
	if (r < 0)
		return err ? log_error_errno(r, "%s: %s", o.input, err) : log_error_errno(r, "%s: %m", o.input);
	read_r = importer__run(&im, &read_err);
	for (size_t i = 0; i < im.n_warnings; i++)
		log_warning("%s", im.warnings[i]);
	if (read_r < 0) {
		/* What was read before the error is kept, but the import failed. */
		log_error_errno(read_r, "%s: %s", o.input, read_err);
		if (!importer__samples(&im)) {
			importer__release(&im);
			return read_r;
		}
		log_info("keeping the %llu samples read before the error (session marked incomplete)",
			 (unsigned long long)importer__samples(&im));
	} else if (!importer__samples(&im)) {
		log_warning("%s holds no samples: the session will be empty", o.input);
	}

	session__keep_old(o.output);
	r = session__create(o.output, &session, &err);
	if (r < 0) {
		r = err ? log_error_errno(r, "cannot create the session %s: %s", o.output, err)
			: log_error_errno(r, "cannot create the session %s: %m", o.output);
		importer__release(&im);
		return r;
	}
	{
		_cleanup_free_ char *args = argv_join(argc, argv);
		cmdline = xasprintf("domprof %s", args);
	}
	r = importer__write_session(&im, session, cmdline, read_r == 0);
	if (r < 0)
		r = log_error_errno(r, "cannot write the session %s: %s (%s)", o.output,
				    r == -ENOSPC ? "the disk is full" : strerror(-r), session__error(session));
	else
		print_summary(&im, o.input, o.output, read_r == 0);
	session__close(session);
	importer__release(&im);
	return r < 0 ? r : read_r;
}
