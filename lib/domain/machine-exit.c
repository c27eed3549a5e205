/* The end of threads and processes: an EXIT record marks them, and
 * machine__reap, called once per flush of the profile, frees those whose
 * EXIT came a whole generation before, telling the profile that their
 * threads' counters can no longer change. A recording of days on a host
 * that starts processes all the time so holds what is alive (and what
 * ended in the last flush interval), not all that it has seen. */
#include "machine.h"

#include "../util/util.h"

void thread__forget_profile_id(struct thread *t)
{
	if (!t->profile_id)
		return;
	for (size_t i = 0; i < t->n_past_profile_ids; i++)
		if (t->past_profile_ids[i] == t->profile_id)
			goto done;
	ARRAY_GROW(t->past_profile_ids, t->cap_past_profile_ids, t->n_past_profile_ids + 1);
	t->past_profile_ids[t->n_past_profile_ids++] = t->profile_id;
done:
	t->profile_id = 0;
}

void machine__exit(struct machine *m, const struct perf_task_event *ev)
{
	/* The tables keep the task for now: samples of the exiting task may
	 * still follow in other rings (machine__reap waits a generation),
	 * and pid reuse is handled by newest-entry-wins. Only the newest
	 * thread of that tid in that process is the one that exits. */
	for (size_t i = m->n_threads; i > 0; i--) {
		struct thread *t = m->threads[i - 1];
		if (t->tid != (pid_t)ev->tid)
			continue;
		if (t->proc->pid == (pid_t)ev->pid && !t->exit_generation) {
			t->exit_generation = m->generation;
			if (t->tid == t->proc->pid)
				t->proc->exit_generation = m->generation;
		}
		return;
	}
}

/* An image's cached profile ids: renumbered by keep, or forgotten (NULL). */
static void remap_image_ids(struct image *im, const struct profile_catalog_map *keep)
{
	if (!im)
		return;
	im->user_id = keep ? profile_id_map__get(&keep->images, im->user_id) : 0;
	for (size_t i = 0; i < im->symtab.n; i++)
		im->symtab.syms[i].user_id = keep ? profile_id_map__get(&keep->symbols, im->symtab.syms[i].user_id) : 0;
}

void machine__remap_catalog_ids(struct machine *m, const struct profile_catalog_map *keep)
{
	/* The kernel's modules are symbols of the kernel's image. */
	for (size_t i = 0; i < m->images.n; i++)
		remap_image_ids(m->images.images[i], keep);
	for (size_t i = 0; i < m->n_vms; i++) {
		remap_image_ids(m->vms[i]->guest_kernel, keep);
		remap_image_ids(m->vms[i]->guest_user, keep);
		remap_image_ids(m->vms[i]->guest_code, keep);
	}
	/* Decided per profile symbol id. */
	free(m->idle_symbols);
	m->idle_symbols = NULL;
	m->cap_idle_symbols = 0;
	/* A record kept for its row (no build-id) may go at the next reap. */
	m->unload_pending = true;
}

void machine__forget_profile_ids(struct machine *m)
{
	for (size_t i = 0; i < m->n_threads; i++) {
		struct thread *t = m->threads[i];
		t->profile_id = 0;
		t->n_past_profile_ids = 0;
	}
	machine__remap_catalog_ids(m, NULL);
}

static bool gone(uint32_t exit_generation, uint32_t generation)
{
	return exit_generation && exit_generation < generation;
}

struct id_list {
	uint32_t *ids;
	size_t n, cap;
};

