/* The perf.data reader's compressed records (`perf record -z`): each
 * COMPRESSED or COMPRESSED2 record holds a zstd frame of further records,
 * split anywhere. They are decompressed in steps into a buffer and walked
 * like the data section, an incomplete last record kept for the next
 * batch. See perfdata-internal.h. */
#define _GNU_SOURCE
#include <errno.h>

#include "perfdata-internal.h"

static int walk_decompressed(struct perf_data *d);

int perf_data__compressed_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h,
			     uint64_t offset)
{
	const unsigned char *src = p + 8;
	size_t src_size = h->size - 8u;
	ZSTD_inBuffer in;

	if (d->info.compression > 1)
		return perf_data__fail(d, -EPROTONOSUPPORT, "its data is compressed with method %u; perf and domprof know only zstd (1)",
			    d->info.compression);
	if (h->type == PERF_RECORD_COMPRESSED2) {
		uint64_t n;
		if (h->size < 16)
			return perf_data__fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu is too short",
				    (unsigned long long)offset);
		n = rd64(p + 8);
		if (n > h->size - 16u)
			return perf_data__fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu claims %llu bytes of %u",
				    (unsigned long long)offset, (unsigned long long)n, h->size - 16u);
		src = p + 16;
		src_size = (size_t)n;
	}
	if (!d->zstd) {
		d->zstd = ZSTD_createDStream();
		if (!d->zstd || ZSTD_isError(ZSTD_initDStream(d->zstd)))
			return perf_data__fail(d, -ENOMEM, "cannot set up zstd decompression");
	}
	d->compressed_at = offset;
	d->stats.compressed_bytes += src_size;
	in = (ZSTD_inBuffer){ src, src_size, 0 };
	while (in.pos < in.size) {
		ZSTD_outBuffer out;
		size_t r, before = in.pos;
		if (d->inner_cap - d->inner_len < DECOMPRESS_STEP) {
			d->inner_cap = d->inner_len + DECOMPRESS_STEP;
			d->inner = xrealloc(d->inner, d->inner_cap);
		}
		out = (ZSTD_outBuffer){ d->inner + d->inner_len, d->inner_cap - d->inner_len, 0 };
		r = ZSTD_decompressStream(d->zstd, &out, &in);
		if (ZSTD_isError(r))
			return perf_data__fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu does not decompress (%s)",
				    (unsigned long long)offset, ZSTD_getErrorName(r));
		if (!out.pos && in.pos == before)
			return perf_data__fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu makes no progress",
				    (unsigned long long)offset);
		d->inner_len += out.pos;
		d->stats.decompressed_bytes += out.pos;
		if (walk_decompressed(d) < 0)
			return -EBADMSG;
	}
	return 0;
}

/* Walk the complete records of the decompressed buffer; keep an
 * incomplete last one for the next batch (perf splits freely). */
static int walk_decompressed(struct perf_data *d)
{
	size_t pos = 0, len = d->inner_len;
	while (pos < len) {
		struct perf_event_header h;
		const unsigned char *p = d->inner + pos;
		if (d->inner_skip) {
			size_t n = (size_t)MIN(d->inner_skip, (uint64_t)(len - pos));
			pos += n;
			d->inner_skip -= n;
			continue;
		}
		if (len - pos < sizeof(h))
			break;
		rd_header(p, &h);
		if (h.size < sizeof(h))
			return perf_data__fail(d, -EBADMSG,
				    "corrupt: a record inside the compressed record at offset %llu has size %u",
				    (unsigned long long)d->compressed_at, h.size);
		if (h.size > len - pos)
			break;
		if (perf_data__dispatch(d, p, &h, false, d->compressed_at) < 0)
			return -EBADMSG;
		d->inner_skip = perf_data__payload_size(p, &h);
		pos += h.size;
	}
	memmove(d->inner, d->inner + pos, len - pos);
	d->inner_len = len - pos;
	return 0;
}
