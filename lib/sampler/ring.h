/* ring: reader of one perf mmap ring buffer (see ring.c for the protocol).
 * The ring is either mmap'ed from a perf event fd, or, for tests, laid over
 * caller memory of the same layout (one header page + 2^n data pages). */
#pragma once

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct ring {
	struct perf_event_mmap_page *page; /* control page */
	unsigned char *data;               /* data area, data_size bytes */
	size_t data_size;                  /* power of two */
	size_t map_size;                   /* page + data, when mmap'ed */
	bool mapped;
	uint64_t head;                     /* snapshot taken by ring__read_begin */
	uint64_t tail;                     /* next byte to consume */
	unsigned char *bounce;             /* copy of a record that wraps */
	size_t bounce_size;
};

/* Map data_pages (a power of two) pages of fd's ring. 0 or -errno. */
int ring__mmap(struct ring *r, int fd, size_t data_pages);
/* Use memory already laid out as a ring (tests, replay). */
void ring__init_memory(struct ring *r, void *base, size_t page_size, size_t data_size);
void ring__release(struct ring *r);

/* Snapshot the producer's head. Returns the number of bytes readable. */
size_t ring__read_begin(struct ring *r);
/* Next record between tail and the head snapshot, or NULL when none are
 * left (or the ring holds a malformed header, which ends the round). The
 * pointer is valid until the next call; a record that wraps is copied to a
 * bounce buffer so the caller always sees it contiguous. */
const struct perf_event_header *ring__read_event(struct ring *r);
/* Publish the consumed tail to the kernel: every record read so far is
 * done with. */
void ring__read_end(struct ring *r);
/* Bytes the kernel has written that are not consumed yet, now (not the
 * snapshot): how far the reader is behind; data_size means the ring is
 * full and the kernel is dropping records. */
size_t ring__backlog(const struct ring *r);
