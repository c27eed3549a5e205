/* Rendering report models as text (for people), CSV and JSON (for
 * scripts: contracts in docs/report-formats.md). Every string from the
 * session is escaped for its format: text passes through text_sanitize
 * (no control or bidi character reaches a terminal), CSV cells through
 * strbuf_add_csv (no live spreadsheet formula), JSON through
 * strbuf_add_json. */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "../util/util.h"
#include "../vocab/vocab.h"
#include "report.h"

static double pct(uint64_t part, uint64_t total) { return report__percent(part, total); }

void report__print_idle_header(bool no_idle, const char *note, const char *prefix, FILE *out)
{
	if (no_idle)
		fprintf(out, "%sidle: left out (--no-idle): every total and percentage is of busy time, everything but "
			     "the host's idle loop\n", prefix);
	else
		fprintf(out, "%sidle: the host's idle loop is its own domain, idle; --no-idle leaves it out\n", prefix);
	if (note)
		fprintf(out, "%sidle: %s\n", prefix, note);
}

const char *report__call_stacks_text(const char *callchain)
{
	if (!callchain)
		return NULL;
	if (streq(callchain, "dwarf"))
		return "dwarf (user stacks unwound from stack copies with the binaries' CFI, --call-graph dwarf)";
	if (streq(callchain, "fp"))
		return "fp (frame pointers, -g)";
	if (streq(callchain, "none"))
		return "none (no call graph recorded)";
	return "unknown to this version of domprof";
}

void report__print_header(struct session *s, const struct report_layers *l, FILE *out)
{
	struct session_about a;
	_cleanup_free_ char *path = text_safe_dup(session__path(s));
	session__read_about(s, &a);
	fprintf(out, "# session: %s\n", path);
	/* text_sanitize rewrites its argument in place: never a literal. */
	fprintf(out, "# host: %s  kernel: %s  recorded: %s  duration: %.2f s%s\n", a.hostname ? text_sanitize(a.hostname) : "?",
		a.kernel ? text_sanitize(a.kernel) : "?", a.start_time ? text_sanitize(a.start_time) : "?",
		(double)a.duration_ns / 1e9, a.state && !streq(a.state, "complete") ? "  (recording was interrupted)" : "");
	if (a.command_line)
		fprintf(out, "# command: %s\n", text_sanitize(a.command_line));
	if (a.callchain)
		fprintf(out, "# call stacks: %s\n", report__call_stacks_text(a.callchain));
	session_about__release(&a);
	for (size_t e = 0; e < l->n_events; e++) {
		_cleanup_free_ char *name = text_safe_dup(l->events[e].name);
		fprintf(out, "# event %s: %llu samples, %.1f %s, lost %llu\n", name, (unsigned long long)l->events[e].samples,
			event_value(&l->events[e], l->events[e].period), event_value_unit(&l->events[e]),
			(unsigned long long)l->events[e].lost);
	}
	report__print_idle_header(l->no_idle, session__idle_note(s), "# ", out);
	fputc('\n', out);
}

/* ---- layer table ---- */

static void domain_title(const struct report_domain_info *d, struct strbuf *sb)
{
	strbuf_add_text(sb, d->name);
	if (d->is_idle)
		strbuf_adds(sb, " (the host's idle loop)");
	if (!d->is_vm)
		return;
	strbuf_adds(sb, " (vm");
	if (d->vmm) {
		strbuf_adds(sb, ", ");
		strbuf_add_text(sb, d->vmm);
	}
	if (d->accel) {
		strbuf_adds(sb, ", ");
		strbuf_add_text(sb, d->accel);
	}
	if (d->pid >= 0)
		strbuf_addf(sb, ", pid %lld", (long long)d->pid);
	if (d->source && strstr(d->source, "agent"))
		strbuf_adds(sb, ", agent");
	if (!d->complete)
		strbuf_adds(sb, ", INCOMPLETE");
	strbuf_adds(sb, ")");
}

/* One row's cells: samples, value, share of everything and (unless idle
 * is left out, when the two are the same) share of busy time; idle rows
 * have no busy share. */
