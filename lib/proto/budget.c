/* Per-agent memory accounting; see budget.h. */
#include "budget.h"

#include <string.h>

void proto_budget__init(struct proto_budget *b, uint64_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

bool proto_budget__charge(struct proto_budget *b, uint64_t bytes)
{
	if (!b)
		return true;
	if (bytes > b->limit - b->used)
		return false;
	b->used += bytes;
	if (b->used > b->peak)
		b->peak = b->used;
	return true;
}

void proto_budget__refund(struct proto_budget *b, uint64_t bytes)
{
	if (!b)
		return;
	if (bytes > b->used)
		b->over_refunded += bytes - b->used;
	b->used -= bytes < b->used ? bytes : b->used;
}

