/* The counting mode's rendering: a stat_result as the text table, CSV
 * or JSON that `domprof stat` prints (docs/stat.md has the CSV and JSON
 * contracts). Every name passes through the writers' escaping. */
#define _GNU_SOURCE
#include "stat.h"

#include "../util/util.h"

/* Per event: every domain's total but idle's (to free). */
static struct stat_cell *busy_cells(const struct stat_result *r)
{
	struct stat_cell *busy = xcalloc(r->n_events ? r->n_events : 1, sizeof(*busy));
	for (size_t i = 0; i < r->n_domains; i++)
		for (size_t e = 0; !r->domains[i].is_idle && e < r->n_events; e++) {
			struct stat_cell t = stat_domain__total(&r->domains[i], e);
			stat_cell__add(&busy[e], &t);
		}
	return busy;
}

static bool has_idle(const struct stat_result *r)
{
	for (size_t i = 0; i < r->n_domains; i++)
		if (r->domains[i].is_idle)
			return true;
	return false;
}

static double pct_of(double part, double total) { return total > 0 ? 100.0 * part / total : 0.0; }

/* In the event's display unit: msec for clock events, counts otherwise. */
static double display_value(const struct stat_event_info *ev, double v)
{
	return ev->unit == EVENT_UNIT_NS ? v / 1e6 : v;
}

static void text_cell(const struct stat_result *r, size_t e, const struct stat_cell *c, double total, FILE *out)
{
	const struct stat_event_info *ev = &r->events[e];
	double counted = stat_cell__counted_pct(c);
	char value[32], scaled[16];
	if (counted < 0) {
		snprintf(value, sizeof(value), "-");
		scaled[0] = '\0';
	} else if (c->enabled && !c->running) {
		snprintf(value, sizeof(value), "<not counted>");
		snprintf(scaled, sizeof(scaled), "(%.2f%%)", 0.0);
	} else {
		snprintf(value, sizeof(value), ev->unit == EVENT_UNIT_NS ? "%.2f" : "%.0f", display_value(ev, c->value));
		snprintf(scaled, sizeof(scaled), "(%.2f%%)", counted);
	}
	fprintf(out, " | %14s %9s %7.2f%%", value, scaled, pct_of(c->value, total));
}

static void method_text(const struct stat_result *r, const struct stat_domain *d, struct strbuf *sb)
{
	bool same = true;
	for (size_t e = 1; e < r->n_events; e++)
		same &= d->methods[e] == d->methods[0];
	for (int m = STAT_METHOD_GUEST_HOST; m <= STAT_METHOD_THREAD_ROLE; m++) {
		bool any = false, first = true;
		for (size_t e = 0; e < r->n_events; e++)
			any |= d->methods[e] == (enum stat_method)m;
		if (!any)
			continue;
		if (sb->len)
			strbuf_adds(sb, "; ");
		if (!same) {
			for (size_t e = 0; e < r->n_events; e++)
				if (d->methods[e] == (enum stat_method)m) {
					strbuf_addf(sb, "%s%s", first ? "" : ", ", r->events[e].name);
					first = false;
				}
			strbuf_adds(sb, ": ");
		}
		if (m == STAT_METHOD_GUEST_HOST)
			strbuf_adds(sb, "guest/host exclusion (:G/:H counters on the VM's threads)");
		else if (d->accel && streq(d->accel, "tcg"))
			strbuf_adds(sb, "thread role (vCPU threads' user mode = guest, other user mode = vmm, "
					"kernel mode = hypervisor)");
		else if (d->accel && streq(d->accel, "kvm"))
			strbuf_adds(sb, "thread role (vCPU guest time from the kernel's accounting = guest, "
					"user mode = vmm, kernel mode = hypervisor)");
		else
			strbuf_adds(sb, "thread role (user mode = vmm, kernel mode = hypervisor)");
	}
}

static bool any_by_time(const struct stat_result *r)
{
	for (size_t e = 0; e < r->n_events; e++)
		if (r->events[e].by_time)
			return true;
	return false;
}

