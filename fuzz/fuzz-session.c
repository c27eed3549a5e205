/* Fuzz target: the session reader and every report over it — layers,
 * rows, call graphs, annotate, exports, HTML — on corrupted SQLite files
 * and valid files with hostile contents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/report/annotate.h"
#include "lib/report/export.h"
#include "lib/report/html.h"
#include "lib/report/report.h"
#include "lib/util/util.h"

static void reports(struct session *s)
{
	struct report_query q = { 0 };
	struct report_table t;
	struct report_layers l;
	struct annotate a;
	struct annotate_query aq = { .symbol = "main" };
	char *err = NULL;
	FILE *devnull = fopen("/dev/null", "w");
	report_query__parse_keys(&q, "domain,layer,comm,image,symbol", &err);
	if (report_layers__query(s, &q, &l, &err) == 0) {
		report_layers__print_text(&l, devnull);
		if (report_table__query(s, &q, &t, &err) == 0) {
			report__print_json(s, &l, &t, devnull);
			report_table__print_csv(&t, devnull);
			report_table__print_text(&t, devnull);
			report_table__release(&t);
		}
		report_layers__release(&l);
	}
	free(err);
	err = NULL;
	q.children = true;
	if (report_table__query(s, &q, &t, &err) == 0)
		report_table__release(&t);
	free(err);
	err = NULL;
	q.children = false;
	q.callers = "main";
	if (report_table__query(s, &q, &t, &err) == 0)
		report_table__release(&t);
	free(err);
	err = NULL;
	if (annotate__load(s, &aq, &a, &err) == 0) {
		annotate__print_text(&a, devnull);
		annotate__release(&a);
	}
	free(err);
	err = NULL;
	{
		struct report_query eq = { 0 };
		struct export_profile *ep;
		if (export_profile__load(s, &eq, &ep, &err) == 0) {
			export_profile__write_folded(ep, 0, EXPORT_VALUE_PERIOD, devnull);
			export_profile__write_pprof(ep, devnull);
			export_profile__write_json(ep, devnull);
			export_profile__free(ep);
		}
		free(err);
		err = NULL;
	}
	{
		struct html_options ho;
		html_options__init(&ho);
		html_report__write(s, &ho, devnull, NULL, &err);
		free(err);
	}
	fclose(devnull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/domprof-fuzz-session-XXXXXX";
	int fd = mkstemp(path);
	struct session *s;
	char *err = NULL;
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (session__open(path, true, &s, &err) == 0) {
		reports(s);
		session__close(s);
	}
	free(err);
	unlink(path);
	return 0;
}
