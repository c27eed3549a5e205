/* The dwarf unwinder on a real stack: this test's own thread captures its
 * registers and a copy of its stack at a known point, three known
 * functions deep, as the kernel does for PERF_SAMPLE_REGS_USER and
 * PERF_SAMPLE_STACK_USER; the walk must name those functions and their
 * callers up to main, never read outside the copy, and stop (never guess)
 * where it has no CFI or no memory. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/collect/collector.h"
#include "lib/sampler/sampler.h"
#include "lib/symbol/unwind.h"
#include "lib/util/util.h"

#if defined(__x86_64__)
#include <asm/perf_regs.h>

#define STACK_COPY 65536

struct capture {
	uint64_t by_perf_reg[24];
	unsigned char regs[24 * 8]; /* packed in mask order, as in a sample */
	uint32_t regs_nr;
	unsigned char stack[STACK_COPY];
	uint64_t stack_size;
};

static struct capture cap;
static struct image_registry images;

/* The end of the mapping that holds addr (the top of this thread's stack). */
static uint64_t mapping_end(uint64_t addr)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	uint64_t end = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		if (sscanf(line, "%llx-%llx", &a, &b) == 2 && addr >= a && addr < b)
			end = b;
	}
	if (f)
		fclose(f);
	return end;
}

/* Raw stack bytes, as the kernel copies them: other frames' locals and
 * the sanitizer's redzones included, so the copy is not instrumented. */
__attribute__((no_sanitize_address)) static void copy_stack(unsigned char *dst, const unsigned char *src, size_t n)
{
	const volatile unsigned char *s = src;
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i];
}

/* The registers at the label 0 and the stack from there up, copied the
 * way the kernel copies a user stack. Only the callee-saved registers,
 * the stack pointer and the IP matter to CFI at that point. */
__attribute__((noinline)) static void capture_here(void)
{
	uint64_t *g = cap.by_perf_reg, top;
	__asm__ volatile("mov %%rbx, 8(%0)\n\t"
			 "mov %%rbp, 48(%0)\n\t"
			 "mov %%rsp, 56(%0)\n\t"
			 "lea 0f(%%rip), %%rax\n\t"
			 "mov %%rax, 64(%0)\n\t"
			 "mov %%r12, 160(%0)\n\t"
			 "mov %%r13, 168(%0)\n\t"
			 "mov %%r14, 176(%0)\n\t"
			 "mov %%r15, 184(%0)\n\t"
			 "0:\n\t"
			 :
			 : "r"(g)
			 : "rax", "memory");
	top = mapping_end(g[PERF_REG_X86_SP]);
	cap.stack_size = top - g[PERF_REG_X86_SP] < STACK_COPY ? top - g[PERF_REG_X86_SP] : STACK_COPY;
	copy_stack(cap.stack, (const unsigned char *)g[PERF_REG_X86_SP], cap.stack_size);
}

__attribute__((noinline)) static void inner_caller(void)
{
	capture_here();
	__asm__ volatile("" ::: "memory"); /* not a tail call */
}

__attribute__((noinline)) static void outer_caller(void)
{
	inner_caller();
	__asm__ volatile("" ::: "memory");
}

static void pack_regs(uint64_t mask)
{
	cap.regs_nr = 0;
	for (unsigned r = 0; r < 24; r++)
		if (mask & (1ULL << r)) {
			memcpy(cap.regs + cap.regs_nr * 8, &cap.by_perf_reg[r], 8);
			cap.regs_nr++;
		}
}

/* /proc/self/maps as the machine would hand it to the unwinder. ctx, when
 * not NULL, is the only file whose mappings are known. */
static bool find_map(void *ctx, uint64_t addr, struct unwind_map *ret)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[1024];
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f)) {
		unsigned long long a, b, off;
		char perms[8];
		int at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &a, &b, perms, &off, &at) < 4 || addr < a || addr >= b)
			continue;
		while (line[at] == ' ')
			at++;
		line[strcspn(line, "\n")] = '\0';
		if (line[at] != '/' || (ctx && strcmp(ctx, line + at)))
			break;
		*ret = (struct unwind_map){ a, b, off, image_registry__get(&images, IMAGE_ELF, line + at) };
		found = true;
	}
	if (f)
		fclose(f);
	return found;
}

/* The function an address is in, or "?". Return addresses are looked up
 * one byte back, as the collector does. */