void stat_result__print_text(const struct stat_result *r, FILE *out)
{
	double *totals = xcalloc(r->n_events ? r->n_events : 1, sizeof(double));
	struct stat_cell *sum = xcalloc(r->n_events ? r->n_events : 1, sizeof(struct stat_cell));

	for (size_t e = 0; e < r->n_events; e++)
		totals[e] = stat_result__total(r, e);
	if (r->interval)
		fprintf(out, "# interval %.3f-%.3f s\n", r->start_s, r->end_s);
	else if (streq(r->target, "system-wide"))
		fprintf(out, "# domprof stat: system-wide on %zu CPU%s, %.2f s\n", r->n_cpus, r->n_cpus == 1 ? "" : "s",
			r->end_s - r->start_s);
	else
		fprintf(out, "# domprof stat: %s, %.2f s\n", r->target, r->end_s - r->start_s);
	/* The legend once, with the whole run; intervals stay compact. */
	if (!r->interval)
		fprintf(out, "# value: scaled by time enabled/running; (%%): share of the time counted (100%% = not "
			     "multiplexed); last: %% of the event's total\n");
	if (any_by_time(r) && !r->interval) {
		fprintf(out, "# ");
		for (size_t e = 0, n = 0; e < r->n_events; e++)
			if (r->events[e].by_time)
				fprintf(out, "%s%s", n++ ? ", " : "", r->events[e].name);
		fprintf(out, ": split by mode in the proportions of the kernel's CPU-time accounting "
			     "(the kernel counts clock events whole)\n");
	}
	fprintf(out, "%-24s", "domain / layer");
	for (size_t e = 0; e < r->n_events; e++) {
		_cleanup_free_ char *title =
			xasprintf("%s (%s)", r->events[e].name, r->events[e].unit == EVENT_UNIT_NS ? "msec" : "count");
		fprintf(out, " | %-33.33s", title);
	}
	fputc('\n', out);
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct stat_domain *d = &r->domains[i];
		if (d->is_vm) {
			struct strbuf sb;
			strbuf_init(&sb);
			fprintf(out, "%s (vm, %s, %s, pid %d, %zu thread%s)\n", d->name, d->vmm ? d->vmm : "?",
				d->accel ? d->accel : "?", (int)d->pid, d->n_threads, d->n_threads == 1 ? "" : "s");
			method_text(r, d, &sb);
			fprintf(out, "  split: %s\n", sb.buf);
			strbuf_release(&sb);
		} else {
			fprintf(out, "%s%s\n", d->name, d->is_idle ? " (the host's idle loop)" : "");
		}
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer l = layer__display_order[k];
			if (!d->cells[l])
				continue;
			fprintf(out, "  %-22s", layer__name(l));
			for (size_t e = 0; e < r->n_events; e++)
				text_cell(r, e, &d->cells[l][e], totals[e], out);
			fputc('\n', out);
		}
		for (size_t e = 0; e < r->n_events; e++) {
			struct stat_cell t = stat_domain__total(d, e);
			stat_cell__add(&sum[e], &t);
		}
		if (!d->is_idle) { /* idle's one layer is its total */
			fprintf(out, "  %-22s", "total");
			for (size_t e = 0; e < r->n_events; e++) {
				struct stat_cell t = stat_domain__total(d, e);
				text_cell(r, e, &t, totals[e], out);
			}
			fputc('\n', out);
		}
		if (d->is_vm) {
			fprintf(out, "  %-22s", "overhead");
			for (size_t e = 0; e < r->n_events; e++) {
				double o = stat_domain__overhead(d, e);
				if (o < 0)
					fprintf(out, " | %33s", "n/a (no guest work)");
				else
					fprintf(out, " | %24s %7.2f%%", "(hypervisor+vmm)/guest", 100.0 * o);
			}
			fputc('\n', out);
		}
	}
	fprintf(out, "%-24s", "all domains");
	for (size_t e = 0; e < r->n_events; e++)
		text_cell(r, e, &sum[e], totals[e], out);
	fputc('\n', out);
	if (has_idle(r)) {
		/* Busy time: the figure people mean by "where the CPU goes". */
		struct stat_cell *busy = busy_cells(r);
		fprintf(out, "%-24s", "all but idle (busy)");
		for (size_t e = 0; e < r->n_events; e++)
			text_cell(r, e, &busy[e], totals[e], out);
		fputc('\n', out);
		free(busy);
	}
	free(sum);
	free(totals);
}

