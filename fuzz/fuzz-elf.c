/* Fuzz target: ELF symbol reading (libdwfl/libelf) of a hostile file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "lib/symbol/image.h"
#include "lib/symbol/symbol.h"
#include "lib/util/util.h"

/* A file descriptor leaked per input exhausts the process in minutes on a
 * long-running recorder: treat one as a crash. */
static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before = count_fds();
	char path[] = "/tmp/domprof-fuzz-elf-XXXXXX";
	int fd = mkstemp(path);
	struct symtab st;
	struct elf_info info;
	uint8_t bid[20], bid_size;
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	symtab__init(&st);
	if (symtab__load_elf(&st, path, &info) == 0) {
		symtab__finish(&st, 4096);
		for (size_t i = 0; i < st.n && i < 16; i++)
			elf_info__offset_to_vaddr(&info, st.syms[i].start);
	}
	elf_info__release(&info);
	symtab__release(&st);
	elf__read_build_id(path, bid, &bid_size);
	unlink(path);
	if (fds_before >= 0 && count_fds() > fds_before)
		__builtin_trap();
	return 0;
}
