/* Shared by the test workloads: a fixed amount of pure CPU work, expanded
 * inline into each function so the time lands in that function itself. */
#pragma once
#include <stdint.h>

#define WORK_LOOP(units)                                                  \
	do {                                                              \
		uint64_t x_ = 0x9e3779b97f4a7c15ULL;                      \
		for (long i_ = 0; i_ < (long)(units) * 1000; i_++) {      \
			x_ ^= x_ << 13;                                   \
			x_ ^= x_ >> 7;                                    \
			x_ ^= x_ << 17;                                   \
			__asm__ volatile("" : "+r"(x_));                  \
		}                                                         \
		work_sink += x_;                                          \
	} while (0)

extern volatile uint64_t work_sink;
void libwork_ten(long units);