static void csv_number(struct strbuf *sb, const struct stat_cell *c)
{
	double counted = stat_cell__counted_pct(c);
	if (counted < 0)
		strbuf_adds(sb, ",0,");
	else
		strbuf_addf(sb, ",%.0f,%.2f", c->value, counted);
}

void stat_result__print_csv(const struct stat_result *r, bool header, bool with_time, FILE *out)
{
	struct strbuf sb;
	strbuf_init(&sb);
	if (header) {
		strbuf_adds(&sb, with_time ? "time,domain,layer" : "domain,layer");
		for (size_t e = 0; e < r->n_events; e++) {
			_cleanup_free_ char *v = xasprintf("%s:value", r->events[e].name);
			_cleanup_free_ char *p = xasprintf("%s:scaled_pct", r->events[e].name);
			strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, v);
			strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, p);
		}
		strbuf_addc(&sb, '\n');
	}
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct stat_domain *d = &r->domains[i];
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer l = layer__display_order[k];
			if (!d->cells[l])
				continue;
			if (with_time) {
				if (r->interval)
					strbuf_addf(&sb, "%.3f,", r->end_s);
				else
					strbuf_adds(&sb, "total,");
			}
			strbuf_add_csv(&sb, d->name);
			strbuf_addf(&sb, ",%s", layer__name(l));
			for (size_t e = 0; e < r->n_events; e++)
				csv_number(&sb, &d->cells[l][e]);
			strbuf_addc(&sb, '\n');
		}
	}
	fputs(sb.buf, out);
	strbuf_release(&sb);
}

static void json_cell(struct strbuf *sb, const struct stat_cell *c, double total)
{
	double counted = stat_cell__counted_pct(c);
	strbuf_addf(sb, "{\"value\": %.0f, \"scaled_pct\": ", c->value);
	if (counted < 0)
		strbuf_adds(sb, "null");
	else
		strbuf_addf(sb, "%.2f", counted);
	strbuf_addf(sb, ", \"share_pct\": %.4f}", pct_of(c->value, total));
}

static void json_cells(struct strbuf *sb, const struct stat_result *r, const struct stat_cell *cells,
		       const double *totals)
{
	bool first = true;
	strbuf_addc(sb, '{');
	for (size_t e = 0; e < r->n_events; e++) {
		if (!first)
			strbuf_adds(sb, ", ");
		first = false;
		strbuf_add_json(sb, r->events[e].name);
		strbuf_adds(sb, ": ");
		json_cell(sb, &cells[e], totals[e]);
	}
	strbuf_addc(sb, '}');
}

