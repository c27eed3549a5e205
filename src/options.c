/* The shared command-line options; see options.h. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "../lib/sampler/sampler.h"
#include "../lib/vocab/vocab.h"
#include "domprof.h"

/* Beyond this -d is a typo (115 days), and seconds * 1e9 still fits. */
#define MAX_DURATION_S 1e7

const char *const option_table_formats[] = { [FORMAT_TEXT] = "text", [FORMAT_CSV] = "csv", [FORMAT_JSON] = "json",
					     NULL };
const char *const option_text_json_formats[] = { "text", "json", NULL };

static int parse_pid_text(const char *text, pid_t *ret)
{
	uint64_t v;
	if (parse_u64(text, 10, &v) < 0 || v == 0 || v > INT32_MAX)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

int option_parse_vm(const char *arg, struct vm_names *v)
{
	const char *eq = strchr(arg, '=');
	_cleanup_free_ char *name = NULL;
	pid_t pid;

	if (!eq || eq == arg || !eq[1])
		return log_error("--vm expects NAME=PID, got '%s'", arg);
	if (parse_pid_text(eq + 1, &pid) < 0)
		return log_error("--vm %s: '%s' is not a process id", arg, eq + 1);
	name = xstrndup(arg, eq - arg);
	if (domain_name__is_reserved(name))
		return log_error("--vm %s: '%s' is one of the host's own domains (%s, %s); give the VM another name", arg,
				 name, DOMAIN_NAME_HOST, DOMAIN_NAME_IDLE);
	v->vms = xrealloc(v->vms, (v->n + 1) * sizeof(*v->vms));
	v->vms[v->n++] = (struct vm_force){ name, pid };
	name = NULL;
	return 0;
}

void vm_names__release(struct vm_names *v)
{
	for (size_t i = 0; i < v->n; i++)
		free((char *)v->vms[i].name);
	free(v->vms);
	v->vms = NULL;
	v->n = 0;
}

int option_parse_pid(const char *arg, pid_t *ret)
{
	if (parse_pid_text(arg, ret) < 0)
		return log_error("-p: '%s' is not a process id", arg);
	return 0;
}

int option_parse_freq(const char *arg, uint64_t *ret)
{
	uint64_t v;
	if (parse_u64(arg, 10, &v) < 0 || v == 0)
		return log_error("-F: '%s' is not a positive frequency in Hz", arg);
	*ret = v;
	return 0;
}

int option_parse_duration(const char *arg, double *ret)
{
	double d;
	if (parse_double(arg, &d) < 0 || !(d > 0) || d > MAX_DURATION_S)
		return log_error("-d: '%s' is not a positive number of seconds", arg);
	*ret = d;
	return 0;
}

/* The most --call-graph dwarf,SIZE takes: 64 KiB, which the kernel
 * trims to SAMPLER_MAX_USER_STACK. */
#define MAX_CALL_GRAPH_SIZE 65536

int option_parse_call_graph(const char *arg, struct call_graph_option *ret)
{
	const char *comma = strchr(arg, ',');
	size_t kind_len = comma ? (size_t)(comma - arg) : strlen(arg);
	uint64_t size = SAMPLER_DEFAULT_USER_STACK, unit = 1;

	if (kind_len == 2 && !strncmp(arg, "fp", 2)) {
		if (comma)
			return log_error("--call-graph: '%s': fp takes no size (a size is for dwarf,SIZE)", arg);
		*ret = (struct call_graph_option){ .enabled = true };
		return 0;
	}
	if (kind_len != 5 || strncmp(arg, "dwarf", 5))
		return log_error("--call-graph: '%s' is not a call graph mode (fp, or dwarf[,SIZE] with SIZE in bytes)",
				 arg);
	if (comma) {
		char num[32];
		size_t n = strspn(comma + 1, "0123456789");
		const char *suffix = comma + 1 + n;
		if ((*suffix == 'k' || *suffix == 'K') && !suffix[1])
			unit = 1024;
		else if (*suffix)
			n = 0;
		if (!n || n >= sizeof(num))
			return log_error("--call-graph: '%s': the size after dwarf, is a number of bytes (e.g. dwarf,16384 or "
					 "dwarf,16K)",
					 arg);
		memcpy(num, comma + 1, n);
		num[n] = '\0';
		if (parse_u64(num, 10, &size) < 0 || size == 0 || size > MAX_CALL_GRAPH_SIZE / unit)
			return log_error("--call-graph: '%s': the stack size must be from 8 bytes to 64K", arg);
		size *= unit;
	}
	size = (size + 7) & ~(uint64_t)7;
	if (size > SAMPLER_MAX_USER_STACK)
		size = SAMPLER_MAX_USER_STACK;
	*ret = (struct call_graph_option){ .enabled = true, .user_stack_size = (uint32_t)size };
	return 0;
}

void option_parse_list(const char *arg, char ***list)
{
	strv_free(*list);
	*list = strv_split(arg);
}

int option_parse_layers(const char *arg, char ***list)
{
	option_parse_list(arg, list);
	for (char **l = *list; *l; l++)
		if (layer__from_name(*l) < 0) {
			struct strbuf known;
			strbuf_init(&known);
			for (size_t k = 0; k < LAYER__COUNT; k++)
				strbuf_addf(&known, "%s%s", k ? ", " : "", layer__name(layer__display_order[k]));
			log_error("--layer: unknown layer '%s' (known: %s)", *l, known.buf);
			strbuf_release(&known);
			return -EINVAL;
		}
	return 0;
}

int option_parse_source(const char *arg, enum view_source *ret)
{
	if (view_source__parse(arg, ret) < 0)
		return log_error("--source: '%s' is not one of merged, host, agent", arg);
	return 0;
}

int option_parse_threshold(const char *arg, double *ret)
{
	double d;
	if (parse_double(arg, &d) < 0 || !(d >= 0) || d > 100)
		return log_error("--threshold: '%s' is not a percentage between 0 and 100", arg);
	*ret = d;
	return 0;
}

int option_parse_limit(const char *arg, size_t *ret)
{
	uint64_t v;
	if (parse_u64(arg, 10, &v) < 0 || v > SIZE_MAX)
		return log_error("--limit: '%s' is not a number of rows", arg);
	*ret = (size_t)v;
	return 0;
}

int option_parse_format(const char *arg, const char *const *names, int *ret)
{
	struct strbuf known;
	for (int i = 0; names[i]; i++)
		if (streq(names[i], arg)) {
			*ret = i;
			return 0;
		}
	strbuf_init(&known);
	for (int i = 0; names[i]; i++)
		strbuf_addf(&known, "%s%s", i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
	log_error("--format: '%s' is not a format; use %s", arg, known.buf);
	strbuf_release(&known);
	return -EINVAL;
}

int option_parse_query(int c, const char *arg, struct report_query *q)
{
	switch (c) {
	case OPT_DOMAIN: option_parse_list(arg, &q->domains); return 0;
	case OPT_LAYER: return option_parse_layers(arg, &q->layers);
	case OPT_COMM: option_parse_list(arg, &q->comms); return 0;
	case OPT_EVENT: option_parse_list(arg, &q->events); return 0;
	case OPT_SOURCE: return option_parse_source(arg, &q->source);
	case OPT_NO_IDLE: q->no_idle = true; return 0;
	}
	return -EINVAL; /* not one of them: a caller's mistake */
}

void option_query__release(struct report_query *q)
{
	strv_free(q->domains);
	strv_free(q->layers);
	strv_free(q->comms);
	strv_free(q->events);
	q->domains = q->layers = q->comms = q->events = NULL;
}
