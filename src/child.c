/* The workload barrier, waiting for and stopping the command, and small
 * argv helpers; see child.h. */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/util/util.h"
#include "domprof.h"

int child_prepare(char **argv, struct child *ch)
{
	int go[2], err[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		return -e;
	}
	ch->pid = fork();
	if (ch->pid < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		close(err[0]);
		close(err[1]);
		return -e;
	}
	if (ch->pid == 0) {
		char c;
		int e;
		close(go[1]);
		close(err[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(err[1]);
	ch->go_fd = go[1];
	ch->error_fd = err[0];
	return 0;
}

int child_start(struct child *ch)
{
	int e = 0;
	ssize_t n;
	if (write(ch->go_fd, "g", 1) != 1)
		return -errno;
	close(ch->go_fd);
	ch->go_fd = -1;
	/* EOF (the pipe closed on exec) means the exec worked. */
	n = read(ch->error_fd, &e, sizeof(e));
	close(ch->error_fd);
	ch->error_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		waitpid(ch->pid, NULL, 0);
		ch->pid = 0;
		return -e;
	}
	return 0;
}

int child_watch(struct child *ch)
{
	int fd;
	if (ch->pid <= 0 || ch->exited)
		return -ESRCH;
	if (ch->pid_fd >= 0)
		return ch->pid_fd;
	fd = (int)syscall(SYS_pidfd_open, ch->pid, 0); /* close-on-exec */
	if (fd < 0)
		return -errno;
	return ch->pid_fd = fd;
}

bool child_poll(struct child *ch, struct rusage *ru)
{
	if (ch->pid > 0 && !ch->exited && wait4(ch->pid, &ch->status, WNOHANG, ru) == ch->pid)
		ch->exited = true;
	return ch->exited;
}

void child_stop(struct child *ch)
{
	if (ch->pid > 0 && !ch->exited) {
		if (ch->go_fd >= 0) {
			kill(ch->pid, SIGKILL); /* never released: it is still at the barrier */
		} else {
			kill(ch->pid, SIGTERM);
			for (int waited = 0; waited < CHILD_STOP_GRACE_MS && !child_poll(ch, NULL); waited += 100)
				usleep(100000);
			if (!ch->exited)
				kill(ch->pid, SIGKILL);
		}
		if (!ch->exited) {
			while (waitpid(ch->pid, &ch->status, 0) < 0 && errno == EINTR)
				;
			ch->exited = true;
		}
	}
	if (ch->go_fd >= 0)
		close(ch->go_fd);
	if (ch->error_fd >= 0)
		close(ch->error_fd);
	if (ch->pid_fd >= 0)
		close(ch->pid_fd);
	ch->go_fd = ch->error_fd = ch->pid_fd = -1;
}

void child_note_exit(const struct child *ch)
{
	if (ch->exited && WIFEXITED(ch->status) && WEXITSTATUS(ch->status) != 0)
		log_info("the command exited with status %d", WEXITSTATUS(ch->status));
}

char *argv_join(int argc, char **argv)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (int i = 0; i < argc; i++) {
		if (i)
			strbuf_addc(&sb, ' ');
		strbuf_adds(&sb, argv[i]);
	}
	return strbuf_detach(&sb);
}

int command_find(const char *name)
{
	_cleanup_free_ char *path = NULL;
	const char *dirs = getenv("PATH");
	if (!*name)
		return -ENOENT;
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? 0 : -errno;
	path = xstrdup(dirs && *dirs ? dirs : "/usr/local/bin:/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *full = xasprintf("%s/%s", *d ? d : ".", name);
		if (access(full, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}