void stat_result__print_json(const struct stat_result *r, bool one_line, FILE *out)
{
	const char *nl = one_line ? "" : "\n";
	const char *ind1 = one_line ? "" : "  ";
	const char *ind2 = one_line ? "" : "    ";
	const char *ind3 = one_line ? " " : "\n     ";
	double *totals = xcalloc(r->n_events ? r->n_events : 1, sizeof(double));
	struct stat_cell *sum = xcalloc(r->n_events ? r->n_events : 1, sizeof(struct stat_cell));
	struct strbuf sb;

	for (size_t e = 0; e < r->n_events; e++)
		totals[e] = stat_result__total(r, e);
	strbuf_init(&sb);
	strbuf_addf(&sb, "{%s%s\"format\": \"domprof-stat\", \"version\": 1,%s%s\"target\": ", nl, ind1, nl, ind1);
	strbuf_add_json(&sb, r->target);
	strbuf_addf(&sb, ", \"cpus\": %zu, \"interval\": %s, \"start_s\": %.3f, \"end_s\": %.3f,%s%s\"events\": [",
		    r->n_cpus, r->interval ? "true" : "false", r->start_s, r->end_s, nl, ind1);
	for (size_t e = 0; e < r->n_events; e++) {
		strbuf_adds(&sb, e ? ", {\"name\": " : "{\"name\": ");
		strbuf_add_json(&sb, r->events[e].name);
		strbuf_addf(&sb, ", \"unit\": \"%s\", \"split\": \"%s\"}", r->events[e].unit == EVENT_UNIT_NS ? "ns" : "count",
			    r->events[e].by_time ? "cpu-time-accounting" : "counters");
	}
	strbuf_addf(&sb, "],%s%s\"domains\": [", nl, ind1);
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct stat_domain *d = &r->domains[i];
		bool first = true;
		strbuf_addf(&sb, "%s%s%s{\"name\": ", i ? "," : "", nl, ind2);
		strbuf_add_json(&sb, d->name);
		strbuf_addf(&sb, ", \"kind\": \"%s\"", domain_kind__name(domain_kind__of(d->is_vm, d->is_idle)));
		if (d->is_vm) {
			strbuf_addf(&sb, ", \"pid\": %d, \"vmm\": ", (int)d->pid);
			strbuf_add_json(&sb, d->vmm ? d->vmm : "unknown");
			strbuf_adds(&sb, ", \"accel\": ");
			strbuf_add_json(&sb, d->accel ? d->accel : "unknown");
			strbuf_addf(&sb, ", \"threads\": %zu, \"method\": {", d->n_threads);
			for (size_t e = 0; e < r->n_events; e++) {
				if (e)
					strbuf_adds(&sb, ", ");
				strbuf_add_json(&sb, r->events[e].name);
				strbuf_addf(&sb, ": \"%s\"", stat_method__name(d->methods[e]));
			}
			strbuf_adds(&sb, "}");
		}
		strbuf_addf(&sb, ",%s\"layers\": {", ind3);
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer l = layer__display_order[k];
			if (!d->cells[l])
				continue;
			strbuf_addf(&sb, "%s\"%s\": ", first ? "" : ", ", layer__name(l));
			first = false;
			json_cells(&sb, r, d->cells[l], totals);
		}
		strbuf_adds(&sb, "}");
		{
			struct stat_cell *t = xcalloc(r->n_events ? r->n_events : 1, sizeof(*t));
			for (size_t e = 0; e < r->n_events; e++) {
				t[e] = stat_domain__total(d, e);
				stat_cell__add(&sum[e], &t[e]);
			}
			strbuf_addf(&sb, ",%s\"total\": ", ind3);
			json_cells(&sb, r, t, totals);
			free(t);
		}
		if (d->is_vm) {
			strbuf_addf(&sb, ",%s\"overhead\": {", ind3);
			for (size_t e = 0; e < r->n_events; e++) {
				double o = stat_domain__overhead(d, e);
				if (e)
					strbuf_adds(&sb, ", ");
				strbuf_add_json(&sb, r->events[e].name);
				if (o < 0)
					strbuf_adds(&sb, ": null");
				else
					strbuf_addf(&sb, ": %.6f", o);
			}
			strbuf_adds(&sb, "}");
		}
		strbuf_adds(&sb, "}");
	}
	strbuf_addf(&sb, "%s%s],%s%s\"total\": ", nl, ind1, nl, ind1);
	json_cells(&sb, r, sum, totals);
	{
		struct stat_cell *busy = busy_cells(r);
		strbuf_addf(&sb, ",%s%s\"busy\": ", nl, ind1);
		json_cells(&sb, r, busy, totals);
		free(busy);
	}
	strbuf_addf(&sb, "%s}\n", nl);
	fputs(sb.buf, out);
	strbuf_release(&sb);
	free(sum);
	free(totals);
}

