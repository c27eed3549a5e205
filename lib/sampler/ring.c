/* Reading a perf ring buffer.
 *
 * The kernel (producer) writes records into the data area and advances
 * page->data_head; we (consumer) read records and advance page->data_tail.
 * Both are free-running 64-bit byte counters; the position in the data area
 * is counter & (data_size - 1). The protocol, from the comment on
 * perf_event_mmap_page in include/uapi/linux/perf_event.h and
 * kernel/events/ring_buffer.c:
 *
 *   1. head = smp_load_acquire(&page->data_head): the acquire orders our
 *      reads of record bytes after the read of head, pairing with the
 *      kernel's release store of data_head after writing the records.
 *   2. Read records from tail up to head. A record may straddle the end of
 *      the data area: copy its two pieces into a bounce buffer.
 *   3. smp_store_release(&page->data_tail, tail): the release orders our
 *      reads of the record bytes before the kernel may overwrite them.
 *
 * Records are only consumed (tail published) after the caller is done with
 * them, so a record handed out is never overwritten under the caller. The
 * caller may publish after every record (ring__read_end between two
 * ring__read_event): the kernel then gets the space back while the rest of
 * the round is still being read. */
#include "ring.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../util/util.h"

int ring__mmap(struct ring *r, int fd, size_t data_pages)
{
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
	void *base;

	if (data_pages == 0 || (data_pages & (data_pages - 1)))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->map_size = (data_pages + 1) * page_size;
	base = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	r->mapped = true;
	r->page = base;
	r->data = (unsigned char *)base + page_size;
	r->data_size = data_pages * page_size;
	r->tail = __atomic_load_n(&r->page->data_tail, __ATOMIC_RELAXED);
	return 0;
}

void ring__init_memory(struct ring *r, void *base, size_t page_size, size_t data_size)
{
	memset(r, 0, sizeof(*r));
	r->page = base;
	r->data = (unsigned char *)base + page_size;
	r->data_size = data_size;
	r->tail = r->page->data_tail;
}

void ring__release(struct ring *r)
{
	if (r->mapped && r->page)
		munmap(r->page, r->map_size);
	free(r->bounce);
	memset(r, 0, sizeof(*r));
}

size_t ring__read_begin(struct ring *r)
{
	r->head = __atomic_load_n(&r->page->data_head, __ATOMIC_ACQUIRE);
	return (size_t)(r->head - r->tail);
}

const struct perf_event_header *ring__read_event(struct ring *r)
{
	size_t mask = r->data_size - 1;
	size_t avail = (size_t)(r->head - r->tail);
	size_t pos, first;
	struct perf_event_header hdr;
	unsigned char *rec;

	if (avail < sizeof(hdr))
		return NULL;
	pos = r->tail & mask;
	/* The header itself (8 bytes, 8-aligned) never wraps, but copy it
	 * piecewise anyway so a corrupt ring cannot make us read past it. */
	first = MIN(sizeof(hdr), r->data_size - pos);
	memcpy(&hdr, r->data + pos, first);
	memcpy((unsigned char *)&hdr + first, r->data, sizeof(hdr) - first);
	if (hdr.size < sizeof(hdr) || hdr.size > avail || hdr.size > r->data_size) {
		/* Malformed or not fully written: drop what is there. */
		r->tail = r->head;
		return NULL;
	}
	if (pos + hdr.size <= r->data_size) {
		rec = r->data + pos;
	} else {
		if (r->bounce_size < hdr.size) {
			r->bounce = xrealloc(r->bounce, hdr.size);
			r->bounce_size = hdr.size;
		}
		first = r->data_size - pos;
		memcpy(r->bounce, r->data + pos, first);
		memcpy(r->bounce + first, r->data, hdr.size - first);
		rec = r->bounce;
	}
	r->tail += hdr.size;
	return (const struct perf_event_header *)rec;
}

void ring__read_end(struct ring *r)
{
	__atomic_store_n(&r->page->data_tail, r->tail, __ATOMIC_RELEASE);
}

size_t ring__backlog(const struct ring *r)
{
	uint64_t head = __atomic_load_n(&r->page->data_head, __ATOMIC_RELAXED);
	/* A damaged head cannot claim more than the ring holds. */
	return (size_t)MIN(head - r->tail, (uint64_t)r->data_size);
}
