/* Attribution of samples to (domain, layer) from synthesized perf record
 * streams laid out as the kernel writes them: a QEMU/KVM VM with a vCPU
 * thread, guest-mode samples (GUEST_KERNEL resolved through a System.map
 * with a KASLR offset, GUEST_USER as [guest user]), a vhost backend
 * thread, TCG code in anonymous executable memory, host processes, a
 * process that produces guest samples without looking like a VMM, and the
 * host's idle task: in its idle loop (domain idle) or serving an interrupt
 * (host kernel). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/collect/collector.h"
#include "lib/collect/hot-code.h"
#include "lib/domain/idle.h"
#include "lib/util/util.h"
#include "perf-synth.h"

static int event_of_id(void *ctx, uint64_t id) { return id == 1 ? 0 : -1; }

static void feed(struct collector *c, const struct perf_event_header *h)
{
	collector__record(c, h, SYNTH_SAMPLE_TYPE, 0, event_of_id, NULL);
}

/* Sum of period over the profile's samples in (domain, layer). */
static uint64_t layer_period(struct profile *p, const char *domain, enum layer l)
{
	uint32_t d = profile__find_domain(p, domain);
	uint64_t sum = 0;
	for (size_t i = 0; d && i < p->n_samples; i++)
		if (p->samples[i].key.domain == d && p->samples[i].key.layer == l)
			sum += p->samples[i].period;
	return sum;
}

/* The symbol name of the (single) sample at ip in (domain, layer). */
static const char *symbol_at(struct profile *p, const char *domain, enum layer l, const char **ret_image)
{
	uint32_t d = profile__find_domain(p, domain);
	for (size_t i = 0; d && i < p->n_samples; i++) {
		struct sample_key *k = &p->samples[i].key;
		if (k->domain == d && k->layer == l) {
			if (ret_image)
				*ret_image = k->image ? p->images[k->image - 1].path : NULL;
			return k->symbol ? p->symbols[k->symbol - 1].name : "[unknown]";
		}
	}
	return NULL;
}

static char sysmap_path[64];

static int setup(void **state)
{
	static const char map[] = "ffffffff81000000 T _stext\n"
				  "ffffffff81000100 T start_kernel\n"
				  "ffffffff81a00000 T tcp_v4_rcv\n"
				  "ffffffff81a00400 T tcp_rcv_established\n"
				  "ffffffff81b00000 T virtnet_poll\n";
	int fd;
	snprintf(sysmap_path, sizeof(sysmap_path), "/tmp/domprof-sysmap-XXXXXX");
	fd = mkstemp(sysmap_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, map, sizeof(map) - 1), (ssize_t)sizeof(map) - 1);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(sysmap_path);
	return 0;
}

static void test_vm_attribution(void **state)
{
	struct profile p;
	struct collector c;
	struct synth s;
	/* The guest booted with KASLR: its runtime _stext is 0x2c000000 above
	 * the System.map's. */
	const uint64_t kaslr = 0x2c000000;
	struct guest_kernel_source g = { .vm_name = "web", .file = sysmap_path, .stext = 0xffffffff81000000ULL + kaslr };
	const char *image;

	profile__init(&p);
	collector__init(&c, &p, 1, false);
	machine__force_vm(&c.machine, "web", 500);
	machine__add_guest_kernel(&c.machine, &g);

	/* QEMU starts: exec, a vCPU thread, the TCG buffer, its binary. */
	feed(&c, synth_comm(&s, 500, 500, "qemu-system-x86", 1));
	feed(&c, synth_fork(&s, 500, 500, 501, 500));
	feed(&c, synth_comm(&s, 500, 501, "CPU 0/KVM", 0));
	feed(&c, synth_mmap2(&s, 500, 500, 0x7f0000000000ULL, 0x100000, 0, PROT_READ | PROT_WRITE | PROT_EXEC, "//anon"));
	feed(&c, synth_mmap2(&s, 500, 500, 0x555555554000ULL, 0x200000, 0, PROT_READ | PROT_EXEC, "/nonexistent/qemu-system-x86_64"));
	/* A vhost worker kernel thread for it. */
	feed(&c, synth_fork(&s, 600, 2, 600, 2));
	feed(&c, synth_comm(&s, 600, 600, "vhost-500", 0));
	/* A host shell. */
	feed(&c, synth_fork(&s, 700, 1, 700, 1));
	feed(&c, synth_comm(&s, 700, 700, "bash", 1));

	/* Guest kernel: tcp_v4_rcv + 0x10 at its runtime address. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_GUEST_KERNEL, 500, 501, 0xffffffff81a00010ULL + kaslr, 10, 1000, 1));
	/* Guest user space: no agent, so [guest user]. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_GUEST_USER, 500, 501, 0x401234, 20, 2000, 1));
	/* KVM exit handling in the host kernel on the vCPU thread. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 500, 501, 0xffffffff81000000ULL, 30, 3000, 1));
	/* vhost backend kernel work. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 600, 600, 0xffffffff81000000ULL, 40, 4000, 1));
	/* QEMU device emulation in its own binary. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 500, 500, 0x555555555000ULL, 50, 5000, 1));
	/* TCG-translated guest code on the vCPU thread. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 500, 501, 0x7f0000001000ULL, 60, 6000, 1));
	/* Host user and kernel. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 700, 700, 0x400000, 70, 7000, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 700, 700, 0xffffffff81000000ULL, 80, 8000, 1));
	/* A sample of an unknown event id is counted as bad, not added. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 700, 700, 0x400000, 90, 9000, 2));

	assert_int_equal(layer_period(&p, "web", LAYER_GUEST_KERNEL), 1000);
	assert_string_equal(symbol_at(&p, "web", LAYER_GUEST_KERNEL, &image), "tcp_v4_rcv");
	assert_string_equal(image, "[guest.kernel]");
	assert_int_equal(layer_period(&p, "web", LAYER_GUEST_USER), 2000);
	assert_string_equal(symbol_at(&p, "web", LAYER_GUEST_USER, &image), "[unknown]");
	assert_string_equal(image, "[guest user]");
	assert_int_equal(layer_period(&p, "web", LAYER_HYPERVISOR), 3000 + 4000);
	assert_int_equal(layer_period(&p, "web", LAYER_VMM), 5000);
	assert_string_equal(symbol_at(&p, "web", LAYER_VMM, &image), "[unknown]");
	assert_string_equal(image, "/nonexistent/qemu-system-x86_64");
	assert_int_equal(layer_period(&p, "web", LAYER_GUEST), 6000);
	assert_string_equal(symbol_at(&p, "web", LAYER_GUEST, &image), "[unknown]");
	assert_string_equal(image, "[guest code]");
	assert_int_equal(layer_period(&p, "host", LAYER_USER), 7000);
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 8000);
	assert_int_equal(layer_period(&p, "host", LAYER_HYPERVISOR), 0);
	assert_int_equal(c.bad_records, 1);
	assert_int_equal(c.stats[0].samples, 8);

	/* The vCPU thread is recorded with its role and index. */
	{
		bool found = false;
		for (size_t i = 0; i < p.n_threads; i++)
			if (p.threads[i].tid == 501 && streq(p.threads[i].comm, "CPU 0/KVM")) {
				assert_int_equal(p.threads[i].role, ROLE_VCPU);
				assert_int_equal(p.threads[i].vcpu, 0);
				assert_int_equal(p.threads[i].domain, profile__find_domain(&p, "web"));
				found = true;
			}
		assert_true(found);
	}
	/* The domain knows its VMM and accelerator (from the vCPU name). */
	{
		struct profile_domain *d = profile__domain_at(&p, profile__find_domain(&p, "web"));
		assert_true(d->is_vm);
		assert_int_equal(d->pid, 500);
		assert_string_equal(d->vmm, "qemu");
		assert_string_equal(d->accel, "kvm");
	}
	collector__release(&c);
	profile__release(&p);
}

