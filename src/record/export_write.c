/*
 * export_write.c — where an export goes (export.h): written atomically to a
 * file (temporary name, fsync, rename, fsync of the directory), or in
 * place on a device, a FIFO or a descriptor rbc was handed, and never over
 * a file of a run's record.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbc/export.h"
#include "rbc/journal.h"
#include "rbc/util.h"

/* text to path atomically, mode 0600 (export.h). */
bool export_write_file(const char *path, const char *text, struct rbc_error *err)
{
	/* A name no one can guess ahead (O_EXCL, mode 0600, random suffix,
	   tried again while taken): a link planted there is never written
	   through, nor does it stop the export. */
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rbc_error_set(err, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return false;
	}
	int e = 0;
	bool ok = fd_write_all(fd, text, strlen(text), &e);
	if (ok && fsync(fd) != 0) {
		ok = false;
		e = errno;
	}
	if (close(fd) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		rbc_error_set(err, "cannot write %s: %s", path, strerror(e));
		unlink(tmp);
		free(tmp);
		return false;
	}
	free(tmp);
	/* The rename itself is on disk once the directory is. */
	char *d = xstrdup(path);
	int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(d);
	return true;
}

/* Writes text into the file open on fd, which is not a regular file (a
   device, a pipe, a terminal): there is nothing to rename over it. */
static bool write_in_place(int fd, const char *path, const char *text, struct rbc_error *err)
{
	int e = 0;
	bool ok = fd_write_all(fd, text, strlen(text), &e);
	/* A pipe or a terminal cannot be synced: that is no failure. */
	if (ok && fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS) {
		ok = false;
		e = errno;
	}
	if (close(fd) != 0 && ok && errno != EINTR) {
		ok = false;
		e = errno;
	}
	if (!ok)
		rbc_error_set(err, "cannot write %s: %s", path, strerror(e));
	return ok;
}

/* The descriptor path names when the name stands for a descriptor of this
   process (/dev/stdin, /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N,
   /proc/PID/fd/N with our PID, /proc/thread-self/fd/N), else -1. The
   directory part is resolved (/dev/fd is itself a link), the last name
   is not: opening it would reopen the file behind the descriptor. */
static int fd_of_name(const char *path)
{
	char *d = xstrdup(path), *b = xstrdup(path);
	char *dir = realpath(dirname(d), NULL);
	const char *base = basename(b);
	int fd = -1;
	char *end;
	if (dir && strcmp(dir, "/dev") == 0) {
		static const char *const std[] = {"stdin", "stdout", "stderr"};
		for (int i = 0; i < 3; i++)
			if (strcmp(base, std[i]) == 0)
				fd = i;
	} else if (dir && *base >= '0' && *base <= '9') {
		long n = strtol(base, &end, 10);
		char *self = xasprintf("/proc/%ld/fd", (long)getpid());
		char *task = xasprintf("/proc/%ld/task/%ld/fd", (long)getpid(), (long)gettid());
		if (!*end && n >= 0 && n < 1048576 && (strcmp(dir, self) == 0 || strcmp(dir, task) == 0))
			fd = (int)n;
		free(self);
		free(task);
	}
	free(dir);
	free(d);
	free(b);
	return fd;
}

/* The descriptor path stands for, or a link to such a name (as a link of
   the user's to /dev/stdout), else -1. */
static int held_fd(const char *path)
{
	char *p = xstrdup(path);
	int fd = fd_of_name(p);
	for (int hops = 0; fd < 0 && hops < 16; hops++) {
		char to[4096];
		ssize_t n = readlink(p, to, sizeof to - 1);
		if (n <= 0)
			break;
		to[n] = '\0';
		char *d = xstrdup(p);
		char *next = to[0] == '/' ? xstrdup(to) : xasprintf("%s/%s", dirname(d), to);
		free(d);
		free(p);
		p = next;
		fd = fd_of_name(p);
	}
	free(p);
	return fd;
}

