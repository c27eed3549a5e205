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

static bool gone(uint32_t exit_generation, uint32_t generation)
{
	return exit_generation && exit_generation < generation;
}

static void mark_exited(struct profile *p, uint32_t id)
{
	if (id && id <= p->n_threads)
		p->threads[id - 1].exited = true;
}

static void reap_thread(struct machine *m, struct thread *t)
{
	mark_exited(m->profile, t->profile_id);
	for (size_t i = 0; i < t->n_past_profile_ids; i++)
		mark_exited(m->profile, t->past_profile_ids[i]);
	t->proc->n_threads--;
	free(t->past_profile_ids);
	free(t);
}

size_t machine__reap(struct machine *m)
{
	size_t kept = 0, n_reaped = 0, n_procs = m->n_procs;

	for (size_t i = 0; i < m->n_threads; i++) {
		struct thread *t = m->threads[i];
		/* A process ends with its main thread; threads it left behind
		 * (their EXIT lost) go with it. */
		if (gone(t->exit_generation, m->generation) || gone(t->proc->exit_generation, m->generation)) {
			reap_thread(m, t);
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
	m->generation++;
	return n_reaped;
}
