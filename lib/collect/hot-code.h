/* hot-code: the machine code and source lines of a recording's hottest
 * functions, gathered at the end of recording so that `domprof annotate`
 * works from the session alone (on another machine, or for a guest whose
 * files the host cannot read). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* Which functions' code a recording keeps: those holding at least 0.2 %
 * of some event's period (below that, annotate has too few samples to
 * say anything), the hottest 64 on the host; an agent keeps its hottest
 * 32, as their code travels to the host in one CODE message, charged to
 * the host's memory budget for that agent. */
#define CODE_HOT_MIN_SHARE 0.002
#define CODE_HOT_SYMBOLS_HOST 64
#define CODE_HOT_SYMBOLS_AGENT 32

/* The code of each function holding at least min_share (0..1) of some
 * event's period, hottest first, at most max_symbols: *ret (to
 * symbol_codes__free) and their number. Functions whose code cannot be
 * read are left out. */
size_t collector__collect_code(struct collector *c, size_t max_symbols, double min_share, struct symbol_code **ret);
/* Mark in keep (a profile_id_map of symbols) each function holding at
 * least min_share of some event's period so far: a catalog compaction
 * (collector__compact) keeps them, so the end of the run can still pick
 * them. */
void collector__keep_hot_symbols(const struct collector *c, double min_share, struct profile_id_map *keep);
