/* perf.data -> collector -> session; see importer.h. The record callback
 * is the hot path: one sample decode and one collector__sample per
 * sample, nothing allocated. */
#define _GNU_SOURCE
#include "importer.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../symbol/symbol.h"
#include "../util/util.h"

#define MAX_CPUS 65536
/* As image.c: a kallsyms symbol ends at the next one, at most this far. */
#define MAX_INFERRED_SYMBOL_SIZE (1ULL << 20)

static void warn(struct importer *im, const char *fmt, ...) PRINTF(2, 3);
static void warn(struct importer *im, const char *fmt, ...)
{
	va_list ap;
	ARRAY_GROW(im->warnings, im->cap_warnings, im->n_warnings + 1);
	va_start(ap, fmt);
	im->warnings[im->n_warnings++] = xvasprintf(fmt, ap);
	va_end(ap);
}

static bool is_sampling(const struct perf_event_attr *a)
{
	if (a->type == PERF_TYPE_SOFTWARE && a->config == PERF_COUNT_SW_DUMMY)
		return false; /* perf's side-band tracking event */
	return a->freq ? a->sample_freq != 0 : a->sample_period != 0;
}

static bool is_clock(const struct perf_event_attr *a)
{
	return a->type == PERF_TYPE_SOFTWARE &&
	       (a->config == PERF_COUNT_SW_CPU_CLOCK || a->config == PERF_COUNT_SW_TASK_CLOCK);
}

static void add_event(struct importer *im, const struct perf_data_attr *a)
{
	struct event_spec *e = &im->events[im->n_events];
	char *name = a->name && *a->name ? xstrdup(a->name) : perf_data__event_name(&a->attr);
	/* Two events of one name (e.g. -e cpu-clock,cpu-clock) would be one
	 * column in a report: number the later ones. */
	for (int n = 2;; n++) {
		bool clash = false;
		for (size_t i = 0; i < im->n_events; i++)
			clash |= streq(im->events[i].name, name);
		if (!clash)
			break;
		char *next = xasprintf("%s#%d", a->name && *a->name ? a->name : name, n);
		free(name);
		name = next;
	}
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->base = xstrndup(name, strcspn(name, ":/#"));
	e->source = a->attr.type == PERF_TYPE_RAW ? EVENT_SOURCE_RAW : EVENT_SOURCE_GENERIC;
	e->unit = is_clock(&a->attr) ? EVENT_UNIT_NS : EVENT_UNIT_COUNT;
	e->needs_pmu = a->attr.type == PERF_TYPE_HARDWARE || a->attr.type == PERF_TYPE_HW_CACHE ||
		       a->attr.type == PERF_TYPE_RAW;
	e->period_set = true;
	e->attr = a->attr;
	im->n_events++;
}

/* ---- build-ids ---- */

/* perf's build-id cache: ~/.debug/.build-id/xx/rest[/elf]. */
static char *build_id_cache_path(const char *hex)
{
	const char *dir = getenv("PERF_BUILDID_DIR");
	const char *home = getenv("HOME");
	char *base, *path;
	struct stat st;
	if (dir && *dir)
		base = xstrdup(dir);
	else if (home && *home)
		base = xasprintf("%s/.debug", home);
	else
		return NULL;
	path = xasprintf("%s/.build-id/%.2s/%s/elf", base, hex, hex + 2);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		free(base);
		return path;
	}
	free(path);
	path = xasprintf("%s/.build-id/%.2s/%s", base, hex, hex + 2);
	free(base);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return path;
	free(path);
	return NULL;
}

