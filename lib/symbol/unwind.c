/* Unwinding sampled user stacks with libdwfl; see unwind.h.
 *
 * libdwfl unwinds a "thread" of a "process" it is attached to: the process
 * is a Dwfl with the modules of one address space and callbacks to read
 * its memory; the thread gives the initial registers. Here the process is
 * kept per pid and attached once; every sample is one short-lived thread
 * whose registers and memory are the sample's. Modules are reported
 * lazily, on the first frame that lands in them, at the load bias the
 * caller's mapping gives (mapping start minus the virtual address of its
 * file offset), so a process costs the CFI of the images its samples
 * actually pass through.
 *
 * Each image's ELF is opened once per unwinder and shared by every
 * process's Dwfl (libelf counts the references to one descriptor): its
 * section headers, .eh_frame_hdr and .eh_frame are read once, however many
 * processes map it, and a short-lived process costs no open, mapping and
 * unmapping of its libraries. It is closed when the image leaves memory
 * (no process has mapped it for a while: unwinder__forget_images), after
 * the Dwfls that reported it.
 *
 * libdwfl falls back to following frame pointers on x86_64 when a frame
 * has no CFI; in code built without them that would invent callers. The
 * frame callback therefore checks that a frame's pc is covered by CFI
 * before letting the walk continue past it, and stops the walk otherwise. */
#define _GNU_SOURCE
#include "unwind.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif

#include "../util/hmap.h"
#include "../util/util.h"

#define SPACE_BUCKETS 1024
/* Direct-mapped cache of pcs whose CFI was found, per space generation:
 * a hot stack passes the same few return addresses every sample. */
#define CFI_CACHE_SLOTS 4096
/* Mappings that could not be reported, remembered per space so that a
 * file that cannot be read is not opened again for every sample. */
#define MAX_FAILED_MAPS 64
/* Mappings reported to a space, remembered to check them when the
 * process's mappings change; a space with more is rebuilt instead. */
#define MAX_REPORTED_MAPS 256

struct reported_map {
	uint64_t start, pgoff;
	struct image *image;
};

struct unwind_space {
	uint32_t pid;
	uint64_t generation; /* unique per Dwfl made: keys the CFI cache */
	Dwfl *dwfl;
	bool attached;
	uint64_t last_used;
	struct unwind_space *next; /* bucket chain */
	struct unwinder *u;
	uint64_t failed[MAX_FAILED_MAPS];
	size_t n_failed;
	struct reported_map reported[MAX_REPORTED_MAPS];
	size_t n_reported;
	bool too_many_reported;
	bool maps_changed; /* since the last walk: check the reported ones */
};

/* The walk in progress (one at a time). */
struct unwind_walk {
	const struct unwind_sample *s;
	uint64_t sp;
	unwind_find_map_fn find_map;
	void *ctx;
	uint64_t *ips;
	size_t n, max;
	enum unwind_end end;
	bool end_set;
	/* libdwfl reads memory for every register rule of a frame, and a
	 * failed read of a register the walk does not need is harmless (a
	 * stale pointer below the stack); a read above the copy means the
	 * stack went on past it, and the registers that walk needed from
	 * there are missing. */
	bool past_copy;
};

/* One image's ELF, opened once (see the top of this file). */
struct image_elf {
	struct image *image;
	Elf *elf;            /* NULL: it could not be read (not retried) */
	void *memory;        /* the vdso's bytes, which elf reads in place */
	uint64_t first_vaddr; /* of the first PT_LOAD, aligned down as libdwfl does */
	uint64_t end_vaddr;   /* end of the last PT_LOAD */
};

struct cfi_slot {
	uint64_t generation;
	uint64_t pc;
};

struct unwinder {
	struct unwind_space *buckets[SPACE_BUCKETS];
	size_t n_spaces;
	uint64_t clock;
	uint64_t generations;
	struct unwind_walk walk;
	struct image_elf **elfs;
	size_t n_elfs, cap_elfs;
	struct hmap elf_index; /* by image pointer */
	struct cfi_slot *cfi_cache;
	struct unwind_stats stats;
};