static void test_guest_kallsyms_copy(void **state)
{
	/* A copy of the guest's /proc/kallsyms holds runtime addresses: no
	 * offset. And a VM found later than its --guest-kallsyms option. */
	struct profile p;
	struct collector c;
	struct synth s;
	struct guest_kernel_source g = { .vm_name = "db", .file = sysmap_path };
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	machine__add_guest_kernel(&c.machine, &g);
	machine__force_vm(&c.machine, "db", 900);
	feed(&c, synth_comm(&s, 900, 900, "qemu-system-x86", 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_GUEST_KERNEL, 900, 900, 0xffffffff81b00020ULL, 1, 500, 1));
	assert_string_equal(symbol_at(&p, "db", LAYER_GUEST_KERNEL, NULL), "virtnet_poll");
	collector__release(&c);
	profile__release(&p);
}

static void test_agent_kallsyms_text(void **state)
{
	/* What an agent ships: its /proc/kallsyms text, registered before the
	 * VM is known (the host reads /proc afterwards). */
	static const char text[] = "ffffffff8a000000 T _stext\nffffffff8a400000 T virtnet_poll\n"
				   "ffffffff8a400400 T napi_poll\n";
	struct profile p;
	struct collector c;
	struct synth s;
	struct guest_kernel_source g = { .vm_name = "agentvm", .text = (char *)text, .text_len = sizeof(text) - 1 };
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	machine__add_guest_kernel(&c.machine, &g);
	machine__force_vm(&c.machine, "agentvm", 950);
	feed(&c, synth_comm(&s, 950, 950, "qemu-system-x86", 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_GUEST_KERNEL, 950, 950, 0xffffffff8a400010ULL, 1, 500, 1));
	assert_string_equal(symbol_at(&p, "agentvm", LAYER_GUEST_KERNEL, NULL), "virtnet_poll");
	assert_int_equal(c.machine.n_warnings, 0);
	collector__release(&c);
	profile__release(&p);
}

static void test_vm_survives_rename(void **state)
{
	/* A VM found by its guest-mode samples stays a VM when its main
	 * thread renames itself (prctl), and goes back to the host on exec. */
	struct profile p;
	struct collector c;
	struct synth s;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 960, 960, "myvmm", 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_GUEST_KERNEL, 960, 960, 0x1000, 1, 100, 1));
	feed(&c, synth_comm(&s, 960, 960, "myvmm-main", 0));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 960, 960, 0xffffffff81000000ULL, 2, 200, 1));
	assert_int_equal(layer_period(&p, "vm-960", LAYER_HYPERVISOR), 200);
	assert_int_equal(c.machine.n_vms, 1);
	feed(&c, synth_comm(&s, 960, 960, "bash", 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 960, 960, 0xffffffff81000000ULL, 3, 300, 1));
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 300);
	collector__release(&c);
	profile__release(&p);
}