/* The running kernel's build-id from /sys/kernel/notes (ELF notes), or "". */
static void running_kernel_build_id(char hex[41])
{
	_cleanup_free_ char *notes = NULL;
	size_t len, pos = 0;
	hex[0] = '\0';
	if (read_file("/sys/kernel/notes", &notes, &len) < 0)
		return;
	while (len - pos >= 12) {
		uint32_t namesz, descsz, type;
		size_t name_at = pos + 12, desc_at, next;
		memcpy(&namesz, notes + pos, 4);
		memcpy(&descsz, notes + pos + 4, 4);
		memcpy(&type, notes + pos + 8, 4);
		desc_at = name_at + ((namesz + 3u) & ~3u);
		next = desc_at + ((descsz + 3u) & ~3u);
		if (namesz > len || descsz > len || next > len || next <= pos)
			return;
		if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 && !memcmp(notes + name_at, "GNU", 4) && descsz &&
		    descsz <= 20) {
			build_id__hex((const uint8_t *)notes + desc_at, descsz, hex);
			return;
		}
		pos = next;
	}
}

static void apply_build_ids(struct importer *im)
{
	const struct perf_data_info *info = perf_data__info(im->data);
	struct image_registry *reg = &im->collector.machine.images;
	const char *first_mismatch = NULL;

	for (size_t i = 0; i < info->n_build_ids; i++) {
		const struct perf_data_build_id *b = &info->build_ids[i];
		char hex[41], here[41];
		uint8_t id[20], n = 0;
		struct image *im_;
		if (b->pid != -1)
			continue; /* a guest's images: not on this machine */
		build_id__hex(b->build_id, b->size, hex);
		if (b->cpumode == PERF_RECORD_MISC_KERNEL && streq(b->filename, "[kernel.kallsyms]")) {
			struct image *k = image_registry__host_kernel(reg);
			snprintf(k->build_id, sizeof(k->build_id), "%s", hex);
			continue;
		}
		if (b->cpumode != PERF_RECORD_MISC_USER || b->filename[0] != '/')
			continue;
		im_ = image_registry__get(reg, IMAGE_ELF, b->filename);
		snprintf(im_->build_id, sizeof(im_->build_id), "%s", hex);
		if (elf__read_build_id(b->filename, id, &n) == 0 && build_id__hex(id, n, here) && streq(here, hex))
			continue;
		/* Not the file that was recorded (or gone): perf's cache may
		 * hold the original. */
		free(im_->load_path);
		im_->load_path = build_id_cache_path(hex);
		if (!im_->load_path) {
			im->build_id_mismatches++;
			if (!first_mismatch)
				first_mismatch = b->filename;
		}
	}
	if (im->build_id_mismatches)
		warn(im, "%zu image%s of the capture (e.g. %s) %s not on this machine as recorded (build-id differs or "
			 "file missing), and not in perf's build-id cache: %s symbols may be missing or wrong",
		     im->build_id_mismatches, im->build_id_mismatches == 1 ? "" : "s", first_mismatch,
		     im->build_id_mismatches == 1 ? "is" : "are", im->build_id_mismatches == 1 ? "its" : "their");
}

/* ---- the host kernel ---- */

/* Address of symbol name in kallsyms text, or 0. */
static uint64_t kallsyms_address(const char *text, size_t len, const char *name)
{
	size_t name_len = strlen(name);
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		/* "ADDR T NAME" (maybe "\t[module]" after) */
		const char *sp = memchr(p, ' ', (size_t)(e - p));
		if (sp && e - sp > 3 && sp[2] == ' ' && (size_t)(e - (sp + 3)) >= name_len &&
		    !memcmp(sp + 3, name, name_len) && (sp + 3 + name_len == e || sp[3 + name_len] == '\t')) {
			char buf[24];
			uint64_t addr;
			size_t n = MIN((size_t)(sp - p), sizeof(buf) - 1);
			memcpy(buf, p, n);
			buf[n] = '\0';
			if (parse_u64(buf, 16, &addr) == 0)
				return addr;
		}
		p = e + 1;
	}
	return 0;
}

/* The capture's kernel MMAP record ("[kernel.kallsyms]_text", pgoff = the
 * runtime address of _text when it was recorded) arrives before any
 * sample. Load the kernel's symbols now, as perf report does: from perf's
 * build-id cache copy of the recording kernel's kallsyms when there is
 * one, else from this machine's /proc/kallsyms; and shift them by the
 * difference of the reference symbol's addresses, which is the change of
 * KASLR offset when the machine rebooted since the recording (0 when it
 * did not). */