static char *debuginfo_path;

/* Separate debuginfo (by build-id, or debuglink) only for files without
 * .eh_frame: for the others it has the same CFI, and libdwfl would load
 * it (decompressing its .debug_frame) in every process whose walk fails
 * in that file, which cost more than all the walks together. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	Dwarf_Addr bias;
	if (dwfl_module_eh_cfi(mod, &bias))
		return -1;
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file, debuglink_crc,
					    debuginfo_file_name);
}

/* The module's ELF: the image's shared descriptor, one more reference. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base, char **file_name,
		    Elf **elfp)
{
	const struct image_elf *e = *userdata;
	(void)mod;
	(void)modname;
	(void)base;
	(void)file_name;
	if (e && e->elf)
		*elfp = elf_begin(-1, ELF_C_READ_MMAP, e->elf);
	return -1; /* no descriptor for libdwfl to close */
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

#if defined(__x86_64__)
/* DWARF register n of x86_64 (the psABI's numbering) is perf register
 * dwarf_to_perf[n]; 16 is the return address column, the IP. */
static const unsigned dwarf_to_perf[] = {
	PERF_REG_X86_AX, PERF_REG_X86_DX, PERF_REG_X86_CX, PERF_REG_X86_BX, PERF_REG_X86_SI, PERF_REG_X86_DI,
	PERF_REG_X86_BP, PERF_REG_X86_SP, PERF_REG_X86_R8, PERF_REG_X86_R9, PERF_REG_X86_R10, PERF_REG_X86_R11,
	PERF_REG_X86_R12, PERF_REG_X86_R13, PERF_REG_X86_R14, PERF_REG_X86_R15, PERF_REG_X86_IP,
};
#define REG_IP PERF_REG_X86_IP
#define REG_SP PERF_REG_X86_SP
#define DWARF_NREGS (sizeof(dwarf_to_perf) / sizeof(dwarf_to_perf[0]))
#else
static const unsigned dwarf_to_perf[1];
#define REG_IP 0
#define REG_SP 0
#define DWARF_NREGS 0
#endif

static bool user_reg(const struct unwind_sample *s, unsigned reg, uint64_t *ret)
{
	unsigned idx;
	if (reg >= 64 || !(s->regs_mask & (1ULL << reg)))
		return false;
	idx = (unsigned)__builtin_popcountll(s->regs_mask & ((1ULL << reg) - 1));
	if (idx >= s->regs_nr)
		return false;
	memcpy(ret, s->regs + (size_t)idx * 8, 8);
	return true;
}

bool unwind_sample__ip(const struct unwind_sample *s, uint64_t *ret) { return DWARF_NREGS && user_reg(s, REG_IP, ret); }

int unwinder__new(struct unwinder **ret)
{
	struct unwinder *u;
	if (!DWARF_NREGS)
		return -EOPNOTSUPP;
	u = xcalloc(1, sizeof(*u));
	hmap_init(&u->elf_index);
	u->cfi_cache = xcalloc(CFI_CACHE_SLOTS, sizeof(*u->cfi_cache));
	*ret = u;
	return 0;
}

static void space_free(struct unwind_space *sp)
{
	if (sp->dwfl)
		dwfl_end(sp->dwfl);
	free(sp);
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	for (size_t b = 0; b < SPACE_BUCKETS; b++) {
		struct unwind_space *sp = u->buckets[b], *next;
		for (; sp; sp = next) {
			next = sp->next;
			space_free(sp);
		}
	}
	/* After every Dwfl: they hold references to these. */
	for (size_t i = 0; i < u->n_elfs; i++) {
		if (u->elfs[i]->elf)
			elf_end(u->elfs[i]->elf);
		free(u->elfs[i]->memory);
		free(u->elfs[i]);
	}
	free(u->elfs);
	hmap_release(&u->elf_index);
	free(u->cfi_cache);
	free(u);
}

