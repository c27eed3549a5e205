/* Fuzz target: kallsyms / System.map text and perf JIT maps, then lookups. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/symbol/image.h"
#include "lib/symbol/symbol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct symtab st;
	const char *text = (const char *)data;
	if (!size)
		return 0;
	symtab__init(&st);
	if (data[0] & 1)
		symtab__load_perf_map(&st, text + 1, size - 1);
	else
		symtab__load_kallsyms(&st, text + 1, size - 1, data[0]);
	symtab__finish(&st, 1 << 20);
	for (size_t i = 0; i + 8 <= size; i += 8) {
		uint64_t a;
		memcpy(&a, data + i, 8);
		symtab__find(&st, a);
	}
	kallsyms__find_stext(text, size);
	symtab__release(&st);
	return 0;
}
