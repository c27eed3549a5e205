/* Fuzz target: perf.data import — the file reader and the whole pipeline
 * behind it (ordering, decoding, classification), as `domprof import`
 * runs them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/import/importer.h"
#include "lib/util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/domprof-fuzz-perfdata-XXXXXX";
	int fd = mkstemp(path);
	struct importer im;
	char *err = NULL;
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (importer__open(&im, path, 100000000, &err) == 0) {
		free(err);
		err = NULL;
		importer__run(&im, &err);
		importer__release(&im);
	}
	free(err);
	unlink(path);
	return 0;
}
