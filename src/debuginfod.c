/* libdw asks debuginfod (elfutils' client of its web service for debug
 * files) for every image without local debug information. Its first such
 * lookup dlopens libdebuginfod.so.1, and with it libcurl, GnuTLS, Kerberos
 * and the rest: 6 MiB of resident memory and their initialisation in
 * every recording (bench/notes.md). When DEBUGINFOD_URLS names no server,
 * the client then does nothing: it answers "not found" without even
 * reading its cache.
 *
 * The program's own definition of dlopen comes first in the dynamic
 * linker's search, so libdw's call lands here. Without a server to ask,
 * the client library is not opened, and libdw goes on as when elfutils is
 * built without debuginfod. With DEBUGINFOD_URLS set, nothing changes:
 * every call goes to the C library's dlopen. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

void *dlopen(const char *file, int mode)
{
	static void *(*next)(const char *, int);
	const char *urls = getenv("DEBUGINFOD_URLS");
	if (file && strncmp(file, "libdebuginfod.so", strlen("libdebuginfod.so")) == 0 && (!urls || !*urls))
		return NULL;
	if (!next) {
		void *f = dlsym(RTLD_NEXT, "dlopen");
		memcpy(&next, &f, sizeof(f));
	}
	return next(file, mode);
}
