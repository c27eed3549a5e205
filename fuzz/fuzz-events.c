/* Fuzz target: event-spec lists (`record -e`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/events/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct event_spec *ev;
	struct event_defaults d = { .freq = 1000 };
	size_t n;
	char *err = NULL;
	memcpy(text, data, size);
	text[size] = '\0';
	if (event_list__parse(text, &d, &ev, &n, &err) == 0)
		event_list__free(ev, n);
	free(err);
	free(text);
	return 0;
}