static void load_host_kernel(struct importer *im, const struct perf_mmap_event *m)
{
	struct image *k = image_registry__host_kernel(&im->collector.machine.images);
	const char *ref = m->filename + strlen("[kernel.kallsyms]");
	_cleanup_free_ char *text = NULL, *cached = NULL;
	const char *source = "/proc/kallsyms";
	size_t len = 0;
	uint64_t at;
	int r;

	if (k->loaded || im->kernel_loaded)
		return;
	im->kernel_loaded = true;
	if (k->build_id[0]) {
		const char *dir = getenv("PERF_BUILDID_DIR"), *home = getenv("HOME");
		if (dir && *dir)
			cached = xasprintf("%s/[kernel.kallsyms]/%s/kallsyms", dir, k->build_id);
		else if (home && *home)
			cached = xasprintf("%s/.debug/[kernel.kallsyms]/%s/kallsyms", home, k->build_id);
		if (cached && read_file(cached, &text, &len) == 0)
			source = cached;
	}
	if (!text && read_file(source, &text, &len) < 0)
		return; /* the machine's own lazy load will report it */
	im->kernel_symbols_cached = source == cached;
	at = *ref ? kallsyms_address(text, len, ref) : 0;
	im->kernel_delta = at && m->pgoff ? m->pgoff - at : 0;
	r = symtab__load_kallsyms(&k->symtab, text, len, im->kernel_delta);
	symtab__finish(&k->symtab, MAX_INFERRED_SYMBOL_SIZE);
	k->loaded = true;
	k->load_error = r;
	if (r == -EPERM)
		warn(im, "%s hides kernel addresses (kptr_restrict): kernel samples stay unresolved; import as root", source);
}

/* ---- open / run ---- */

int importer__open(struct importer *im, const char *path, uint64_t bucket_ns, char **ret_error)
{
	size_t n_attrs;
	bool callchain = false, dwarf = false;
	int r;

	memset(im, 0, sizeof(*im));
	r = perf_data__open(path, &im->data, ret_error);
	if (r < 0)
		return r;
	n_attrs = perf_data__n_attrs(im->data);
	im->events = xcalloc(n_attrs, sizeof(*im->events));
	im->event_of_attr = xcalloc(n_attrs, sizeof(*im->event_of_attr));
	for (size_t i = 0; i < n_attrs; i++) {
		const struct perf_data_attr *a = perf_data__attr(im->data, i);
		im->event_of_attr[i] = -1;
		if (!is_sampling(&a->attr))
			continue;
		im->event_of_attr[i] = (int)im->n_events;
		add_event(im, a);
		callchain |= !!(a->attr.sample_type & PERF_SAMPLE_CALLCHAIN);
		/* perf record --call-graph dwarf: unwound here as while recording. */
		dwarf |= (a->attr.sample_type & (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)) ==
			 (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER);
	}
	if (!im->n_events) {
		*ret_error = xstrdup("it holds no sampled events (a `perf stat record` capture?): nothing to import");
		importer__release(im);
		return -ENODATA;
	}
	profile__init(&im->profile);
	collector__init(&im->collector, &im->profile, im->n_events, false);
	im->collector.callchain = callchain;
	if (dwarf && (r = collector__enable_unwinding(&im->collector)) < 0) {
		*ret_error = xasprintf("cannot set up dwarf unwinding for its call graphs: %s", strerror(-r));
		importer__release(im);
		return r;
	}
	if (bucket_ns)
		im->collector.bucket_ns = bucket_ns;
	apply_build_ids(im);
	return 0;
}

static struct importer_cpu *cpu_slot(struct importer *im, uint32_t cpu)
{
	if (cpu >= MAX_CPUS)
		return NULL;
	if (cpu >= im->n_cpus) {
		size_t n = MAX((size_t)cpu + 1, im->n_cpus * 2);
		im->cpus = xrealloc(im->cpus, n * sizeof(*im->cpus));
		memset(im->cpus + im->n_cpus, 0, (n - im->n_cpus) * sizeof(*im->cpus));
		im->n_cpus = n;
	}
	return &im->cpus[cpu];
}