static void space_unlink(struct unwinder *u, struct unwind_space *victim)
{
	struct unwind_space **pp = &u->buckets[victim->pid % SPACE_BUCKETS];
	for (; *pp; pp = &(*pp)->next)
		if (*pp == victim) {
			*pp = victim->next;
			u->n_spaces--;
			space_free(victim);
			return;
		}
}

void unwinder__forget(struct unwinder *u, uint32_t pid)
{
	struct unwind_space *sp;
	if (!u)
		return;
	for (sp = u->buckets[pid % SPACE_BUCKETS]; sp; sp = sp->next)
		if (sp->pid == pid) {
			space_unlink(u, sp);
			return;
		}
}

static uint64_t image_elf_hash(const struct image *im) { return (uint64_t)(uintptr_t)im * 0x9e3779b97f4a7c15ULL; }

/* A space whose Dwfl may hold a module of one of gone: one it reported,
 * or one that reported more than it remembers. */
static bool space_uses(const struct unwind_space *sp, struct image *const *gone, size_t n)
{
	if (sp->too_many_reported)
		return true;
	for (size_t i = 0; i < sp->n_reported; i++)
		if (image__in(sp->reported[i].image, gone, n))
			return true;
	return false;
}

void unwinder__forget_images(struct unwinder *u, struct image *const *gone, size_t n)
{
	size_t kept = 0, closed = 0;
	if (!u || !n)
		return;
	/* Only a module of an opened ELF is ever reported: none, nothing. */
	for (size_t i = 0; i < u->n_elfs && !closed; i++)
		closed += image__in(u->elfs[i]->image, gone, n);
	if (!closed)
		return;
	for (size_t b = 0; b < SPACE_BUCKETS; b++) {
		struct unwind_space *sp = u->buckets[b], *next;
		for (; sp; sp = next) {
			next = sp->next;
			if (space_uses(sp, gone, n))
				space_unlink(u, sp);
		}
	}
	/* After the Dwfls that held them. */
	for (size_t i = 0; i < u->n_elfs; i++) {
		struct image_elf *e = u->elfs[i];
		if (!image__in(e->image, gone, n)) {
			u->elfs[kept++] = e;
			continue;
		}
		if (e->elf)
			elf_end(e->elf);
		free(e->memory);
		free(e);
	}
	u->n_elfs = kept;
	hmap_release(&u->elf_index);
	for (size_t i = 0; i < u->n_elfs; i++)
		hmap_insert(&u->elf_index, image_elf_hash(u->elfs[i]->image), (uint32_t)i);
}

void unwinder__maps_changed(struct unwinder *u, uint32_t pid)
{
	struct unwind_space *sp;
	if (!u)
		return;
	for (sp = u->buckets[pid % SPACE_BUCKETS]; sp; sp = sp->next)
		if (sp->pid == pid) {
			sp->maps_changed = true;
			return;
		}
}

/* After the process's mappings changed: whether every module reported is
 * still mapped where it was. A new mapping elsewhere changes nothing
 * reported (it is reported when a frame lands in it); one that replaced
 * a reported module makes the space stale. */
static bool space_still_valid(struct unwind_space *sp)
{
	struct unwind_walk *w = &sp->u->walk;
	if (sp->too_many_reported)
		return false;
	for (size_t i = 0; i < sp->n_reported; i++) {
		const struct reported_map *r = &sp->reported[i];
		struct unwind_map m;
		if (!w->find_map(w->ctx, r->start, &m) || m.start != r->start || m.pgoff != r->pgoff || m.image != r->image)
			return false;
	}
	sp->n_failed = 0; /* a mapping that failed may be another one now */
	sp->maps_changed = false;
	return true;
}