static void test_vmm_by_executable(void **state)
{
	/* A VMM known by its binary's name, not its comm (a symlink named
	 * kvm): the first executable mapping after its exec is that binary.
	 * It stays a VM through a prctl rename, its forked children are its,
	 * and a child that execs something else is the host's. A library
	 * mapped later says nothing of the process. */
	struct profile p;
	struct collector c;
	struct synth s;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 970, 970, "kvm", 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 970, 970, 0xffffffff81000000ULL, 1, 1, 1));
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 1);
	feed(&c, synth_mmap2(&s, 970, 970, 0x400000, 0x1000, 0, PROT_EXEC, "/usr/bin/qemu-system-x86_64"));
	feed(&c, synth_mmap2(&s, 970, 970, 0x500000, 0x1000, 0, PROT_EXEC, "/lib/ld-linux-x86-64.so.2"));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 970, 970, 0xffffffff81000000ULL, 2, 2, 1));
	assert_int_equal(layer_period(&p, "vm-970", LAYER_HYPERVISOR), 2);
	feed(&c, synth_comm(&s, 970, 970, "guest-main", 0));
	feed(&c, synth_fork(&s, 971, 970, 971, 970));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 970, 970, 0xffffffff81000000ULL, 3, 4, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 971, 971, 0xffffffff81000000ULL, 4, 8, 1));
	assert_int_equal(layer_period(&p, "vm-970", LAYER_HYPERVISOR), 2 + 4 + 8);
	feed(&c, synth_comm(&s, 971, 971, "sh", 1));
	feed(&c, synth_mmap2(&s, 971, 971, 0x400000, 0x1000, 0, PROT_EXEC, "/usr/bin/dash"));
	feed(&c, synth_mmap2(&s, 971, 971, 0x500000, 0x1000, 0, PROT_EXEC, "/opt/qemu-system-x86_64"));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 971, 971, 0xffffffff81000000ULL, 5, 16, 1));
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 1 + 16);
	assert_int_equal(c.machine.n_vms, 1);
	collector__release(&c);
	profile__release(&p);
}

static void test_unknown_vmm(void **state)
{
	/* Guest-mode samples from a process that does not look like a VMM
	 * (a custom VMM): it becomes VM vm-PID, its other threads follow. */
	struct profile p;
	struct collector c;
	struct synth s;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 800, 800, "myvmm", 1));
	feed(&c, synth_fork(&s, 800, 800, 801, 800));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_GUEST_USER, 800, 801, 0x1000, 1, 100, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 800, 800, 0xffffffff81000000ULL, 2, 200, 1));
	assert_int_equal(layer_period(&p, "vm-800", LAYER_GUEST_USER), 100);
	assert_int_equal(layer_period(&p, "vm-800", LAYER_HYPERVISOR), 200);
	collector__release(&c);
	profile__release(&p);
}

static void test_vm_started_later_and_exec(void **state)
{
	/* A shell forks and execs QEMU mid-recording: samples before the exec
	 * are host, after it the VM's. A second VM with the same name is kept
	 * apart. */
	struct profile p;
	struct collector c;
	struct synth s;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 1000, 1000, "bash", 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, 0xffffffff81000000ULL, 1, 10, 1));
	feed(&c, synth_comm(&s, 1000, 1000, "qemu-system-x86", 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, 0xffffffff81000000ULL, 2, 20, 1));
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 10);
	assert_int_equal(layer_period(&p, "vm-1000", LAYER_HYPERVISOR), 20);
	/* Maps: a later mapping over part of an earlier one splits it. */
	feed(&c, synth_mmap2(&s, 1000, 1000, 0x10000, 0x4000, 0, PROT_EXEC, "/a"));
	feed(&c, synth_mmap2(&s, 1000, 1000, 0x11000, 0x1000, 0, PROT_EXEC, "/b"));
	{
		struct thread *t = machine__thread(&c.machine, 1000, 1000);
		const struct map *m = process__find_map(t->proc, 0x10800);
		assert_string_equal(m->image->path, "/a");
		m = process__find_map(t->proc, 0x11800);
		assert_string_equal(m->image->path, "/b");
		m = process__find_map(t->proc, 0x12800);
		assert_string_equal(m->image->path, "/a");
		assert_int_equal(m->pgoff, 0x2000);
		assert_null(process__find_map(t->proc, 0x14000));
		/* Non-executable maps are ignored. */
		feed(&c, synth_mmap2(&s, 1000, 1000, 0x20000, 0x1000, 0, PROT_READ, "/data"));
		assert_null(process__find_map(t->proc, 0x20000));
	}
	collector__release(&c);
	profile__release(&p);
}

/* The sample cache is emptied by a new generation; when the generation
 * wraps, the slots are cleared, or a slot filled 2^32 generations ago
 * would be taken for a current one. */