static const char *function_at(uint64_t addr)
{
	struct unwind_map m;
	const struct symbol *s;
	if (!find_map(NULL, addr, &m) || image__load(m.image) < 0)
		return "?";
	s = image__find(m.image, elf_info__offset_to_vaddr(&m.image->info, addr - m.start + m.pgoff));
	return s ? s->name : "?";
}

static struct unwind_sample sample_of_capture(void)
{
	return (struct unwind_sample){ (uint32_t)getpid(), (uint32_t)gettid(), SAMPLER_REGS_USER_MASK, cap.regs_nr,
				       cap.regs, cap.stack, cap.stack_size };
}

/* The path of this test program. */
static void self_exe(char *buf, size_t size)
{
	ssize_t len = readlink("/proc/self/exe", buf, size - 1);
	assert_true(len > 0);
	buf[len] = '\0';
}

static int setup(void **state)
{
	(void)state;
	image_registry__init(&images);
	outer_caller();
	pack_regs(SAMPLER_REGS_USER_MASK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	image_registry__release(&images);
	return 0;
}

static void test_real_stack(void **state)
{
	struct unwinder *u;
	struct unwind_sample s = sample_of_capture();
	uint64_t ips[128];
	enum unwind_end end;
	size_t n;
	bool saw_main = false, saw_test = false;
	(void)state;

	assert_int_equal(unwinder__new(&u), 0);
	n = unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_true(n >= 4);
	assert_int_equal(ips[0], cap.by_perf_reg[PERF_REG_X86_IP]);
	assert_string_equal(function_at(ips[0]), "capture_here");
	assert_string_equal(function_at(ips[1] - 1), "inner_caller");
	assert_string_equal(function_at(ips[2] - 1), "outer_caller");
	assert_string_equal(function_at(ips[3] - 1), "setup");
	for (size_t i = 4; i < n; i++) {
		saw_main |= !strcmp(function_at(ips[i] - 1), "main");
		saw_test |= !strcmp(function_at(ips[i] - 1), "_cmocka_run_group_tests");
	}
	assert_true(saw_test);
	assert_true(saw_main);
	assert_int_equal(end, UNWIND_END_COMPLETE);

	/* The second walk of the same process reuses its Dwfl and modules. */
	n = unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(unwinder__stats(u)->spaces_created, 1);
	/* Something new mapped elsewhere: the Dwfl stays. */
	unwinder__maps_changed(u, s.pid);
	unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(unwinder__stats(u)->spaces_created, 1);
	/* A module it reported is no longer mapped where it was (here: only
	 * the executable is left): it is made anew, from the new mappings. */
	{
		char self[4096];
		self_exe(self, sizeof(self));
		unwinder__maps_changed(u, s.pid);
		unwinder__unwind(u, &s, find_map, self, ips, 128, &end);
		assert_int_equal(end, UNWIND_END_NO_CFI);
		assert_int_equal(unwinder__stats(u)->spaces_created, 2);
	}
	/* An exec or exit drops it. */
	unwinder__forget(u, s.pid);
	unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(unwinder__stats(u)->spaces_created, 3);

	/* A frame limit ends the walk there, and says so. */
	n = unwinder__unwind(u, &s, find_map, NULL, ips, 3, &end);
	assert_int_equal(n, 3);
	assert_int_equal(end, UNWIND_END_DEPTH);
	unwinder__free(u);
}

/* An image that leaves memory (no process maps it any more): the Dwfl
 * that reported it goes, then its ELF; the image freed and its path
 * mapped again, walks are whole again. One never opened changes nothing. */
static void test_forget_image(void **state)
{
	struct unwinder *u;
	struct unwind_sample s = sample_of_capture();
	uint64_t ips[128];
	enum unwind_end end;
	struct image *im, *other;
	char self[4096];
	(void)state;
	self_exe(self, sizeof(self));
	assert_int_equal(unwinder__new(&u), 0);
	unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(unwinder__stats(u)->spaces_created, 1);
	other = image_registry__get(&images, IMAGE_ELF, "/nonexistent/never-walked");
	unwinder__forget_images(u, &other, 1);
	unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(unwinder__stats(u)->spaces_created, 1);
	im = image_registry__get(&images, IMAGE_ELF, self);
	unwinder__forget_images(u, &im, 1);
	image_registry__remove(&images, &im, 1);
	image__free(im);
	unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(unwinder__stats(u)->spaces_created, 2);
	assert_ptr_not_equal(image_registry__get(&images, IMAGE_ELF, self), NULL);
	unwinder__free(u);
}

static void test_stops_at_the_copy(void **state)
{
	struct unwinder *u;
	struct unwind_sample s = sample_of_capture();
	uint64_t ips[128], full[128];
	enum unwind_end end;
	size_t n, n_full;
	(void)state;

	assert_int_equal(unwinder__new(&u), 0);
	n_full = unwinder__unwind(u, &s, find_map, NULL, full, 128, &end);
	/* A copy too short for the callers: the walk stops where the copy
	 * ends, with the frames it could prove, all of them true ones. */
	s.stack_size = 64;
	n = unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(end, UNWIND_END_STACK);
	assert_true(n >= 1 && n < n_full);
	assert_memory_equal(ips, full, n * sizeof(ips[0]));
	/* No stack at all: the IP alone. */
	s.stack_size = 0;
	n = unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(n, 1);
	assert_int_equal(end, UNWIND_END_STACK);
	/* No IP or SP: nothing. */
	s = sample_of_capture();
	s.regs_mask &= ~(1ULL << PERF_REG_X86_IP);
	pack_regs(s.regs_mask);
	s.regs_nr = cap.regs_nr;
	n = unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(n, 0);
	assert_int_equal(end, UNWIND_END_REGS);
	pack_regs(SAMPLER_REGS_USER_MASK);
	unwinder__free(u);
}

static void test_stops_without_cfi(void **state)
{
	struct unwinder *u;
	struct unwind_sample s = sample_of_capture();
	uint64_t ips[128];
	enum unwind_end end;
	size_t n;
	char self[4096];
	(void)state;

	self_exe(self, sizeof(self));
	assert_int_equal(unwinder__new(&u), 0);
	/* Only this executable is known: the first caller in another file
	 * (libcmocka, libc) is kept, and the walk ends there, unguessed. */
	n = unwinder__unwind(u, &s, find_map, self, ips, 128, &end);
	assert_int_equal(end, UNWIND_END_NO_CFI);
	assert_true(n >= 5);
	for (size_t i = 0; i + 1 < n; i++) {
		struct unwind_map m;
		assert_true(find_map(self, i ? ips[i] - 1 : ips[i], &m));
	}
	{
		struct unwind_map m;
		assert_false(find_map(self, ips[n - 1] - 1, &m));
	}
	unwinder__free(u);
}

static int first_event(void *ctx, uint64_t id)
{
	(void)ctx;
	(void)id;
	return 0;
}

/* A kernel-mode sample as the kernel writes it with --call-graph dwarf:
 * the kernel's chain, then the captured user registers and stack. */
static size_t synth_dwarf_sample(unsigned char *buf, uint32_t pid, uint32_t tid, uint64_t stack_bytes)
{
	size_t n = 0;
	uint64_t v;
#define PUT(x) (v = (uint64_t)(x), memcpy(buf + n, &v, 8), n += 8)
	n = sizeof(struct perf_event_header);
	PUT(1);				  /* identifier */
	PUT(0xffffffff81000010ULL);	  /* ip: in the kernel */
	PUT((uint64_t)tid << 32 | pid);	  /* pid, tid */
	PUT(1000);			  /* time */
	PUT(0);				  /* cpu, res */
	PUT(1000000);			  /* period */
	PUT(2);				  /* callchain: the kernel part only */
	PUT(PERF_CONTEXT_KERNEL);
	PUT(0xffffffff81000010ULL);
	PUT(PERF_SAMPLE_REGS_ABI_64);
	memcpy(buf + n, cap.regs, cap.regs_nr * 8);
	n += cap.regs_nr * 8;
	PUT(stack_bytes);
	memcpy(buf + n, cap.stack, stack_bytes);
	n += stack_bytes;
	PUT(stack_bytes);		  /* dyn_size */
#undef PUT
	*(struct perf_event_header *)buf =
		(struct perf_event_header){ .type = PERF_RECORD_SAMPLE, .misc = PERF_RECORD_MISC_KERNEL, .size = (uint16_t)n };
	return n;
}

/* The names of a stack's frames, leaf first, joined by ';'. */
static char *stack_names(struct profile *p, uint32_t frame)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (; frame; frame = p->frames[frame - 1].parent) {
		const struct profile_frame *f = &p->frames[frame - 1];
		strbuf_addf(&sb, "%s%s", sb.len ? ";" : "", f->symbol ? p->symbols[f->symbol - 1].name : "?");
	}
	return strbuf_detach(&sb);
}

