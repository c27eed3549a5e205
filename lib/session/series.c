/* The sessions of a rotating recording in their directory; see series.h. */
#define _GNU_SOURCE
#include "series.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"

#define SERIES_PREFIX "domprof-"
#define SERIES_SUFFIX ".db"
/* Sessions starting in one second (a size limit hit at once): the most a
 * second may hold before next_path gives up. */
#define SERIES_MAX_PER_SECOND 1000

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "domprof-YYYYmmdd-HHMMSS[_N].db": the stamp (15 characters at name + 8)
 * and N (0 without one). */
static bool parse_name(const char *name, unsigned *ret_n)
{
	size_t pre = strlen(SERIES_PREFIX), len = strlen(name);
	const char *p = name + pre + 15;
	unsigned n = 0;
	if (len < pre + 15 + strlen(SERIES_SUFFIX) || strncmp(name, SERIES_PREFIX, pre) != 0 ||
	    !digits(name + pre, 8) || name[pre + 8] != '-' || !digits(name + pre + 9, 6))
		return false;
	if (*p == '_') {
		size_t nd = strspn(p + 1, "0123456789");
		if (!nd || nd > 6)
			return false;
		for (size_t i = 1; i <= nd; i++)
			n = n * 10 + (unsigned)(p[i] - '0');
		if (!n)
			return false;
		p += 1 + nd;
	}
	if (!streq(p, SERIES_SUFFIX))
		return false;
	*ret_n = n;
	return true;
}

bool session_series__is_name(const char *name)
{
	unsigned n;
	return parse_name(name, &n);
}

int session_series__next_path(const char *dir, time_t start, char **ret_path)
{
	struct tm tm;
	char stamp[32];
	if (!gmtime_r(&start, &tm) || !strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm))
		return -EINVAL;
	for (unsigned n = 0; n < SERIES_MAX_PER_SECOND; n++) {
		char *path = n ? xasprintf("%s/" SERIES_PREFIX "%s_%u" SERIES_SUFFIX, dir, stamp, n)
			       : xasprintf("%s/" SERIES_PREFIX "%s" SERIES_SUFFIX, dir, stamp);
		if (access(path, F_OK) != 0 && errno == ENOENT) {
			*ret_path = path;
			return 0;
		}
		free(path);
	}
	return -EEXIST;
}

/* Oldest first: by stamp, then N. */
static int cmp_names(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/') + 1, *y = strrchr(*(char *const *)b, '/') + 1;
	size_t stamp = strlen(SERIES_PREFIX) + 15;
	unsigned nx = 0, ny = 0;
	int c = strncmp(x, y, stamp);
	if (c)
		return c;
	parse_name(x, &nx);
	parse_name(y, &ny);
	return nx < ny ? -1 : nx > ny;
}

int session_series__list(const char *dir, char ***ret_paths, size_t *ret_n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **paths = NULL;
	size_t n = 0, cap = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!session_series__is_name(e->d_name))
			continue;
		ARRAY_GROW(paths, cap, n + 2);
		paths[n++] = xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	ARRAY_GROW(paths, cap, n + 1);
	paths[n] = NULL;
	if (n > 1)
		qsort(paths, n, sizeof(*paths), cmp_names);
	*ret_paths = paths;
	*ret_n = n;
	return 0;
}

void session_series__list_free(char **paths)
{
	for (size_t i = 0; paths && paths[i]; i++)
		free(paths[i]);
	free(paths);
}

static uint64_t file_bytes(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int session_series__retain(const char *dir, const char *current, size_t keep_count, uint64_t keep_bytes,
			   size_t *ret_removed)
{
	char **paths;
	size_t n, removed = 0;
	uint64_t total = 0;
	int r = session_series__list(dir, &paths, &n);
	*ret_removed = 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		total += file_bytes(paths[i]);
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t left = n - removed;
		uint64_t bytes;
		if (!((keep_count && left > keep_count) || (keep_bytes && total > keep_bytes)))
			break;
		if (current && streq(paths[i], current))
			continue;
		bytes = file_bytes(paths[i]);
		if (unlink(paths[i]) < 0) {
			r = -errno;
			break;
		}
		total -= MIN(bytes, total);
		removed++;
	}
	session_series__list_free(paths);
	*ret_removed = removed;
	return r;
}