static void test_cache_generation_wraps(void **state)
{
	struct profile p;
	struct collector c;
	struct synth s;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 1000, 1000, "bash", 1));
	/* Filled in generation 1. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, 0xffffffff81000000ULL, 1, 10, 1));
	assert_int_equal(c.cache_gen, 1);
	/* 2^32 - 2 generations later, each with a slot filled: the next
	 * side-band record wraps the generation back to 1. */
	c.cache_gen = UINT32_MAX;
	c.cache_dirty = true;
	feed(&c, synth_comm(&s, 1000, 1000, "qemu-system-x86", 1));
	assert_int_equal(c.cache_gen, 1);
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, 0xffffffff81000000ULL, 2, 20, 1));
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 10);
	assert_int_equal(layer_period(&p, "vm-1000", LAYER_HYPERVISOR), 20);
	/* And a hit within a generation counts where the miss did. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, 0xffffffff81000000ULL, 3, 40, 1));
	assert_int_equal(layer_period(&p, "vm-1000", LAYER_HYPERVISOR), 60);
	collector__release(&c);
	profile__release(&p);
}

static void reap(struct collector *c)
{
	uint32_t *exited = NULL;
	size_t n = 0;
	machine__reap(&c->machine, &exited, &n);
	free(exited);
}

static bool registry_has(const struct image_registry *r, const struct image *im)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->images[i] == im)
			return true;
	return false;
}

/* An ELF image no process maps leaves memory IMAGE_UNLOAD_GRACE reaps
 * after it was last mapped, not at the first: a program run again and
 * again keeps its symbols; one mapped again within the grace starts it
 * anew. Gone, its path mapped again is a new image on the same profile
 * row. */
static void test_image_unload_grace(void **state)
{
	struct profile p;
	struct collector c;
	struct synth s;
	struct image *im;
	uint32_t row = 0;
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 1000, 1000, "sh", 0));
	for (int run = 0; run < 2; run++) {
		pid_t pid = 1001 + run;
		feed(&c, synth_fork(&s, pid, 1000, pid, 1000));
		feed(&c, synth_comm(&s, pid, pid, "prog", 1));
		feed(&c, synth_mmap2(&s, pid, pid, 0x400000, 0x100000, 0, PROT_EXEC, exe));
		im = machine__thread(&c.machine, pid, pid)->proc->maps[0].image;
		assert_int_equal(image__load(im), 0);
		assert_true(im->loaded && im->symtab.n > 0);
		feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, pid, pid, 0x401000, 1, 1, 1));
		assert_int_not_equal(im->user_id, 0);
		if (!row)
			row = im->user_id;
		assert_int_equal(im->user_id, row);
		feed(&c, synth_exit(&s, pid, 1000, pid, 1000));
		/* The first reaps free the process; its image waits. */
		for (int i = 0; i < (run ? IMAGE_UNLOAD_GRACE - 1 : 3); i++) {
			reap(&c);
			assert_true(im->loaded);
		}
	}
	/* The grace counts from the reap that freed the second run's process
	 * (the second after its EXIT), IMAGE_UNLOAD_GRACE - 2 reaps ago. */
	reap(&c);
	assert_true(im->loaded);
	reap(&c);
	assert_true(im->loaded);
	reap(&c);
	assert_false(im->loaded);
	assert_int_equal(im->symtab.n, 0);
	assert_false(c.machine.unload_pending);
	/* Out of the registry, for the owner to free. */
	assert_false(registry_has(&c.machine.images, im));
	assert_int_equal(c.machine.n_gone_images, 1);
	assert_ptr_equal(c.machine.gone_images[0], im);
	machine__free_gone_images(&c.machine);
	/* The path again (as the hot-code ranking opens one): a new image,
	 * with a grace of its own; sampled, the same profile row. */
	im = image_registry__get(&c.machine.images, IMAGE_ELF, exe);
	assert_int_equal(im->user_id, 0);
	assert_int_equal(image__load(im), 0);
	feed(&c, synth_fork(&s, 1003, 1000, 1003, 1000));
	feed(&c, synth_mmap2(&s, 1003, 1003, 0x400000, 0x100000, 0, PROT_EXEC, exe));
	assert_ptr_equal(machine__thread(&c.machine, 1003, 1003)->proc->maps[0].image, im);
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 1003, 1003, 0x401000, 2, 1, 1));
	assert_int_equal(im->user_id, row);
	feed(&c, synth_exit(&s, 1003, 1000, 1003, 1000));
	for (int i = 0; i < IMAGE_UNLOAD_GRACE + 1; i++) {
		reap(&c);
		assert_true(im->loaded);
		assert_true(registry_has(&c.machine.images, im));
	}
	reap(&c);
	assert_false(registry_has(&c.machine.images, im));
	assert_int_equal(c.machine.n_gone_images, 1);
	/* The rest of them goes with the machine. */
	collector__release(&c);
	profile__release(&p);
}

/* This test program as a process pid (forked from a shell, pid 1000),
 * mapped at 0x400000 for len bytes, its symbols loaded: its image. */
static struct image *run_self(struct collector *c, struct synth *s, pid_t pid, uint64_t len)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct image *im;
	assert_true(n > 0);
	exe[n] = '\0';
	feed(c, synth_comm(s, 1000, 1000, "sh", 0));
	feed(c, synth_fork(s, pid, 1000, pid, 1000));
	feed(c, synth_mmap2(s, pid, pid, 0x400000, len, 0, PROT_EXEC, exe));
	im = machine__thread(&c->machine, pid, pid)->proc->maps[0].image;
	assert_int_equal(image__load(im), 0);
	return im;
}

/* A sampled file without a build-id keeps its record (without symbols)
 * past the grace while its profile row lives: the end of the recording
 * reads its code by that record's path; once the row is gone (a
 * rotation), so is the record. */