static void evict_oldest(struct unwinder *u)
{
	struct unwind_space *oldest = NULL;
	for (size_t b = 0; b < SPACE_BUCKETS; b++)
		for (struct unwind_space *sp = u->buckets[b]; sp; sp = sp->next)
			if (!oldest || sp->last_used < oldest->last_used)
				oldest = sp;
	if (oldest)
		space_unlink(u, oldest);
}

static struct unwind_space *space_get(struct unwinder *u, uint32_t pid)
{
	struct unwind_space *sp;
	for (sp = u->buckets[pid % SPACE_BUCKETS]; sp; sp = sp->next)
		if (sp->pid == pid)
			break;
	if (!sp) {
		Dwfl *dwfl = dwfl_begin(&dwfl_callbacks);
		if (!dwfl)
			return NULL;
		if (u->n_spaces >= UNWINDER_MAX_SPACES)
			evict_oldest(u);
		sp = xcalloc(1, sizeof(*sp));
		sp->pid = pid;
		sp->dwfl = dwfl;
		sp->u = u;
		sp->generation = ++u->generations;
		sp->next = u->buckets[pid % SPACE_BUCKETS];
		u->buckets[pid % SPACE_BUCKETS] = sp;
		u->n_spaces++;
		u->stats.spaces_created++;
	}
	sp->last_used = ++u->clock;
	return sp;
}

/* Open an image's ELF: the file, or for the vdso a copy of this
 * process's, which is every process's (the caller only hands out vdso
 * mappings of this kernel). The PT_LOAD range is what libdwfl places a
 * module by. */
static void image_elf_open(struct image_elf *e)
{
	struct image *im = e->image;
	size_t n;
	bool first = true;
	if (im->kind == IMAGE_VDSO) {
		const void *data;
		size_t size;
		if (vdso__self(&data, &size) < 0)
			return;
		e->memory = xmalloc(size);
		memcpy(e->memory, data, size);
		e->elf = elf_memory(e->memory, size);
	} else {
		int fd = open(im->load_path ? im->load_path : im->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return;
		e->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		/* All of it is mapped: the descriptor is not needed again. */
		if (e->elf)
			elf_cntl(e->elf, ELF_C_FDDONE);
		close(fd);
	}
	if (e->elf && (elf_kind(e->elf) != ELF_K_ELF || elf_getphdrnum(e->elf, &n) != 0))
		n = 0;
	for (size_t i = 0; e->elf && i < n && i < 4096; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (first)
			e->first_vaddr = ph.p_vaddr & -(ph.p_align ? ph.p_align : 1);
		first = false;
		e->end_vaddr = MAX(e->end_vaddr, ph.p_vaddr + ph.p_memsz);
	}
	if (e->elf && first) {
		elf_end(e->elf);
		e->elf = NULL;
	}
}

static struct image_elf *image_elf(struct unwinder *u, struct image *im)
{
	uint64_t h = image_elf_hash(im);
	size_t pos;
	uint32_t idx;
	struct image_elf *e;
	for (pos = hmap_first(&u->elf_index, h);; pos = hmap_next(&u->elf_index, pos)) {
		if (!hmap_candidate(&u->elf_index, pos, h, &idx))
			break;
		if (idx != UINT32_MAX && u->elfs[idx]->image == im)
			return u->elfs[idx];
	}
	e = xcalloc(1, sizeof(*e));
	e->image = im;
	image_elf_open(e);
	ARRAY_GROW(u->elfs, u->cap_elfs, u->n_elfs + 1);
	u->elfs[u->n_elfs] = e;
	hmap_insert_at(&u->elf_index, pos, h, (uint32_t)u->n_elfs);
	u->n_elfs++;
	return e;
}

static Dwfl_Module *report_map(struct unwind_space *sp, const struct unwind_map *m)
{
	struct image *im = m->image;
	struct image_elf *e;
	uint64_t bias;
	Dwfl_Module *mod;
	void **userdata;

	if (im->kind != IMAGE_ELF && im->kind != IMAGE_VDSO)
		return NULL;
	if (image__load(im) < 0 || !im->info.n_segments)
		return NULL;
	e = image_elf(sp->u, im);
	if (!e->elf)
		return NULL;
	/* libdwfl takes the bias of a module as its start less the aligned
	 * address of the first PT_LOAD: start it there. */
	bias = m->start - elf_info__offset_to_vaddr(&im->info, m->pgoff);
	mod = dwfl_report_module(sp->dwfl, im->path, bias + e->first_vaddr, bias + e->end_vaddr);
	if (!mod || !dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL))
		return NULL;
	*userdata = e;
	return mod;
}