static void print_layer_cells(const struct report_layers *l, const uint64_t *samples, const uint64_t *period,
			      bool idle, FILE *out)
{
	for (size_t e = 0; e < l->n_events; e++) {
		fprintf(out, " | %9llu %14.1f %7.2f%%", (unsigned long long)samples[e], event_value(&l->events[e], period[e]),
			pct(period[e], l->total_period[e]));
		if (l->no_idle)
			continue;
		if (idle)
			fprintf(out, " %8s", "-");
		else
			fprintf(out, " %7.2f%%", pct(period[e], l->busy_period[e]));
	}
	fputc('\n', out);
}

static void print_domain(const struct report_layers *l, const struct report_domain_info *d, FILE *out)
{
	enum domain_kind kind = domain_kind__of(d->is_vm, d->is_idle);
	struct strbuf title;
	strbuf_init(&title);
	domain_title(d, &title);
	fprintf(out, "%s\n", title.buf);
	strbuf_release(&title);
	for (size_t k = 0; k < LAYER__COUNT; k++) {
		enum layer ly = layer__display_order[k];
		bool has = false;
		for (size_t e = 0; e < l->n_events; e++)
			has |= d->layer_samples[ly][e] > 0;
		/* The host and idle show their own layers always; a VM the
		 * layers it has samples in. */
		if (d->is_vm ? !has : !domain_kind__has_layer(kind, ly))
			continue;
		fprintf(out, "  %-22s", layer__name(ly));
		print_layer_cells(l, d->layer_samples[ly], d->layer_period[ly], d->is_idle, out);
		if (ly == LAYER_HYPERVISOR && d->is_vm) {
			/* Host time a halted vCPU cost: KVM halt-polling. */
			fprintf(out, "    %-20s", "of which vCPU halt");
			print_layer_cells(l, d->halt_samples, d->halt_period, false, out);
		}
	}
	if (d->is_idle)
		return; /* one layer: its total is that row */
	fprintf(out, "  %-22s", "total");
	print_layer_cells(l, d->samples, d->period, false, out);
	if (d->is_vm) {
		fprintf(out, "  %-22s", "overhead");
		for (size_t e = 0; e < l->n_events; e++) {
			double o = report_domain__overhead(d, e);
			if (o < 0)
				fprintf(out, " | %33s", "n/a (no guest samples)");
			else
				fprintf(out, " | %24s %7.1f%%", "(hypervisor+vmm)/guest", 100.0 * o);
			if (!l->no_idle)
				fprintf(out, " %8s", "");
		}
		fputc('\n', out);
	}
}

void report_layers__print_text(const struct report_layers *l, FILE *out)
{
	size_t quiet_vms = 0;
	if (l->no_idle)
		fprintf(out, "Domains and layers (%% of each event's busy total: idle left out)\n");
	else
		fprintf(out, "Domains and layers (%%: of each event's total; busy%%: of its total less idle)\n");
	fprintf(out, "%-24s", "domain / layer");
	for (size_t e = 0; e < l->n_events; e++) {
		_cleanup_free_ char *name = text_safe_dup(l->events[e].name);
		fprintf(out, l->no_idle ? " | %-33.33s" : " | %-42.42s", name);
	}
	fputc('\n', out);
	fprintf(out, "%-24s", "");
	for (size_t e = 0; e < l->n_events; e++) {
		fprintf(out, " | %9s %14s %8s", "samples", event_value_unit(&l->events[e]), "%");
		if (!l->no_idle)
			fprintf(out, " %8s", "busy%");
	}
	fputc('\n', out);

	for (size_t i = 0; i < l->n_domains; i++) {
		const struct report_domain_info *d = &l->domains[i];
		bool any = false;
		for (size_t e = 0; e < l->n_events; e++)
			any |= d->samples[e] > 0;
		if (!any && d->is_vm)
			quiet_vms++;
		else if (any || !d->is_idle)
			print_domain(l, d, out);
	}
	if (quiet_vms)
		fprintf(out, "(%zu VM%s without samples not shown)\n", quiet_vms, quiet_vms == 1 ? "" : "s");
	fputc('\n', out);
}

/* ---- row table: text ---- */