static void test_image_without_build_id_kept(void **state)
{
	struct profile p;
	struct collector c;
	struct synth s;
	struct image *im;
	(void)state;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	im = run_self(&c, &s, 1001, 0x100000);
	im->build_id[0] = '\0'; /* as a file linked without one */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 1001, 1001, 0x401000, 1, 1, 1));
	assert_int_not_equal(im->user_id, 0);
	feed(&c, synth_exit(&s, 1001, 1000, 1001, 1000));
	for (int i = 0; i < IMAGE_UNLOAD_GRACE + 3; i++)
		reap(&c);
	assert_true(registry_has(&c.machine.images, im));
	assert_false(im->loaded);
	assert_int_equal(c.machine.n_gone_images, 0);
	machine__forget_profile_ids(&c.machine);
	reap(&c);
	assert_false(registry_has(&c.machine.images, im));
	assert_int_equal(c.machine.n_gone_images, 1);
	collector__release(&c);
	profile__release(&p);
}

/* A process that exited leaves memory a whole flush after its EXIT, with
 * its thread row and counters (their period kept for the hot-code
 * ranking); what is alive stays; a pid used again is a new row. */
static void test_exited_threads_leave_memory(void **state)
{
	struct profile p;
	struct collector c;
	struct synth s;
	size_t threads;
	uint32_t old_id;
	(void)state;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 1000, 1000, "bash", 0));
	feed(&c, synth_fork(&s, 1001, 1000, 1001, 1000));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, 0xffffffff81000000ULL, 1, 5, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1001, 1001, 0xffffffff81000000ULL, 2, 10, 1));
	old_id = machine__thread(&c.machine, 1001, 1001)->profile_id;
	assert_int_not_equal(old_id, 0);
	threads = c.machine.n_threads;
	feed(&c, synth_exit(&s, 1001, 1000, 1001, 1000));
	profile__mark_written(&p); /* as a flush does */
	/* The flush right after the EXIT keeps it: samples of the task may
	 * still be in other rings. */
	collector__forget(&c);
	assert_int_equal(c.machine.n_threads, threads);
	assert_int_equal(profile__n_live_samples(&p), 2);
	/* One flush later it is gone, and its counter with it. */
	collector__forget(&c);
	assert_int_equal(c.machine.n_threads, threads - 1);
	assert_int_equal(profile__n_live_samples(&p), 1);
	assert_int_equal(c.dropped_total[0], 10);
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 5);
	/* The pid again, as a new process: a new row, counted anew. */
	feed(&c, synth_fork(&s, 1001, 1000, 1001, 1000));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1001, 1001, 0xffffffff81000000ULL, 3, 7, 1));
	assert_true(machine__thread(&c.machine, 1001, 1001)->profile_id > old_id);
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 12);
	collector__release(&c);
	profile__release(&p);
}

/* One flush as the recorder does it: written, then forgotten. */
static void flush_and_forget(struct collector *c)
{
	profile__mark_written(c->profile);
	collector__forget(c);
}

/* A live thread's counter that has not changed for COLLECTOR_IDLE_FLUSHES
 * flushes leaves memory (its period kept for the hot-code ranking); the
 * one it still counts stays; the address counted again is a new counter
 * (a second row in the session). A thread that runs new code all the time
 * holds the counters of a minute's worth of flushes, not of its life. */
static void test_idle_counters_leave_memory(void **state)
{
	const uint64_t base = 0xffffffff81000000ULL;
	struct profile p;
	struct collector c;
	struct synth s;
	uint64_t t = 1, fed = 0;
	size_t peak = 0;
	(void)state;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 1000, 1000, "daemon", 0));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, base + 0x100, t++, 7, 1));
	fed += 7;
	/* The hot address every flush, the cold one never again. */
	for (int i = 0; i < COLLECTOR_IDLE_FLUSHES - 1; i++) {
		feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, base, t++, 1, 1));
		fed++;
		flush_and_forget(&c);
	}
	assert_int_equal(profile__n_live_samples(&p), 2);
	assert_int_equal(c.dropped_total[0], 0);
	for (int i = 0; i < COLLECTOR_IDLE_SCAN + 1; i++) {
		feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, base, t++, 1, 1));
		fed++;
		flush_and_forget(&c);
	}
	assert_int_equal(profile__n_live_samples(&p), 1);
	assert_int_equal(c.dropped_total[0], 7);
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL) + c.dropped_total[0], fed);
	/* Counted again: a new counter, from zero. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, base + 0x100, t++, 3, 1));
	fed += 3;
	assert_int_equal(profile__n_live_samples(&p), 2);
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL) + c.dropped_total[0], fed);
	/* A new address every flush for a long time: the live counters stay
	 * within what the last COLLECTOR_IDLE_FLUSHES + COLLECTOR_IDLE_SCAN
	 * flushes counted, and nothing is lost. */
	for (int i = 0; i < 20 * COLLECTOR_IDLE_FLUSHES; i++) {
		feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1000, 1000, base + 0x1000 + 16 * (uint64_t)i, t++, 2, 1));
		fed += 2;
		flush_and_forget(&c);
		peak = MAX(peak, profile__n_live_samples(&p));
	}
	assert_true(peak <= COLLECTOR_IDLE_FLUSHES + COLLECTOR_IDLE_SCAN + 2);
	assert_true(peak >= COLLECTOR_IDLE_FLUSHES);
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL) + c.dropped_total[0], fed);
	/* Slots are reused: the table holds no more than the peak. */
	assert_true(p.n_samples <= peak + 1);
	collector__release(&c);
	profile__release(&p);
}