static int event_of_id(void *ctx, uint64_t id)
{
	struct importer *im = ctx;
	int attr = perf_data__n_attrs(im->data) == 1 ? 0 : perf_data__attr_of_id(im->data, id);
	return attr < 0 ? -1 : im->event_of_attr[attr];
}

static void on_record(const struct perf_event_header *h, size_t attr, void *ctx)
{
	struct importer *im = ctx;
	const struct perf_event_attr *a = &perf_data__attr(im->data, attr)->attr;
	uint64_t st = a->sample_type;

	switch (h->type) {
	case PERF_RECORD_SAMPLE: {
		struct perf_sample s;
		int ev = im->event_of_attr[attr];
		if (ev < 0) {
			im->stray_samples++;
			return;
		}
		if (perf_record__parse_sample_regs(h, st, a->read_format, a->sample_regs_user, &s) < 0) {
			im->bad_samples++;
			return;
		}
		/* A fixed period (-c) is not repeated in every sample. */
		if (!(st & PERF_SAMPLE_PERIOD) && !a->freq && a->sample_period)
			s.period = a->sample_period;
		if (st & PERF_SAMPLE_TIME) {
			if (!im->have_time) {
				im->have_time = true;
				im->first_time = im->last_time = s.time;
				im->collector.start_time = s.time;
			} else if (s.time > im->last_time) {
				im->last_time = s.time;
			} else if (s.time < im->first_time) {
				im->first_time = s.time;
			}
		}
		if (st & PERF_SAMPLE_CPU) {
			struct importer_cpu *c = cpu_slot(im, s.cpu);
			if (c)
				c->samples++;
		}
		collector__sample(&im->collector, &s, (uint32_t)ev);
		return;
	}
	case PERF_RECORD_LOST:
	case PERF_RECORD_LOST_SAMPLES: {
		struct perf_lost_event l;
		struct perf_sample id;
		collector__record(&im->collector, h, st, a->read_format, event_of_id, im);
		if ((st & PERF_SAMPLE_CPU) && a->sample_id_all && perf_record__parse_lost(h, &l) == 0 &&
		    perf_record__parse_sample_id(h, st, &id) == 0) {
			struct importer_cpu *c = cpu_slot(im, id.cpu);
			if (c)
				c->lost += l.lost;
		}
		return;
	}
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2: {
		struct perf_mmap_event m;
		if (perf_record__parse_mmap(h, &m) == 0 && m.pid == UINT32_MAX &&
		    startswith(m.filename, "[kernel.kallsyms]"))
			load_host_kernel(im, &m);
		collector__record(&im->collector, h, st, a->read_format, event_of_id, im);
		return;
	}
	case PERF_RECORD_COMM:
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		collector__record(&im->collector, h, st, a->read_format, event_of_id, im);
		return;
	default:
		return; /* throttling, context switches, AUX, BPF, ...: known, not needed for a profile */
	}
}

static bool has_kernel_samples(const struct importer *im)
{
	for (size_t i = 0; i < im->profile.n_samples; i++) {
		uint8_t l = im->profile.samples[i].key.layer;
		if (l == LAYER_KERNEL || l == LAYER_HYPERVISOR)
			return true;
	}
	return false;
}

/* Kernel addresses resolve through this machine's /proc/kallsyms: say so
 * when the capture comes from another kernel. The build-ids decide when
 * both are known, else the release strings. */
