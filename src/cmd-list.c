/* domprof list: the events domprof knows and whether each opens here. */
#include <errno.h>
#include <getopt.h>

#include "../lib/events/events.h"
#include "domprof.h"

static void print_pfm(const char *pmu, const char *name, const char *desc, void *ctx)
{
	(void)ctx;
	printf("  %s::%-40s %s\n", pmu, name, desc ? desc : "");
}

int cmd_list(int argc, char **argv)
{
	size_t n;
	const struct event_name *ev = events__generic(&n);
	bool all = argc > 1 && streq(argv[1], "--all");
	bool any_hw = false;

	if (argc > 1 && !all)
		return log_error("unexpected argument '%s'", argv[1]);
	printf("%-28s %-10s %-14s %s\n", "event", "type", "here", "description");
	for (size_t i = 0; i < n; i++) {
		struct event_spec e;
		int r;
		char name[64];
		const char *type = ev[i].type == PERF_TYPE_SOFTWARE ? "software" : ev[i].type == PERF_TYPE_HW_CACHE ? "cache" : "hardware";
		if (event_spec__parse(ev[i].name, NULL, &e, NULL) < 0)
			continue;
		r = event_spec__probe(&e, false);
		if (r == 0 && e.needs_pmu)
			any_hw = true;
		snprintf(name, sizeof(name), "%s%s%s", ev[i].name, ev[i].alias ? " | " : "", ev[i].alias ? ev[i].alias : "");
		printf("%-28s %-10s %-14s %s\n", name, type, r == 0 ? "yes" : r == -EACCES || r == -EPERM ? "no permission" : "not supported",
		       ev[i].description);
		event_spec__release(&e);
	}
	printf("%-28s %-10s %-14s %s\n", "rNNNN", "raw", any_hw ? "yes" : "not supported", "raw PMU event code (hex)");
	if (!any_hw)
		printf("\nNo hardware PMU is available here (e.g. a cloud VM or a nested guest): sample cpu-clock.\n");
	if (all) {
		printf("\nCPU-specific events (libpfm4), usable with -e NAME:\n");
		if (events__list_pfm(print_pfm, NULL) == 0)
			printf("  none: libpfm4 detects no hardware PMU on this CPU\n");
	} else {
		printf("\nCPU-specific events through libpfm4 (e.g. INST_RETIRED:ANY_P): `domprof list --all`.\n");
	}
	printf("Modifiers: :u :k :G :H :p; per-event period: NAME/period=N/ or NAME/freq=HZ/.\n");
	return 0;
}
