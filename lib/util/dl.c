/* Libraries opened at first use; contract in dl.h. */
#define _GNU_SOURCE
#include "dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct opened {
	char *soname;
	void *handle;
	char *error; /* why it could not be opened, or the last missing symbol */
	struct opened *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct opened *opened;

bool dl_load(const char *soname, const struct dl_symbol *syms, size_t n, const char **ret_error)
{
	struct opened *o;
	bool ok;
	pthread_mutex_lock(&lock);
	for (o = opened; o && !streq(o->soname, soname); o = o->next)
		;
	if (!o) {
		o = xcalloc(1, sizeof(*o));
		o->soname = xstrdup(soname);
		o->handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
		if (!o->handle)
			o->error = xstrdup(dlerror());
		o->next = opened;
		opened = o;
	}
	ok = o->handle != NULL;
	if (!ok && ret_error)
		*ret_error = o->error;
	for (size_t i = 0; ok && i < n; i++) {
		void *f = dlsym(o->handle, syms[i].name);
		if (!f) {
			free(o->error);
			o->error = xasprintf("%s: no symbol %s", soname, syms[i].name);
			if (ret_error)
				*ret_error = o->error;
			ok = false;
		}
		memcpy(syms[i].slot, &f, sizeof(f));
	}
	pthread_mutex_unlock(&lock);
	return ok;
}