static void check_kernel(struct importer *im)
{
	const struct perf_data_info *info = perf_data__info(im->data);
	struct image *k = im->collector.machine.images.kernel;
	char here[41];
	struct utsname u;

	if (!has_kernel_samples(im) || im->kernel_symbols_cached)
		return; /* perf's copy of the recording kernel's symbols was used */
	running_kernel_build_id(here);
	if (k && k->build_id[0] && here[0]) {
		if (!streq(k->build_id, here))
			warn(im, "the capture's kernel (%s, build-id %.12s...) is not the one running here (build-id "
				 "%.12s...): kernel symbols come from this machine's /proc/kallsyms and may be wrong",
			     info->osrelease ? info->osrelease : "release unknown", k->build_id, here);
		return;
	}
	if (info->osrelease && uname(&u) == 0 && !streq(info->osrelease, u.release))
		warn(im, "the capture was recorded on kernel %s, this machine runs %s: kernel symbols come from this "
			 "machine's /proc/kallsyms and may be wrong",
		     info->osrelease, u.release);
}

int importer__run(struct importer *im, char **ret_error)
{
	int r = perf_data__read(im->data, on_record, im, ret_error);
	const struct perf_data_stats *st = perf_data__stats(im->data);
	/* The reader's warnings first: they explain the rest. */
	char **mine = im->warnings;
	size_t n_mine = im->n_warnings;
	im->warnings = NULL;
	im->n_warnings = im->cap_warnings = 0;
	for (size_t i = 0; i < perf_data__n_warnings(im->data); i++)
		warn(im, "%s", perf_data__warning(im->data, i));
	for (size_t i = 0; i < n_mine; i++) {
		warn(im, "%s", mine[i]);
		free(mine[i]);
	}
	free(mine);
	if (st->truncated_tail)
		warn(im, "the capture ends inside a record (perf record was killed?): imported up to there");
	if (perf_data__info(im->data)->data_size_unknown)
		warn(im, "the header does not give the data size (perf record did not finish): read to the end of "
			 "the file");
	if (st->unmatched)
		warn(im, "%llu samples belong to no event of the file (unknown sample id): skipped",
		     (unsigned long long)st->unmatched);
	if (im->bad_samples + im->collector.bad_records)
		warn(im, "%llu records could not be decoded: skipped",
		     (unsigned long long)(im->bad_samples + im->collector.bad_records));
	if (st->ignored_attrs)
		warn(im, "%llu event attributes inside compressed data were ignored", (unsigned long long)st->ignored_attrs);
	for (size_t i = 0; i < im->collector.machine.n_warnings; i++)
		warn(im, "%s", im->collector.machine.warnings[i]);
	check_kernel(im);
	return r;
}

uint64_t importer__samples(const struct importer *im) { return collector__samples(&im->collector); }

uint64_t importer__lost(const struct importer *im)
{
	uint64_t n = im->collector.lost_total;
	for (size_t e = 0; e < im->n_events; e++)
		n += im->collector.stats[e].lost;
	return n;
}

/* ---- the session ---- */

static const char *clock_name(clockid_t id)
{
	switch (id) {
	case CLOCK_REALTIME: return "realtime";
	case CLOCK_MONOTONIC: return "monotonic";
	case CLOCK_MONOTONIC_RAW: return "monotonic_raw";
	case CLOCK_BOOTTIME: return "boottime";
	case CLOCK_TAI: return "tai";
	default: return NULL;
	}
}

static char *join(char *const *argv, size_t n)
{
	struct strbuf sb;
	char *r;
	strbuf_init(&sb);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addc(&sb, ' ');
		strbuf_adds(&sb, argv[i]);
	}
	r = strbuf_detach(&sb);
	strbuf_release(&sb); /* detach leaves a fresh empty buffer */
	return r;
}

/* Wall-clock start: exact when perf recorded a reference point of the
 * sample clock (CLOCK_DATA), else the file's mtime (perf writes the
 * header when it stops) minus the duration; 0 when neither is known. */
static time_t start_time(const struct importer *im, const char **ret_source)
{
	const struct perf_data_info *info = perf_data__info(im->data);
	const struct perf_event_attr *first = &im->events[0].attr;
	const char *path = perf_data__path(im->data);
	struct stat sb;
	if (info->have_clock_data && first->use_clockid && (uint32_t)first->clockid == info->clockid) {
		*ret_source = "perf clock data";
		return (time_t)((info->clock_tod_ns - info->clock_clockid_ns + im->first_time) / 1000000000ULL);
	}
	if (!streq(path, "-") && stat(path, &sb) == 0) {
		*ret_source = "file time (approximate)";
		return sb.st_mtime - (time_t)((im->last_time - im->first_time) / 1000000000ULL);
	}
	return 0;
}