/* The file offset of this program's function name (mapped at 0x400000
 * by run_self), and its symbol. */
static uint64_t self_offset(struct image *im, const char *name, const struct symbol **ret)
{
	for (size_t i = 0; i < im->symtab.n; i++)
		if (streq(symtab__name(&im->symtab, &im->symtab.syms[i]), name)) {
			*ret = &im->symtab.syms[i];
			return (*ret)->start - (elf_info__offset_to_vaddr(&im->info, (*ret)->start) - (*ret)->start);
		}
	fail_msg("no function %s in this program", name);
	return 0;
}

/* The code of a hot function in a program that exited and whose image
 * left memory is still captured at the end (annotate): the file is
 * opened again by its path, since its build-id is the one recorded; with
 * another build-id recorded, it is not read. */
static void test_code_of_gone_image(void **state)
{
	struct profile p;
	struct collector c;
	struct synth s;
	struct image *im;
	const struct symbol *sym = NULL;
	struct symbol_code *codes;
	uint64_t off;
	uint32_t row;
	size_t n;
	(void)state;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	im = run_self(&c, &s, 1001, 0x10000000);
	assert_true(im->build_id[0]);
	off = self_offset(im, "main", &sym);
	assert_non_null(sym);
	assert_int_equal(elf_info__offset_to_vaddr(&im->info, off), sym->start);
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 1001, 1001, 0x400000 + off, 1, 100, 1));
	row = im->user_id;
	assert_int_not_equal(row, 0);
	feed(&c, synth_exit(&s, 1001, 1000, 1001, 1000));
	for (int i = 0; i < IMAGE_UNLOAD_GRACE + 3; i++)
		flush_and_forget(&c);
	for (size_t i = 0; i < c.machine.images.n; i++)
		assert_int_not_equal(c.machine.images.images[i]->user_id, row);
	n = collector__collect_code(&c, 4, 0.01, &codes);
	assert_int_equal(n, 1);
	assert_string_equal(p.symbols[codes[0].symbol - 1].name, "main");
	assert_int_equal(codes[0].len, p.symbols[codes[0].symbol - 1].size);
	symbol_codes__free(codes, n);
	/* Another build-id recorded: another file, not read. */
	memset(p.images[row - 1].build_id, 'f', 40);
	n = collector__collect_code(&c, 4, 0.01, &codes);
	assert_int_equal(n, 0);
	symbol_codes__free(codes, n);
	collector__release(&c);
	profile__release(&p);
}

static uint32_t profile_symbol_named(const struct profile *p, const char *name)
{
	for (size_t i = 0; i < p->n_symbols; i++)
		if (streq(p->symbols[i].name, name))
			return (uint32_t)i + 1;
	return 0;
}

/* An agent's catalog compaction (collector__compact): what a live counter
 * names stays, so does a function hot enough for the end-of-run code
 * whose counters all left (its thread exited); a cold one of an exited
 * thread goes. The machine's cached ids follow (the image's and each
 * function's, 0 for one that went), the hot one's code is still picked,
 * and the cold one sampled again is a new row of its own name. */
static void test_compact_catalog(void **state)
{
	struct profile p;
	struct collector c;
	struct profile_catalog_map keep;
	struct synth s;
	struct image *im;
	const struct symbol *hot, *live, *cold;
	uint64_t off_hot, off_live, off_cold;
	struct symbol_code *codes;
	uint32_t row_cold;
	size_t n;
	(void)state;
	profile__init(&p);
	collector__init(&c, &p, 1, false);
	im = run_self(&c, &s, 1001, 0x10000000);
	run_self(&c, &s, 1002, 0x10000000);
	off_hot = self_offset(im, "main", &hot);
	off_live = self_offset(im, "test_vm_attribution", &live);
	off_cold = self_offset(im, "test_idle_lists", &cold);
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 1001, 1001, 0x400000 + off_hot, 1, 1000000, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 1001, 1001, 0x400000 + off_cold, 2, 100, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 1002, 1002, 0x400000 + off_live, 3, 100, 1));
	row_cold = cold->user_id;
	assert_int_not_equal(row_cold, 0);
	feed(&c, synth_exit(&s, 1001, 1000, 1001, 1000));
	flush_and_forget(&c);
	flush_and_forget(&c); /* reaped: its counters left */
	assert_int_equal(profile__n_live_samples(&p), 1);

	n = collector__compact(&c, &keep);
	profile_catalog_map__release(&keep);
	assert_int_equal(n, 1); /* the cold function; the image and the others stay */
	assert_int_equal(profile_symbol_named(&p, "test_idle_lists"), 0);
	assert_int_equal(hot->user_id, profile_symbol_named(&p, "main"));
	assert_int_equal(live->user_id, profile_symbol_named(&p, "test_vm_attribution"));
	assert_int_not_equal(hot->user_id, 0);
	assert_int_equal(cold->user_id, 0);
	assert_true(im->user_id && im->user_id <= p.n_images && streq(p.images[im->user_id - 1].path, im->path));
	for (size_t i = 0; i < p.n_samples; i++)
		if (p.samples[i].key.event)
			assert_int_equal(p.samples[i].key.symbol, live->user_id);
	/* The hot function's code is still picked at the end. */
	n = collector__collect_code(&c, 4, CODE_HOT_MIN_SHARE, &codes);
	assert_int_equal(n, 1);
	assert_string_equal(p.symbols[codes[0].symbol - 1].name, "main");
	symbol_codes__free(codes, n);
	/* The cold one again: a new row, named as it was. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_USER, 1002, 1002, 0x400000 + off_cold, 4, 100, 1));
	assert_int_not_equal(cold->user_id, 0);
	assert_string_equal(p.symbols[cold->user_id - 1].name, "test_idle_lists");
	collector__release(&c);
	profile__release(&p);
}

static bool profile_has_thread(const struct profile *p, uint32_t id)
{
	for (size_t i = 0; i < p->n_threads; i++)
		if (p->threads[i].id == id)
			return true;
	return false;
}

/* A pid used again, with the same name, before the old process was
 * reaped: both tasks name one profile row. Reaping the old one leaves the
 * row (the new one's samples still name it; an agent would otherwise
 * forget a thread its next samples name, and with reused thread ids give
 * its id to another); it goes with the last task that names it. */