static const char *display_image(const char *path)
{
	const char *slash;
	if (path[0] != '/')
		return path;
	slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

/* A row's key as text shows it (sanitized, to free). */
static char *display_key(const struct report_table *t, const struct report_row *r, size_t k)
{
	enum report_key key = t->query.keys[k];
	if (key == KEY_IMAGE)
		return text_safe_dup(display_image(r->keys[k]));
	if (key == KEY_SYMBOL && r->unknown_symbol && streq(r->keys[k], "[unknown]")) {
		if (r->min_address == r->max_address)
			return xasprintf("[unknown] @0x%llx", (unsigned long long)r->min_address);
		return xasprintf("[unknown] @0x%llx..0x%llx", (unsigned long long)r->min_address,
				 (unsigned long long)r->max_address);
	}
	return text_safe_dup(r->keys[k]);
}

void report_table__print_text(const struct report_table *t, FILE *out)
{
	size_t width[KEY__COUNT] = { 0 };
	size_t comm_width = 4;
	bool show_comm = true;
	for (size_t k = 0; k < t->query.n_keys; k++) {
		width[k] = strlen(report_key__name(t->query.keys[k]));
		if (t->query.keys[k] == KEY_COMM)
			show_comm = false;
	}
	for (size_t i = 0; i < t->n_rows; i++) {
		for (size_t k = 0; k + 1 < t->query.n_keys; k++) {
			_cleanup_free_ char *v = display_key(t, &t->rows[i], k);
			width[k] = MAX(width[k], MIN(strlen(v), (size_t)40));
		}
		if (show_comm && t->rows[i].comm)
			comm_width = MAX(comm_width, MIN(strlen(t->rows[i].comm) + (t->rows[i].n_comms > 1 ? 5 : 0), (size_t)24));
	}
	bool children = t->query.children;
	_cleanup_free_ char *focus = text_safe_dup(t->query.callers ? t->query.callers : t->query.callees);
	if (t->query.callers)
		fprintf(out, "Callers of %s (%% of the period with %s on the stack), by ", focus, focus);
	else if (t->query.callees)
		fprintf(out, "Callees of %s (%% of the period with %s on the stack), by ", focus, focus);
	else if (children)
		fprintf(out, "Top functions by inclusive period (children: the function and its callees), by ");
	else
		fprintf(out, "Top rows by ");
	for (size_t k = 0; k < t->query.n_keys; k++)
		fprintf(out, "%s%s", k ? "," : "", report_key__name(t->query.keys[k]));
	fprintf(out, " (%zu of %zu)\n", t->n_rows, t->n_rows_before_cut);
	for (size_t e = 0; e < t->n_events; e++) {
		_cleanup_free_ char *name = text_safe_dup(t->events[e].name);
		fprintf(out, children ? "%-27.27s " : "%-18.18s ", name);
	}
	fputc('\n', out);
	for (size_t e = 0; e < t->n_events; e++) {
		if (children)
			fprintf(out, "%8s ", "children");
		fprintf(out, "%9s %8s ", "samples", children ? "self" : "%");
	}
	if (show_comm)
		fprintf(out, " %-*s", (int)comm_width, "comm");
	for (size_t k = 0; k < t->query.n_keys; k++) {
		if (k + 1 < t->query.n_keys)
			fprintf(out, " %-*s", (int)width[k], report_key__name(t->query.keys[k]));
		else
			fprintf(out, " %s", report_key__name(t->query.keys[k]));
	}
	fputc('\n', out);
	for (size_t i = 0; i < t->n_rows; i++) {
		const struct report_row *r = &t->rows[i];
		for (size_t e = 0; e < t->n_events; e++) {
			if (r->inclusive)
				fprintf(out, "%7.2f%% ", pct(r->inclusive[e], t->total_period[e]));
			fprintf(out, "%9llu %7.2f%% ", (unsigned long long)r->samples[e], pct(r->period[e], t->total_period[e]));
		}
		if (show_comm) {
			char comm[64];
			if (r->n_comms > 1)
				snprintf(comm, sizeof(comm), "%s (+%zu)", r->comm ? r->comm : "", r->n_comms - 1);
			else
				snprintf(comm, sizeof(comm), "%s", r->comm ? r->comm : "");
			fprintf(out, " %-*.*s", (int)comm_width, (int)comm_width, text_sanitize(comm));
		}
		for (size_t k = 0; k < t->query.n_keys; k++) {
			_cleanup_free_ char *v = display_key(t, r, k);
			if (k + 1 < t->query.n_keys)
				fprintf(out, " %-*.*s", (int)width[k], (int)width[k], v);
			else
				fprintf(out, " %s", v);
		}
		fputc('\n', out);
	}
}

/* ---- row table: CSV ---- */

void report_table__print_csv(const struct report_table *t, FILE *out)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t k = 0; k < t->query.n_keys; k++) {
		if (k)
			strbuf_addc(&sb, ',');
		strbuf_adds(&sb, report_key__name(t->query.keys[k]));
	}
	for (size_t e = 0; e < t->n_events; e++) {
		const char *suffix[] = { "samples", "period", "percent", "children_period", "children_percent" };
		for (int j = 0; j < (t->query.children ? 5 : 3); j++) {
			_cleanup_free_ char *col = xasprintf("%s:%s", t->events[e].name, suffix[j]);
			strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, col);
		}
	}
	/* Added after every older column, so their positions stay. */
	for (size_t e = 0; e < t->n_events; e++) {
		_cleanup_free_ char *col = xasprintf("%s:busy_percent", t->events[e].name);
		strbuf_addc(&sb, ',');
		strbuf_add_csv(&sb, col);
	}
	strbuf_addc(&sb, '\n');
	fputs(sb.buf, out);
	for (size_t i = 0; i < t->n_rows; i++) {
		const struct report_row *r = &t->rows[i];
		strbuf_reset(&sb);
		for (size_t k = 0; k < t->query.n_keys; k++) {
			if (k)
				strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, r->keys[k]);
		}
		for (size_t e = 0; e < t->n_events; e++) {
			strbuf_addf(&sb, ",%llu,%llu,%.4f", (unsigned long long)r->samples[e], (unsigned long long)r->period[e],
				    pct(r->period[e], t->total_period[e]));
			if (r->inclusive)
				strbuf_addf(&sb, ",%llu,%.4f", (unsigned long long)r->inclusive[e],
					    pct(r->inclusive[e], t->total_period[e]));
		}
		for (size_t e = 0; e < t->n_events; e++) {
			double b = report__busy_percent(r->period[e], r->idle_period[e], t->busy_period[e]);
			if (b < 0)
				strbuf_addc(&sb, ',');
			else
				strbuf_addf(&sb, ",%.4f", b);
		}
		strbuf_addc(&sb, '\n');
		fputs(sb.buf, out);
	}
	strbuf_release(&sb);
}