static void id_list__add(struct id_list *l, uint32_t id)
{
	if (!id)
		return;
	ARRAY_GROW(l->ids, l->cap, l->n + 1);
	l->ids[l->n++] = id;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void reap_thread(struct thread *t, struct id_list *exited)
{
	id_list__add(exited, t->profile_id);
	for (size_t i = 0; i < t->n_past_profile_ids; i++)
		id_list__add(exited, t->past_profile_ids[i]);
	t->proc->n_threads--;
	free(t->past_profile_ids);
	free(t);
}

/* ELF images and JIT maps that no process has mapped for
 * IMAGE_UNLOAD_GRACE flushes leave memory, their symbols first: a host
 * that runs ever new programs (builds, deployments) would otherwise keep
 * every symbol table it ever loaded, and a record of every file ever
 * mapped. The grace keeps a program that runs again and again, each run
 * short (a compiler in a build, a shell loop), from loading its symbols
 * anew each time. What the profile knows of them (image and symbol rows,
 * ids) stays, so a program run again resolves to the same rows. */
static void unload_unmapped_images(struct machine *m)
{
	struct image **used = NULL;
	size_t n_used = 0, cap_used = 0, n_gone = m->n_gone_images;
	m->unload_pending = false;
	for (size_t i = 0; i < m->n_procs; i++) {
		const struct process *p = m->procs[i];
		ARRAY_GROW(used, cap_used, n_used + p->n_maps + 1);
		for (size_t j = 0; j < p->n_maps; j++)
			used[n_used++] = p->maps[j].image;
		if (p->jit)
			used[n_used++] = p->jit;
	}
	if (n_used > 1)
		qsort(used, n_used, sizeof(*used), image__cmp_addr);
	for (size_t i = 0; i < m->images.n; i++) {
		struct image *im = m->images.images[i];
		if (im->kind != IMAGE_ELF && im->kind != IMAGE_JIT)
			continue;
		if (image__in(im, used, n_used)) {
			im->mapped_generation = m->generation;
			continue;
		}
		if (!im->mapped_generation) /* mapped and gone between two reaps */
			im->mapped_generation = m->generation;
		if (m->generation - im->mapped_generation >= IMAGE_UNLOAD_GRACE) {
			if (im->loaded)
				m->images_unloaded++;
			image__unload(im);
			/* A sampled file without a build-id keeps its record
			 * (path, where to read it) while its profile row
			 * lives: the end of the recording reads its hot
			 * functions' code there, and nothing could tell
			 * whether a file opened again by its path is the one
			 * sampled (hot-code.c). Bounded by the catalog. */
			if (im->kind == IMAGE_ELF && im->user_id && !im->build_id[0])
				continue;
			ARRAY_GROW(m->gone_images, m->cap_gone_images, m->n_gone_images + 1);
			m->gone_images[m->n_gone_images++] = im;
		} else
			m->unload_pending = true;
	}
	free(used);
	if (m->n_gone_images > n_gone) {
		qsort(m->gone_images, m->n_gone_images, sizeof(*m->gone_images), image__cmp_addr);
		image_registry__remove(&m->images, m->gone_images, m->n_gone_images);
	}
}

void machine__free_gone_images(struct machine *m)
{
	for (size_t i = 0; i < m->n_gone_images; i++)
		image__free(m->gone_images[i]);
	free(m->gone_images);
	m->gone_images = NULL;
	m->n_gone_images = m->cap_gone_images = 0;
}

void machine__reap(struct machine *m, uint32_t **ret_exited, size_t *ret_n)
{
	size_t kept = 0, n_reaped = 0, n_procs = m->n_procs, n_ids = 0;
	struct id_list exited = { 0 };

	for (size_t i = 0; i < m->n_threads; i++) {
		struct thread *t = m->threads[i];
		/* A process ends with its main thread; threads it left behind
		 * (their EXIT lost) go with it. */
		if (gone(t->exit_generation, m->generation) || gone(t->proc->exit_generation, m->generation)) {
			reap_thread(t, &exited);
			n_reaped++;
		} else {
			m->threads[kept++] = t;
		}
	}
	m->n_threads = kept;
	kept = 0;
	for (size_t i = 0; i < m->n_procs; i++) {
		struct process *p = m->procs[i];
		/* A VMM's process keeps its VM's images alive: kept. */
		if (gone(p->exit_generation, m->generation) && !p->n_threads && !p->vm) {
			/* Mapped until now: the grace of its images starts
			 * here, however long ago they were last looked at. */
			for (size_t j = 0; j < p->n_maps; j++)
				p->maps[j].image->mapped_generation = m->generation;
			if (p->jit)
				p->jit->mapped_generation = m->generation;
			free(p->maps);
			free(p);
		} else {
			m->procs[kept++] = p;
		}
	}
	m->n_procs = kept;
	if (n_reaped || m->n_procs != n_procs) {
		/* The indexes point into the arrays: built again, in order, so
		 * the newest entry of a reused id is still the highest. */
		m->last_thread = NULL;
		hmap_release(&m->thread_index);
		for (size_t i = 0; i < m->n_threads; i++)
			hmap_insert(&m->thread_index, hash_u64((uint64_t)m->threads[i]->tid), (uint32_t)i);
		hmap_release(&m->proc_index);
		for (size_t i = 0; i < m->n_procs; i++)
			hmap_insert(&m->proc_index, hash_u64((uint64_t)m->procs[i]->pid), (uint32_t)i);
	}
	if (m->n_procs != n_procs || m->unload_pending)
		unload_unmapped_images(m);
	m->generation++;
	/* Sorted and unique: a name two threads shared (pid reuse) once. */
	if (exited.n > 1)
		qsort(exited.ids, exited.n, sizeof(*exited.ids), cmp_u32);
	for (size_t i = 0; i < exited.n; i++)
		if (!n_ids || exited.ids[n_ids - 1] != exited.ids[i])
			exited.ids[n_ids++] = exited.ids[i];
	/* A name a live thread still holds (a pid reused, with the same name,
	 * before the old one was reaped) is not gone: its counters change
	 * still, and an agent must not forget the thread its samples name. */
	if (n_ids) {
		_cleanup_free_ bool *held = xcalloc(n_ids, sizeof(*held));
		size_t left = 0;
		for (size_t i = 0; i < m->n_threads; i++) {
			const struct thread *t = m->threads[i];
			const uint32_t *hit;
			if (t->profile_id &&
			    (hit = bsearch(&t->profile_id, exited.ids, n_ids, sizeof(uint32_t), cmp_u32)))
				held[hit - exited.ids] = true;
			for (size_t j = 0; j < t->n_past_profile_ids; j++)
				if ((hit = bsearch(&t->past_profile_ids[j], exited.ids, n_ids, sizeof(uint32_t), cmp_u32)))
					held[hit - exited.ids] = true;
		}
		for (size_t i = 0; i < n_ids; i++)
			if (!held[i])
				exited.ids[left++] = exited.ids[i];
		n_ids = left;
	}
	*ret_exited = exited.ids;
	*ret_n = n_ids;
}