/* The collector joins the kernel's chain and the unwound user part, and
 * roots a stack it could not finish at the marker frame. */
static void test_collector_joins(void **state)
{
	const uint64_t st = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
			    PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER |
			    PERF_SAMPLE_STACK_USER;
	static unsigned char buf[32768];
	uint64_t stack_bytes = cap.stack_size < 16384 ? cap.stack_size : 16384;
	uint32_t pid = (uint32_t)getpid(), tid = (uint32_t)gettid();
	struct profile prof;
	struct collector c;
	FILE *f;
	char line[1024];
	_cleanup_free_ char *names = NULL, *marked = NULL, *behind = NULL;
	uint64_t walks;
	(void)state;

	profile__init(&prof);
	collector__init(&c, &prof, 1, false);
	c.regs_user_mask = SAMPLER_REGS_USER_MASK;
	assert_int_equal(collector__enable_unwinding(&c), 0);

	/* Nothing known of the process yet: no module for the IP, so the
	 * stack is the kernel frame, the user IP alone, and the marker as its
	 * root. */
	synth_dwarf_sample(buf, pid, tid, stack_bytes);
	collector__record(&c, (const struct perf_event_header *)buf, st, 0, first_event, NULL);
	assert_int_equal(prof.n_samples, 1);
	marked = stack_names(&prof, prof.samples[0].key.stack);
	assert_non_null(strstr(marked, ";" COLLECTOR_UNWIND_MARKER));
	assert_string_equal(strstr(marked, ";" COLLECTOR_UNWIND_MARKER), ";" COLLECTOR_UNWIND_MARKER);
	assert_int_equal(strchr(strchr(marked, ';') + 1, ';') - marked, strstr(marked, ";" COLLECTOR_UNWIND_MARKER) - marked);
	assert_int_equal(c.unwind_marked, 1);

	/* Its executable mappings, as MMAP2 records would give them. */
	f = fopen("/proc/self/maps", "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, off;
		char perms[8];
		int at = 0;
		struct perf_mmap_event m = { .pid = pid, .tid = pid, .prot = PROT_EXEC, .is_mmap2 = true };
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &a, &b, perms, &off, &at) < 4 || perms[2] != 'x')
			continue;
		while (line[at] == ' ')
			at++;
		line[strcspn(line, "\n")] = '\0';
		if (line[at] != '/')
			continue;
		m.start = a;
		m.len = b - a;
		m.pgoff = off;
		m.filename = line + at;
		machine__mmap(&c.machine, &m);
	}
	fclose(f);
	/* The mappings changed: the process's Dwfl is made anew (a record
	 * would do this through collector__record). */
	unwinder__forget(c.unwinder, pid);

	collector__record(&c, (const struct perf_event_header *)buf, st, 0, first_event, NULL);
	assert_int_equal(prof.n_samples, 2);
	names = stack_names(&prof, prof.samples[1].key.stack);
	/* Leaf first: the kernel part, then the user frames up to main. */
	assert_non_null(strstr(names, ";capture_here;inner_caller;outer_caller;setup;"));
	assert_non_null(strstr(names, ";main;"));
	assert_null(strstr(names, COLLECTOR_UNWIND_MARKER));
	assert_true(strstr(names, "capture_here") > names); /* a kernel frame below it */
	assert_int_equal(c.unwind_marked, 1);

	/* The reader fell behind: the same sample is kept with the kernel
	 * part and its user function under the marker, without a walk, and
	 * counted apart from the walks that stopped. */
	walks = unwinder__stats(c.unwinder)->walks;
	c.reader_behind = true;
	collector__record(&c, (const struct perf_event_header *)buf, st, 0, first_event, NULL);
	assert_int_equal(prof.n_samples, 3);
	behind = stack_names(&prof, prof.samples[2].key.stack);
	assert_non_null(strstr(behind, ";capture_here;" COLLECTOR_UNWIND_MARKER));
	assert_string_equal(strstr(behind, ";capture_here;"), ";capture_here;" COLLECTOR_UNWIND_MARKER);
	assert_true(strstr(behind, "capture_here") > behind);
	assert_int_equal(unwinder__stats(c.unwinder)->walks, walks);
	assert_int_equal(c.unwind_behind, 1);
	assert_int_equal(c.unwind_marked, 1);

	collector__release(&c);
	profile__release(&prof);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collector_joins),
		cmocka_unit_test(test_real_stack),
		cmocka_unit_test(test_forget_image),
		cmocka_unit_test(test_stops_at_the_copy),
		cmocka_unit_test(test_stops_without_cfi),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
#else
int main(void)
{
	printf("dwarf unwinding is x86_64 only\n");
	return 77;
}
#endif