/* ---- JSON ---- */

void json_str_or_null(struct strbuf *sb, const char *s)
{
	if (s)
		strbuf_add_json(sb, s);
	else
		strbuf_adds(sb, "null");
}

/* The session's metadata as one object (empty when it cannot be read:
 * the report itself was read by then). */
static void json_meta(struct session *s, struct strbuf *sb)
{
	struct session_meta *m;
	size_t n;
	char *err = NULL;
	strbuf_adds(sb, "{");
	if (session__read_meta(s, &m, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			strbuf_adds(sb, i ? ",\n    " : "\n    ");
			strbuf_add_json(sb, m[i].key);
			strbuf_adds(sb, ": ");
			strbuf_add_json(sb, m[i].value);
		}
		session_meta__free(m, n);
	}
	free(err);
	strbuf_adds(sb, "\n  }");
}

/* A share of busy time, null where it means nothing (idle itself). */
static void json_busy(struct strbuf *sb, double b)
{
	if (b < 0)
		strbuf_adds(sb, "null");
	else
		strbuf_addf(sb, "%.4f", b);
}

/* {"E": {"samples": N, "period": N, "percent": P, "busy_percent": B}, ...}
 * for one row of the layer table. */
static void json_layer_cells(struct strbuf *sb, const struct report_layers *l, const uint64_t *samples,
			     const uint64_t *period, bool idle)
{
	for (size_t e = 0; e < l->n_events; e++) {
		if (e)
			strbuf_adds(sb, ", ");
		strbuf_add_json(sb, l->events[e].name);
		strbuf_addf(sb, ": {\"samples\": %llu, \"period\": %llu, \"percent\": %.4f, \"busy_percent\": ",
			    (unsigned long long)samples[e], (unsigned long long)period[e], pct(period[e], l->total_period[e]));
		json_busy(sb, idle ? -1 : pct(period[e], l->busy_period[e]));
		strbuf_adds(sb, "}");
	}
}

