/* machine: the host as the side-band records describe it — processes with
 * their executable mappings, threads with their names, and which domain
 * each belongs to (the host, or the VM whose VMM process or backend thread
 * it is). Filled from /proc at start, then kept current by MMAP2, COMM,
 * FORK and EXIT records, so VMs started mid-recording are found too.
 * machine__resolve turns one sample's (thread, cpumode, ip) into its
 * domain, layer, image and symbol; the idle task (pid 0) in an idle-loop
 * function goes to domain "idle" (lib/domain/idle.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../aggregate/profile.h"
#include "../sampler/perf-record.h"
#include "../symbol/image.h"
#include "../util/hmap.h"
#include "vm.h"

struct map {
	uint64_t start, end, pgoff;
	struct image *image;
	bool anon_exec; /* anonymous executable memory (JIT, TCG code) */
};

struct vm {
	pid_t pid;
	uint32_t domain;
	enum vmm_kind kind;
	char *name;
	bool forced;
	struct image *guest_kernel; /* [guest.kernel] of this VM */
	struct image *guest_user;   /* [guest user] */
	struct image *guest_code;   /* [guest code]: TCG-translated code */
};

struct process {
	pid_t pid;
	char comm[32];
	struct map *maps; /* sorted by start, non-overlapping */
	size_t n_maps, cap_maps;
	struct vm *vm;     /* the VM this process is the VMM of, or NULL */
	struct image *jit; /* /tmp/perf-PID.map, or NULL */
	bool jit_checked;
	/* The VMM its executable's name says it is (VMM_NONE: none, or not
	 * known): from /proc/PID/exe for a process found running, else from
	 * the first executable mapping after its exec (the binary's own,
	 * mapped before its interpreter's), so that exec costs no /proc read. */
	enum vmm_kind exe_kind;
	bool exe_pending; /* exec'd, its first executable mapping to come */
	uint32_t exit_generation; /* machine generation its EXIT came in; 0 alive */
	size_t n_threads;         /* its threads in the machine's table */
};

struct thread {
	pid_t tid;
	struct process *proc;
	char comm[32];
	enum thread_role role;
	int vcpu;
	struct vm *vm;       /* owning VM (its VMM's or, for backends, the served VM) */
	uint32_t profile_id; /* cached profile thread id; 0 = recompute */
	uint32_t *past_profile_ids; /* ids it had before a rename (exec) */
	size_t n_past_profile_ids, cap_past_profile_ids;
	uint32_t exit_generation; /* machine generation its EXIT came in; 0 alive */
};

/* The thread's profile id is to be computed again (its name or role
 * changed); the old one is remembered, its rows end with the thread. */
void thread__forget_profile_id(struct thread *t);

struct guest_kernel_source {
	char *vm_name;
	char *file;      /* a kallsyms copy, System.map or vmlinux; or NULL and: */
	char *text;      /* the text of a /proc/kallsyms (runtime addresses) */
	size_t text_len;
	uint64_t kaslr_offset;
	bool have_offset;
	uint64_t stext; /* runtime _stext from the guest's kallsyms, or 0 */
};

struct machine {
	struct profile *profile;
	uint32_t host_domain;
	uint32_t idle_domain; /* 0 until the first idle sample */
	/* Per profile symbol id: 0 not yet looked at, 1 work, 2 an idle-loop
	 * function (lib/domain/idle.h); grown as symbols appear. */
	uint8_t *idle_symbols;
	size_t cap_idle_symbols;
	struct image_registry images;
	struct process **procs;
	size_t n_procs, cap_procs;
	struct hmap proc_index;
	struct thread **threads;
	size_t n_threads, cap_threads;
	struct hmap thread_index;
	struct vm **vms;
	size_t n_vms, cap_vms;
	struct vm_force *forced;
	size_t n_forced;
	struct guest_kernel_source *guest_kernels;
	size_t n_guest_kernels;
	bool live; /* may read /proc for processes it has not seen */
	struct thread *last_thread; /* machine__thread's one-entry cache */
	uint32_t generation; /* advanced by machine__reap; starts at 1 */
	bool unload_pending; /* an image no process maps waits its grace */
	uint64_t images_unloaded; /* symbol tables given back so far */
	/* Images machine__reap took out of the registry (sorted by address),
	 * for the owner to let go of (an unwinder's ELF of them:
	 * unwinder__forget_images) before machine__free_gone_images. */
	struct image **gone_images;
	size_t n_gone_images, cap_gone_images;
	/* warnings the command layer may print once */
	char **warnings;
	size_t n_warnings, cap_warnings;
};