static void test_reused_pid_keeps_row(void **state)
{
	struct profile p;
	struct collector c;
	struct synth s;
	uint32_t id;
	(void)state;
	profile__init(&p);
	p.track_drops = p.reuse_thread_ids = true; /* as an agent's */
	collector__init(&c, &p, 1, false);
	feed(&c, synth_comm(&s, 1000, 1000, "bash", 0));
	feed(&c, synth_fork(&s, 1001, 1000, 1001, 1000));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1001, 1001, 0xffffffff81000000ULL, 1, 10, 1));
	id = machine__thread(&c.machine, 1001, 1001)->profile_id;
	feed(&c, synth_exit(&s, 1001, 1000, 1001, 1000));
	feed(&c, synth_fork(&s, 1001, 1000, 1001, 1000));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1001, 1001, 0xffffffff81000000ULL, 2, 10, 1));
	assert_int_equal(machine__thread(&c.machine, 1001, 1001)->profile_id, id);
	profile__mark_written(&p);
	collector__forget(&c);
	collector__forget(&c); /* the old task is reaped */
	assert_true(profile_has_thread(&p, id));
	assert_int_equal(p.dropped_threads.n, 0);
	assert_int_equal(p.n_free_thread_ids, 0);
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1001, 1001, 0xffffffff81000000ULL, 3, 10, 1));
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 30);
	/* The new task exits: the row goes, and its id is free for the next. */
	feed(&c, synth_exit(&s, 1001, 1000, 1001, 1000));
	profile__mark_written(&p);
	collector__forget(&c);
	collector__forget(&c);
	assert_false(profile_has_thread(&p, id));
	assert_int_equal(p.n_free_thread_ids, 1);
	feed(&c, synth_fork(&s, 1002, 1000, 1002, 1000));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 1002, 1002, 0xffffffff81000000ULL, 4, 1, 1));
	assert_int_equal(machine__thread(&c.machine, 1002, 1002)->profile_id, id);
	collector__release(&c);
	profile__release(&p);
}

/* The host kernel's symbols from a kallsyms text, as if read from
 * /proc/kallsyms. */
static void load_host_kernel(struct collector *c, const char *text)
{
	struct image *k = image_registry__host_kernel(&c->machine.images);
	assert_int_equal(image__load_guest_kernel_text(k, text, strlen(text)), 0);
}

static void test_idle_attribution(void **state)
{
	/* Each idle-task (pid 0) sample lands on its own function, with its
	 * own period (powers of two: every sum names its parts). */
	static const char kallsyms[] = "ffffffff81000000 T _stext\n"
				       "ffffffff81001000 T intel_idle\n"
				       "ffffffff81002000 t mwait_idle_with_hints.constprop.0\n"
				       "ffffffff81003000 T do_idle\n"
				       "ffffffff81004000 T __do_softirq\n"
				       "ffffffff81005000 T idle_cpu\n"
				       "ffffffff81006000 T net_rx_action\n"
				       "ffffffff81007000 T schedule_idle\n"
				       "ffffffff81008000 T vmx_vcpu_run\n"
				       "ffffffffc0001000 t acpi_idle_do_entry\t[processor]\n";
	struct profile p;
	struct collector c;
	struct synth s;
	uint32_t idle;

	profile__init(&p);
	collector__init(&c, &p, 1, false);
	load_host_kernel(&c, kallsyms);
	machine__force_vm(&c.machine, "idle", 950); /* a VM may not take the name */
	feed(&c, synth_comm(&s, 950, 950, "qemu-system-x86", 1));
	feed(&c, synth_comm(&s, 700, 700, "bash", 1));

	/* The idle loop: idle routines (a compiler clone and a module's
	 * included) and the loop's own bookkeeping. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81001010ULL, 1, 1, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81002010ULL, 2, 2, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81003010ULL, 3, 4, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffffc0001010ULL, 4, 8, 1));
	/* Work on an idle CPU: a softirq, the network receive it runs, the
	 * scheduler's helpers, and an address no symbol covers. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81004010ULL, 5, 16, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81006010ULL, 6, 32, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81005010ULL, 7, 64, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81007010ULL, 8, 128, 1));
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff70000000ULL, 9, 256, 1));
	/* An idle routine on another task (idle injection): not the idle task. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 700, 700, 0xffffffff81001010ULL, 10, 512, 1));
	/* A VM's kernel work is its hypervisor layer, as before. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 950, 950, 0xffffffff81008010ULL, 11, 1024, 1));
	/* The same idle address again: the collector's cache keeps it idle. */
	feed(&c, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 0, 0, 0xffffffff81001010ULL, 12, 2048, 1));

	idle = profile__find_domain(&p, "idle");
	assert_true(idle != 0);
	assert_true(profile__domain_at(&p, idle)->is_idle);
	assert_false(profile__domain_at(&p, idle)->is_vm);
	assert_int_equal(layer_period(&p, "idle", LAYER_IDLE), 1 + 2 + 4 + 8 + 2048);
	assert_int_equal(layer_period(&p, "idle", LAYER_KERNEL), 0);
	assert_int_equal(layer_period(&p, "host", LAYER_KERNEL), 16 + 32 + 64 + 128 + 256 + 512);
	assert_int_equal(layer_period(&p, "host", LAYER_IDLE), 0);
	assert_int_equal(layer_period(&p, "idle-950", LAYER_HYPERVISOR), 1024);
	assert_true(profile__domain_at(&p, profile__find_domain(&p, "idle-950"))->is_vm);
	/* The idle samples keep their function and the idle task's thread. */
	for (size_t i = 0; i < p.n_samples; i++) {
		const struct sample_key *k = &p.samples[i].key;
		if (k->domain != idle)
			continue;
		assert_true(k->symbol != 0);
		assert_true(idle__is_loop_function(p.symbols[k->symbol - 1].name));
		assert_int_equal(p.threads[k->thread - 1].pid, 0);
	}
	collector__release(&c);
	profile__release(&p);
}