static void json_opt_str(struct strbuf *sb, const char *key, const char *v)
{
	strbuf_addf(sb, ", \"%s\": ", key);
	json_str_or_null(sb, v);
}

/* ', "call_stacks": "dwarf"': the session's callchain key, null in a
 * session from before it was kept. */
static void json_call_stacks(struct session *s, struct strbuf *sb)
{
	struct session_about a;
	session__read_about(s, &a);
	strbuf_adds(sb, ",\n  \"call_stacks\": ");
	json_str_or_null(sb, a.callchain);
	session_about__release(&a);
}

/* The document's head: the session, how idle is counted, the events. */
static void json_head(struct session *s, const struct report_table *t, struct strbuf *sb)
{
	strbuf_adds(sb, "{\n  \"format\": \"domprof-report\",\n  \"version\": 1,\n  \"session\": ");
	json_meta(s, sb);
	json_call_stacks(s, sb);
	strbuf_addf(sb, ",\n  \"idle\": {\"included\": %s, \"found\": \"%s\", \"note\": ", t->query.no_idle ? "false" : "true",
		    session__idle(s) == SESSION_IDLE_RECORDED ? "recorded"
		    : session__idle(s) == SESSION_IDLE_ON_READ ? "on read"
							       : "not found");
	json_str_or_null(sb, session__idle_note(s));
	strbuf_adds(sb, "}");
	strbuf_adds(sb, ",\n  \"events\": [");
	for (size_t e = 0; e < t->n_events; e++) {
		const struct report_event *ev = &t->events[e];
		strbuf_adds(sb, e ? ",\n    {" : "\n    {");
		strbuf_adds(sb, "\"name\": ");
		strbuf_add_json(sb, ev->name);
		strbuf_addf(sb,
			    ", \"unit\": \"%s\", \"samples\": %llu, \"period\": %llu, \"lost\": %llu, "
			    "\"filtered_samples\": %llu, \"filtered_period\": %llu, \"filtered_busy_period\": %llu}",
			    ev->unit, (unsigned long long)ev->samples, (unsigned long long)ev->period,
			    (unsigned long long)ev->lost, (unsigned long long)t->total_samples[e],
			    (unsigned long long)t->total_period[e], (unsigned long long)t->busy_period[e]);
	}
}

/* One domain of the layer table: its layers, total, and for a VM the
 * halt part and the overhead. */
static void json_domain(const struct report_layers *l, const struct report_domain_info *d, size_t i,
			struct strbuf *sb)
{
	bool first = true;
	strbuf_adds(sb, i ? ",\n    {" : "\n    {");
	strbuf_adds(sb, "\"name\": ");
	strbuf_add_json(sb, d->name);
	strbuf_addf(sb, ", \"kind\": \"%s\"", domain_kind__name(domain_kind__of(d->is_vm, d->is_idle)));
	if (d->pid >= 0)
		strbuf_addf(sb, ", \"pid\": %lld", (long long)d->pid);
	else
		strbuf_adds(sb, ", \"pid\": null");
	json_opt_str(sb, "vmm", d->vmm);
	json_opt_str(sb, "accel", d->accel);
	json_opt_str(sb, "uuid", d->uuid);
	json_opt_str(sb, "source", d->source);
	strbuf_addf(sb, ", \"complete\": %s, \"clock_offset_ns\": %lld, \"start_skew_ns\": %lld",
		    d->complete ? "true" : "false", (long long)d->clock_offset_ns, (long long)d->start_skew_ns);
	json_opt_str(sb, "note", d->note);
	strbuf_adds(sb, ",\n     \"layers\": {");
	for (int k = 0; k < LAYER__COUNT; k++) {
		enum layer ly = layer__display_order[k];
		bool has = false;
		for (size_t e = 0; e < l->n_events; e++)
			has |= d->layer_samples[ly][e] > 0;
		if (!has)
			continue;
		strbuf_addf(sb, "%s\"%s\": {", first ? "" : ", ", layer__name(ly));
		first = false;
		json_layer_cells(sb, l, d->layer_samples[ly], d->layer_period[ly], d->is_idle);
		strbuf_adds(sb, "}");
	}
	strbuf_adds(sb, "},\n     \"total\": {");
	json_layer_cells(sb, l, d->samples, d->period, d->is_idle);
	strbuf_adds(sb, "}");
	if (d->is_vm) {
		strbuf_adds(sb, ",\n     \"halt\": {");
		json_layer_cells(sb, l, d->halt_samples, d->halt_period, false);
		strbuf_adds(sb, "}");
	}
	if (d->is_vm) {
		strbuf_adds(sb, ",\n     \"overhead\": {");
		for (size_t e = 0; e < l->n_events; e++) {
			double o = report_domain__overhead(d, e);
			if (e)
				strbuf_adds(sb, ", ");
			strbuf_add_json(sb, l->events[e].name);
			if (o < 0)
				strbuf_adds(sb, ": null");
			else
				strbuf_addf(sb, ": %.6f", o);
		}
		strbuf_adds(sb, "}");
	}
	strbuf_adds(sb, "}");
}