/* The module covering pc, reporting its mapping first if needed. */
static Dwfl_Module *module_at(struct unwind_space *sp, uint64_t pc)
{
	struct unwind_walk *w = &sp->u->walk;
	Dwfl_Module *mod = dwfl_addrmodule(sp->dwfl, pc);
	struct unwind_map m;
	if (mod)
		return mod;
	if (!w->find_map(w->ctx, pc, &m) || !m.image)
		return NULL;
	for (size_t i = 0; i < sp->n_failed; i++)
		if (sp->failed[i] == m.start)
			return NULL;
	mod = report_map(sp, &m);
	if (mod) {
		sp->u->stats.modules_reported++;
		if (sp->n_reported < MAX_REPORTED_MAPS)
			sp->reported[sp->n_reported++] = (struct reported_map){ m.start, m.pgoff, m.image };
		else
			sp->too_many_reported = true;
	}
	if (!mod || dwfl_addrmodule(sp->dwfl, pc) != mod) {
		if (sp->n_failed < MAX_FAILED_MAPS)
			sp->failed[sp->n_failed++] = m.start;
		return NULL;
	}
	return mod;
}

static bool cfi_covers(Dwarf_CFI *cfi, Dwarf_Addr addr)
{
	Dwarf_Frame *frame;
	if (!cfi || dwarf_cfi_addrframe(cfi, addr, &frame) != 0)
		return false;
	free(frame);
	return true;
}

/* Whether the CFI of pc's module (.eh_frame, else .debug_frame, from
 * separate debuginfo for a file without .eh_frame) describes the frame at pc. */
static bool frame_has_cfi(struct unwind_space *sp, uint64_t pc)
{
	struct cfi_slot *slot = &sp->u->cfi_cache[((pc ^ sp->generation * 0x9e3779b97f4a7c15ULL) >> 2) % CFI_CACHE_SLOTS];
	Dwfl_Module *mod;
	Dwarf_CFI *cfi;
	Dwarf_Addr bias = 0;
	bool ok;
	if (slot->generation == sp->generation && slot->pc == pc)
		return true;
	mod = module_at(sp, pc);
	if (!mod)
		return false;
	cfi = dwfl_module_eh_cfi(mod, &bias);
	ok = cfi_covers(cfi, pc - bias);
	if (!ok) {
		cfi = dwfl_module_dwarf_cfi(mod, &bias);
		ok = cfi_covers(cfi, pc - bias);
	}
	if (ok)
		*slot = (struct cfi_slot){ sp->generation, pc };
	return ok;
}

/* ---- libdwfl's callbacks ---- */

static pid_t next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
	struct unwind_space *sp = dwfl_arg;
	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = sp;
	return (pid_t)sp->u->walk.s->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *dwfl_arg, void **thread_argp)
{
	(void)dwfl;
	(void)tid;
	*thread_argp = dwfl_arg;
	return true;
}

