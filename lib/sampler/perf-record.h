/* perf-record: decoding of perf records (PERF_RECORD_*) as the kernel writes them
 * to the ring and as perf writes them to perf.data. Every field access is
 * bounds-checked against the record's size, so hostile input (a perf.data
 * from elsewhere, a corrupted ring) yields -EBADMSG, never an overread. A
 * reader tests whether a trailing field exists by the record's size, so
 * records that grew in newer kernels still decode. */
#pragma once

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Values of the cpumode bits (header.misc & PERF_RECORD_MISC_CPUMODE_MASK). */
enum {
	CPUMODE_UNKNOWN = PERF_RECORD_MISC_CPUMODE_UNKNOWN,
	CPUMODE_KERNEL = PERF_RECORD_MISC_KERNEL,
	CPUMODE_USER = PERF_RECORD_MISC_USER,
	CPUMODE_HYPERVISOR = PERF_RECORD_MISC_HYPERVISOR,
	CPUMODE_GUEST_KERNEL = PERF_RECORD_MISC_GUEST_KERNEL,
	CPUMODE_GUEST_USER = PERF_RECORD_MISC_GUEST_USER,
};

struct perf_sample {
	uint64_t id;
	uint64_t ip;
	uint32_t pid, tid;
	uint64_t time;
	uint64_t addr;
	uint64_t stream_id;
	uint32_t cpu;
	uint64_t period;
	uint16_t cpumode;
	uint16_t misc;
	uint64_t callchain_nr;
	const unsigned char *callchain; /* callchain_nr u64s, unaligned; use perf_sample__callchain_ip */
	/* PERF_SAMPLE_REGS_USER: the task's user registers at the sample, in
	 * the order of the bits of attr.sample_regs_user. regs_abi is
	 * PERF_SAMPLE_REGS_ABI_NONE (0) when the kernel had none to give (a
	 * kernel thread), and then regs_nr is 0. */
	uint64_t regs_abi;
	uint64_t regs_mask;
	uint32_t regs_nr;
	const unsigned char *regs; /* regs_nr u64s, unaligned; use perf_sample__user_reg */
	/* PERF_SAMPLE_STACK_USER: the bytes the kernel copied from the user
	 * stack pointer up; stack_size is what was really copied (dyn_size),
	 * never more than the room the record has for it. */
	uint64_t stack_size;
	const unsigned char *stack;
};

static inline uint64_t perf_sample__callchain_ip(const struct perf_sample *s, uint64_t i)
{
	uint64_t v;
	__builtin_memcpy(&v, s->callchain + i * 8, 8);
	return v;
}

/* The value of register reg (a PERF_REG_* number) of a sample's user
 * registers; false when the sample did not carry it. */
bool perf_sample__user_reg(const struct perf_sample *s, unsigned reg, uint64_t *ret);

/* PERF_RECORD_SAMPLE, laid out by sample_type (and read_format for
 * PERF_SAMPLE_READ). The user registers and stack are not decoded: see
 * perf_record__parse_sample_regs. */
int perf_record__parse_sample(const struct perf_event_header *h, uint64_t sample_type, uint64_t read_format,
			      struct perf_sample *ret);
/* The same, and the user registers (attr.sample_regs_user is regs_mask)
 * and user stack when sample_type has them. RAW is skipped over; a
 * BRANCH_STACK (whose size depends on branch_sample_type) ends decoding
 * before the registers, which are then left absent. */
int perf_record__parse_sample_regs(const struct perf_event_header *h, uint64_t sample_type, uint64_t read_format,
				   uint64_t regs_mask, struct perf_sample *ret);

/* The sample_id trailer of a non-sample record (attr.sample_id_all). Fields
 * absent from sample_type are left 0; ret->pid/tid are UINT32_MAX when
 * there is no TID. */
int perf_record__parse_sample_id(const struct perf_event_header *h, uint64_t sample_type, struct perf_sample *ret);

/* Size in bytes of the sample_id trailer for this sample_type. */
size_t perf_record__sample_id_size(uint64_t sample_type);

struct perf_mmap_event {
	uint32_t pid, tid;
	uint64_t start, len, pgoff;
	uint32_t maj, min;
	uint64_t ino;
	uint32_t prot, flags; /* MMAP2 only; PROT_EXEC assumed for MMAP */
	uint8_t build_id_size; /* 0 when the record carries none */
	uint8_t build_id[20];
	const char *filename;  /* NUL-terminated inside the record */
	bool is_mmap2;
};
/* PERF_RECORD_MMAP or PERF_RECORD_MMAP2. */
int perf_record__parse_mmap(const struct perf_event_header *h, struct perf_mmap_event *ret);

struct perf_comm_event {
	uint32_t pid, tid;
	const char *comm;
	bool exec; /* PERF_RECORD_MISC_COMM_EXEC: comm changed by exec */
};
int perf_record__parse_comm(const struct perf_event_header *h, struct perf_comm_event *ret);

struct perf_task_event {
	uint32_t pid, ppid, tid, ptid;
	uint64_t time;
};
/* PERF_RECORD_FORK or PERF_RECORD_EXIT. */
int perf_record__parse_task(const struct perf_event_header *h, struct perf_task_event *ret);

struct perf_lost_event {
	uint64_t id;
	uint64_t lost;
};
/* PERF_RECORD_LOST (id, lost) or PERF_RECORD_LOST_SAMPLES (lost; id from
 * the sample_id trailer, filled by the caller if needed). */
int perf_record__parse_lost(const struct perf_event_header *h, struct perf_lost_event *ret);

/* The record's timestamp: the sample's TIME or the sample_id trailer's;
 * 0 when it has none. Fast path for ordering records across rings. */
uint64_t perf_record__time(const struct perf_event_header *h, uint64_t sample_type);

const char *perf_record__type_name(uint32_t type);