/* One row of the row table. */
static void json_row(const struct report_table *t, const struct report_row *r, size_t i, struct strbuf *sb)
{
	strbuf_adds(sb, i ? ",\n    {" : "\n    {");
	for (size_t k = 0; k < t->query.n_keys; k++) {
		strbuf_addf(sb, "%s\"%s\": ", k ? ", " : "", report_key__name(t->query.keys[k]));
		if (t->query.keys[k] == KEY_PID || t->query.keys[k] == KEY_TID)
			strbuf_adds(sb, *r->keys[k] ? r->keys[k] : "null");
		else
			strbuf_add_json(sb, r->keys[k]);
	}
	for (size_t e = 0; e < t->n_events; e++) {
		const char *suffix[] = { "samples", "period", "percent" };
		for (int j = 0; j < 3; j++) {
			_cleanup_free_ char *col = xasprintf("%s:%s", t->events[e].name, suffix[j]);
			strbuf_adds(sb, ", ");
			strbuf_add_json(sb, col);
			if (j == 0)
				strbuf_addf(sb, ": %llu", (unsigned long long)r->samples[e]);
			else if (j == 1)
				strbuf_addf(sb, ": %llu", (unsigned long long)r->period[e]);
			else
				strbuf_addf(sb, ": %.4f", pct(r->period[e], t->total_period[e]));
		}
		{
			_cleanup_free_ char *cb = xasprintf("%s:busy_percent", t->events[e].name);
			strbuf_adds(sb, ", ");
			strbuf_add_json(sb, cb);
			strbuf_adds(sb, ": ");
			json_busy(sb, report__busy_percent(r->period[e], r->idle_period[e], t->busy_period[e]));
		}
		if (r->inclusive) {
			_cleanup_free_ char *cp = xasprintf("%s:children_period", t->events[e].name);
			_cleanup_free_ char *cq = xasprintf("%s:children_percent", t->events[e].name);
			strbuf_adds(sb, ", ");
			strbuf_add_json(sb, cp);
			strbuf_addf(sb, ": %llu, ", (unsigned long long)r->inclusive[e]);
			strbuf_add_json(sb, cq);
			strbuf_addf(sb, ": %.4f", pct(r->inclusive[e], t->total_period[e]));
		}
	}
	strbuf_adds(sb, "}");
}

void report__print_json(struct session *s, const struct report_layers *l, const struct report_table *t, FILE *out)
{
	struct strbuf sb;
	strbuf_init(&sb);
	json_head(s, t, &sb);
	strbuf_adds(&sb, "\n  ],\n  \"domains\": [");
	for (size_t i = 0; l && i < l->n_domains; i++)
		json_domain(l, &l->domains[i], i, &sb);
	strbuf_adds(&sb, "\n  ],\n  \"keys\": [");
	for (size_t k = 0; k < t->query.n_keys; k++)
		strbuf_addf(&sb, "%s\"%s\"", k ? ", " : "", report_key__name(t->query.keys[k]));
	strbuf_addf(&sb, "],\n  \"total_rows\": %zu,\n  \"rows\": [", t->n_rows_before_cut);
	fputs(sb.buf, out);
	for (size_t i = 0; i < t->n_rows; i++) {
		strbuf_reset(&sb);
		json_row(t, &t->rows[i], i, &sb);
		fputs(sb.buf, out);
	}
	fputs("\n  ]\n}\n", out);
	strbuf_release(&sb);
}