void machine__init(struct machine *m, struct profile *p, bool live);
void machine__release(struct machine *m);

/* Before synthesize: --vm NAME=PID. */
void machine__force_vm(struct machine *m, const char *name, pid_t pid);
/* Before or after VMs are found: a guest kernel symbol file for VM name. */
void machine__add_guest_kernel(struct machine *m, const struct guest_kernel_source *src);

/* Read every process, thread and executable mapping from /proc. */
int machine__synthesize(struct machine *m);

void machine__mmap(struct machine *m, const struct perf_mmap_event *ev);
void machine__comm(struct machine *m, const struct perf_comm_event *ev);
void machine__fork(struct machine *m, const struct perf_task_event *ev);
void machine__exit(struct machine *m, const struct perf_task_event *ev);

/* The profile started over (profile__restart): every profile id the
 * machine cached (threads, images, symbols) is interned again when next
 * sampled. */
void machine__forget_profile_ids(struct machine *m);
/* The profile's catalog was renumbered (profile__compact, or a restart
 * that kept rows): the images' and symbols' cached ids follow keep (old
 * id to new, 0 for a row that went); NULL forgets them all. */
void machine__remap_catalog_ids(struct machine *m, const struct profile_catalog_map *keep);

/* Free the threads and processes whose EXIT came before the previous
 * call (so samples of theirs still in other rings have been read), take
 * the images (ELF files, JIT maps) no process has mapped for
 * IMAGE_UNLOAD_GRACE calls (counted from the reap of the last process that
 * mapped them) out of the registry into m->gone_images, with their symbols
 * freed (a sampled ELF file without a build-id keeps its record, without
 * symbols, while its profile row lives), then start a new generation. *ret_exited (sorted,
 * *ret_n of them; free it): the profile thread ids they had, whose counts
 * can no longer change. */
void machine__reap(struct machine *m, uint32_t **ret_exited, size_t *ret_n);
#define IMAGE_UNLOAD_GRACE 10
/* Free the images the last reaps took out (what is left of them: path,
 * build-id). A path mapped again is a new image, its profile row found
 * again by path and build-id. */
void machine__free_gone_images(struct machine *m);

/* Find or create (reading /proc when live) a thread. */
struct thread *machine__thread(struct machine *m, pid_t pid, pid_t tid);
const struct map *process__find_map(const struct process *p, uint64_t addr);

/* The VM a guest-mode sample on this thread belongs to: the thread's own,
 * or a new "vm-PID" domain for a process that was not recognised as a VMM
 * (anything that runs guest code is one). */
struct vm *machine__vm_for_guest(struct machine *m, struct thread *t);
struct vm *machine__find_vm(struct machine *m, pid_t pid);

/* Where one address lands. */
struct resolved {
	uint32_t domain;
	uint8_t layer;
	uint32_t thread; /* profile ids */
	uint32_t image;
	uint32_t symbol;
	uint64_t address; /* image-relative */
};
/* Classify and symbolize a sample's ip (or a callchain entry, with the
 * cpumode of its context). */
void machine__resolve(struct machine *m, struct thread *t, uint16_t cpumode, uint64_t ip, struct resolved *ret);