/* Sorted and unique: the lookup is a binary search. */
static void assert_sorted(const char *const *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(v[i - 1], v[i]) < 0);
}

static void test_idle_lists(void **state)
{
	size_t n;
	const char *const *v = idle__loop_functions(&n);
	assert_sorted(v, n);
	v = idle__halt_functions(&n);
	assert_sorted(v, n);
	/* perf's reference list (tools/perf/util/symbol.c), less idle_cpu. */
	assert_true(idle__is_loop_function("acpi_idle_do_entry"));
	assert_true(idle__is_loop_function("acpi_processor_ffh_cstate_enter"));
	assert_true(idle__is_loop_function("arch_cpu_idle"));
	assert_true(idle__is_loop_function("cpu_startup_entry"));
	assert_true(idle__is_loop_function("default_idle"));
	assert_true(idle__is_loop_function("native_safe_halt"));
	assert_true(idle__is_loop_function("poll_idle"));
	assert_true(idle__is_loop_function("intel_idle_irq"));
	assert_true(idle__is_loop_function("mwait_idle_with_hints.constprop.0"));
	assert_true(idle__is_loop_function(".pseries_dedicated_idle_sleep")); /* ppc64 dot symbol */
	assert_false(idle__is_loop_function("idle_cpu"));
	assert_false(idle__is_loop_function("intel_idle_foo"));
	assert_false(idle__is_loop_function("__do_softirq"));
	assert_false(idle__is_loop_function(""));
	assert_false(idle__is_loop_function(NULL));
	assert_true(idle__is_halt_function("kvm_vcpu_halt"));
	assert_true(idle__is_halt_function("kvm_vcpu_check_block.isra.0"));
	assert_false(idle__is_halt_function("vmx_vcpu_run"));
	assert_true(domain_name__is_reserved("idle") && domain_name__is_reserved("host"));
	assert_false(domain_name__is_reserved("idle-950"));

	/* docs/attribution.md lists every name of both lists. */
	{
		const char *root = getenv("SOURCE_ROOT");
		char path[512];
		char *doc = NULL;
		size_t len;
		if (!root)
			return; /* run outside meson test: no source tree known */
		snprintf(path, sizeof(path), "%s/docs/attribution.md", root);
		assert_int_equal(read_file(path, &doc, &len), 0);
		for (int list = 0; list < 2; list++) {
			v = list ? idle__halt_functions(&n) : idle__loop_functions(&n);
			for (size_t i = 0; i < n; i++) {
				char quoted[128];
				snprintf(quoted, sizeof(quoted), "`%s`", v[i]);
				if (!strstr(doc, quoted))
					fail_msg("docs/attribution.md does not list %s", v[i]);
			}
		}
		free(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_attribution),
		cmocka_unit_test(test_guest_kallsyms_copy),
		cmocka_unit_test(test_vmm_by_executable),
		cmocka_unit_test(test_unknown_vmm),
		cmocka_unit_test(test_agent_kallsyms_text),
		cmocka_unit_test(test_vm_survives_rename),
		cmocka_unit_test(test_vm_started_later_and_exec),
		cmocka_unit_test(test_cache_generation_wraps),
		cmocka_unit_test(test_image_unload_grace),
		cmocka_unit_test(test_idle_attribution),
		cmocka_unit_test(test_idle_lists),
		cmocka_unit_test(test_exited_threads_leave_memory),
		cmocka_unit_test(test_idle_counters_leave_memory),
		cmocka_unit_test(test_code_of_gone_image),
		cmocka_unit_test(test_compact_catalog),
		cmocka_unit_test(test_image_without_build_id_kept),
		cmocka_unit_test(test_reused_pid_keeps_row),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
