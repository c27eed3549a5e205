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
#include <unistd.h>

#include "lib/sampler/sampler.h"
#include "lib/symbol/unwind.h"

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
	memcpy(cap.stack, (const void *)g[PERF_REG_X86_SP], cap.stack_size);
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
	/* A change of mappings makes it anew. */
	unwinder__forget(u, s.pid);
	unwinder__unwind(u, &s, find_map, NULL, ips, 128, &end);
	assert_int_equal(unwinder__stats(u)->spaces_created, 2);

	/* A frame limit ends the walk there, and says so. */
	n = unwinder__unwind(u, &s, find_map, NULL, ips, 3, &end);
	assert_int_equal(n, 3);
	assert_int_equal(end, UNWIND_END_DEPTH);
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
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	(void)state;

	assert_true(len > 0);
	self[len] = '\0';
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_stack),
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