/* Writes text on fd, a descriptor rbc was given when it started (the
   shell's redirection), where it stands: at its offset, or at the end when
   it appends. It stays open, and whatever is behind it stays. */
static bool write_on_fd(int fd, const char *path, const char *text, struct rbc_error *err)
{
	/* Descriptors rbc opens itself are close-on-exec; one it was handed
	   (one that survived an exec) is not. */
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0) {
		rbc_error_set(err, "cannot write %s: descriptor %d is not open (%s)", path, fd, strerror(errno));
		return false;
	}
	if (flags & FD_CLOEXEC) {
		rbc_error_set(err, "cannot write %s: descriptor %d is not one rbc was given", path, fd);
		return false;
	}
	int e = 0;
	bool ok = fd_write_all(fd, text, strlen(text), &e);
	struct stat st;
	if (ok && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(fd) != 0 && errno != EINVAL) {
		ok = false;
		e = errno;
	}
	if (!ok)
		rbc_error_set(err, "cannot write %s: %s", path, strerror(e));
	return ok;
}

/* Whether dir is a run's directory: it holds a journal and out/. */
static bool is_run_dir(const char *dir)
{
	char *j = xasprintf("%s/journal.jsonl", dir), *o = xasprintf("%s/out", dir);
	struct stat st;
	bool yes = lstat(j, &st) == 0 && lstat(o, &st) == 0 && S_ISDIR(st.st_mode);
	free(j);
	free(o);
	return yes;
}

/* Whether writing path (through a link: the file it names) would replace
   or add to a run's record: the journal of a run directory, or anything in
   its out/. */
static bool of_a_record(const char *path)
{
	struct stat st;
	char *target = lstat(path, &st) == 0 && S_ISLNK(st.st_mode) ? realpath(path, NULL) : NULL;
	char *d = xstrdup(target ? target : path), *b = xstrdup(target ? target : path);
	char *dir = realpath(dirname(d), NULL);
	const char *base = basename(b);
	bool yes = false;
	if (dir) {
		const char *slash = strrchr(dir, '/');
		char *parent = slash && slash > dir ? xstrndup(dir, (size_t)(slash - dir)) : xstrdup("/");
		yes = (strcmp(base, JOURNAL_FILE) == 0 && is_run_dir(dir)) ||
		      (slash && strcmp(slash + 1, "out") == 0 && is_run_dir(parent));
		free(parent);
	}
	free(dir);
	free(d);
	free(b);
	free(target);
	return yes;
}

/* text where -o names, by what the name stands for (export.h). */
bool export_write_to(const char *path, const char *text, struct rbc_error *err)
{
	/* /dev/stdout and its kin name a descriptor already open: written on
	   it, never reopened by name (that would replace the file behind it). */
	int held = held_fd(path);
	if (held >= 0)
		return write_on_fd(held, path, text, err);
	if (of_a_record(path)) {
		rbc_error_set(err, "cannot write %s: it is part of the record of a run (its journal or out/), which "
		              "an export never replaces; write the export elsewhere", path);
		return false;
	}
	struct stat st;
	if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))
		return export_write_file(path, text, err); /* a new file, or a regular one */
	if (S_ISLNK(st.st_mode)) {
		/* A link to a regular file: that file is replaced, the link stays. */
		char *real = realpath(path, NULL);
		bool regular = real && stat(real, &st) == 0 && S_ISREG(st.st_mode);
		bool ok = regular ? export_write_file(real, text, err) : false;
		free(real);
		if (regular)
			return ok;
		if (stat(path, &st) != 0)
			return export_write_file(path, text, err); /* dangling: as before, a new file */
	}
	if (S_ISDIR(st.st_mode)) {
		rbc_error_set(err, "cannot write %s: it is a directory", path);
		return false;
	}
	/* A device, a FIFO, a socket (or a link to one): written in place. */
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rbc_error_set(err, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		close(fd); /* it became a regular file meanwhile */
		return export_write_file(path, text, err);
	}
	return write_in_place(fd, path, text, err);
}