/* Only the copied slice [sp, sp + stack_size) is readable. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *dwfl_arg)
{
	struct unwind_walk *w = &((struct unwind_space *)dwfl_arg)->u->walk;
	(void)dwfl;
	if (addr < w->sp || w->s->stack_size < sizeof(*result) || addr - w->sp > w->s->stack_size - sizeof(*result)) {
		if (addr >= w->sp + w->s->stack_size)
			w->past_copy = true;
		return false;
	}
	memcpy(result, w->s->stack + (addr - w->sp), sizeof(*result));
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct unwind_sample *s = ((struct unwind_space *)thread_arg)->u->walk.s;
	for (unsigned i = 0; i < DWARF_NREGS; i++) {
		uint64_t v;
		Dwarf_Word word;
		if (!user_reg(s, dwarf_to_perf[i], &v))
			continue; /* left undefined: a rule that needs it fails */
		word = v;
		if (!dwfl_thread_state_registers(thread, (int)i, 1, &word))
			return false;
		if (dwarf_to_perf[i] == REG_IP)
			dwfl_thread_state_register_pc(thread, word);
	}
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static int on_frame(Dwfl_Frame *frame, void *arg)
{
	struct unwind_space *sp = arg;
	struct unwind_walk *w = &sp->u->walk;
	Dwarf_Addr pc;
	bool activation;
	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	if (w->n >= w->max) {
		w->end = UNWIND_END_DEPTH;
		w->end_set = true;
		return DWARF_CB_ABORT;
	}
	w->ips[w->n++] = pc;
	/* A return address points after the call: its frame is the call's. */
	if (!frame_has_cfi(sp, activation ? pc : pc - 1)) {
		w->end = UNWIND_END_NO_CFI;
		w->end_set = true;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

static size_t finish(struct unwinder *u, size_t n, enum unwind_end end, enum unwind_end *ret_end)
{
	u->stats.ended[end]++;
	*ret_end = end;
	memset(&u->walk, 0, sizeof(u->walk));
	return n;
}

size_t unwinder__unwind(struct unwinder *u, const struct unwind_sample *s, unwind_find_map_fn find_map, void *ctx,
			uint64_t *ips, size_t max, enum unwind_end *ret_end)
{
	struct unwind_walk *w = &u->walk;
	struct unwind_space *sp;
	uint64_t ip, stack_pointer;
	int r;

	u->stats.walks++;
	if (!max || !user_reg(s, REG_IP, &ip) || !user_reg(s, REG_SP, &stack_pointer))
		return finish(u, 0, UNWIND_END_REGS, ret_end);
	*w = (struct unwind_walk){ .s = s, .sp = stack_pointer, .find_map = find_map, .ctx = ctx, .ips = ips, .max = max };
	sp = space_get(u, s->pid);
	if (sp && sp->maps_changed && !space_still_valid(sp)) {
		unwinder__forget(u, s->pid);
		sp = space_get(u, s->pid);
	}
	if (!sp) {
		ips[0] = ip;
		return finish(u, 1, UNWIND_END_NO_CFI, ret_end);
	}
	/* libdwfl takes the architecture from the first module: attach once
	 * the sampled IP's is reported. */
	if (!sp->attached) {
		if (!module_at(sp, ip) || !dwfl_attach_state(sp->dwfl, NULL, (pid_t)s->pid, &thread_callbacks, sp)) {
			ips[0] = ip;
			return finish(u, 1, UNWIND_END_NO_CFI, ret_end);
		}
		sp->attached = true;
	}
	r = dwfl_getthread_frames(sp->dwfl, (pid_t)s->tid, on_frame, sp);
	if (!w->n) {
		ips[0] = ip;
		w->n = 1;
	}
	if (w->end_set)
		return finish(u, w->n, w->end, ret_end);
	/* A read past the copy leaves registers undefined, and the walk ends
	 * where one is needed, which libdwfl may take for the outermost
	 * frame (r == 0): the stack was longer than the copy. */
	if (w->past_copy)
		return finish(u, w->n, UNWIND_END_STACK, ret_end);
	if (r == 0)
		return finish(u, w->n, UNWIND_END_COMPLETE, ret_end);
	return finish(u, w->n, UNWIND_END_NO_CFI, ret_end);
}

const struct unwind_stats *unwinder__stats(const struct unwinder *u) { return &u->stats; }