/* What the capture says about the run it recorded. */
static void describe_run(const struct importer *im, const char *command_line, struct session_run *run)
{
	const struct perf_data_info *info = perf_data__info(im->data);
	const struct perf_event_attr *first = &im->events[0].attr;
	*run = (struct session_run){
		.command_line = command_line,
		.target = "import",
		.hostname = info->hostname,
		.kernel = info->osrelease,
		.arch = info->arch,
		.ncpus = info->nr_cpus_online,
		.have_start = im->have_time,
		.start_ns = im->first_time,
		.timeline_bucket_ns = im->collector.bucket_ns,
		.clock = first->use_clockid && clock_name(first->clockid) ? clock_name(first->clockid) : "perf",
		.callchain = im->collector.callchain,
		.unwinder = im->collector.unwinder ? "dwarf" : NULL,
	};
	if (im->have_time)
		run->start_time = start_time(im, &run->start_time_source);
}

/* What only an import has: where it came from and what the reader saw. */
static void write_import_meta(const struct importer *im, struct session *s)
{
	const struct perf_data_info *info = perf_data__info(im->data);
	const struct perf_data_stats *st = perf_data__stats(im->data);
	const char *path = perf_data__path(im->data);
	char abs[PATH_MAX];

	session__set_meta(s, "import_source", streq(path, "-") ? "-" : realpath(path, abs) ? abs : path);
	session__set_meta(s, "import_format", info->pipe ? "perf.data (pipe)" : "perf.data");
	session__set_meta_int(s, "import_records", (int64_t)st->records);
	session__set_meta_int(s, "import_unknown_records", (int64_t)st->unknown_records);
	session__set_meta_int(s, "import_unmatched_samples", (int64_t)st->unmatched);
	session__set_meta_int(s, "import_unordered_records", (int64_t)st->unordered);
	session__set_meta_int(s, "import_bad_records", (int64_t)(im->bad_samples + im->collector.bad_records));
	if (info->version)
		session__set_meta(s, "perf_version", info->version);
	if (info->n_cmdline) {
		_cleanup_free_ char *c = join(info->cmdline, info->n_cmdline);
		session__set_meta(s, "perf_cmdline", c);
	}
	if (info->cpudesc)
		session__set_meta(s, "cpu", info->cpudesc);
}

int importer__write_session(struct importer *im, struct session *s, const char *command_line, bool complete)
{
	struct session_run run;
	int r;
	describe_run(im, command_line, &run);
	if ((r = session__write_events(s, im->events, im->n_events)) < 0 || (r = session__write_run(s, &run)) < 0 ||
	    (r = collector__flush(&im->collector, s, NULL)) < 0)
		return r;
	write_import_meta(im, s);
	collector__write_unwind(&im->collector, s);
	if (im->have_time)
		session__write_span(s, im->first_time, im->last_time);
	for (size_t c = 0; c < im->n_cpus; c++)
		if (im->cpus[c].samples || im->cpus[c].lost)
			session__set_lost(s, im->collector.machine.host_domain, (int)c, im->cpus[c].samples,
					  im->cpus[c].lost);
	return session__write_end(s, importer__lost(im), complete);
}

void importer__release(struct importer *im)
{
	if (im->profile.domains || im->collector.stats) {
		collector__release(&im->collector);
		profile__release(&im->profile);
	}
	event_list__free(im->events, im->n_events);
	free(im->event_of_attr);
	free(im->cpus);
	for (size_t i = 0; i < im->n_warnings; i++)
		free(im->warnings[i]);
	free(im->warnings);
	perf_data__free(im->data);
	memset(im, 0, sizeof(*im));
}
