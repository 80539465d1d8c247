/*
 * rundir.c — creating the directory of a new run, finding an existing one,
 * and the checks that keep other users out of both.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rbc/rundir.h"

char *rundir_base(struct rbc_error *err)
{
	const char *v = getenv("RBC_RUNS_DIR");
	if (v && *v)
		return xstrdup(v);
	v = getenv("XDG_STATE_HOME");
	if (v && *v == '/')
		return xasprintf("%s/rbc/runs", v);
	v = getenv("HOME");
	if (v && *v)
		return xasprintf("%s/.local/state/rbc/runs", v);
	rbc_error_set(err, "no place for runs: set RBC_RUNS_DIR or HOME");
	return NULL;
}

/* mkdir -p with mode 0700 for what it creates. */
static bool mkdirs(const char *path, struct rbc_error *err)
{
	char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			rbc_error_set(err, "%s: %s", p, strerror(errno));
			free(p);
			return false;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return true;
}

static unsigned random16(void)
{
	unsigned v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
			v = 0;
		close(fd);
	}
	if (!v)
		v = (unsigned)getpid() ^ (unsigned)time(NULL);
	return v & 0xffff;
}

/* "uid 65534 (nobody)", for messages (a new string). */
static char *user_of(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	return pw && pw->pw_name ? xasprintf("uid %u (%s)", (unsigned)uid, pw->pw_name)
	                         : xasprintf("uid %u", (unsigned)uid);
}

/* Whether dir, which a name on the way to base is looked up in, is safe:
   ours or root's, and writable by no one else unless sticky. inside: dir
   holds the runs directory (else it holds a link leading there). */
static bool dir_trusted(const char *base, const char *dir, bool inside, struct rbc_error *err)
{
	struct stat st;
	if (lstat(dir, &st) != 0)
		return true; /* gone: the lookup in it fails anyway */
	const char *how = inside ? "is inside" : "is reached through";
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		char *owner = user_of(st.st_uid);
		rbc_error_set(err, "the runs directory %s %s %s, which belongs to %s: its owner could swap "
		              "the runs directory; set RBC_RUNS_DIR to a directory of your own", base, how, dir, owner);
		free(owner);
		return false;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		rbc_error_set(err, "the runs directory %s %s %s, writable by %s (mode %04o) without the sticky "
		              "bit: another user could swap the runs directory; set RBC_RUNS_DIR elsewhere", base, how,
		              dir, st.st_mode & S_IWOTH ? "everyone" : "its group", (unsigned)(st.st_mode & 07777));
		return false;
	}
	return true;
}

/*
 * Whoever may rename a directory on the way to base, or change a symbolic
 * link on the way, may swap the runs directory itself. base is walked as
 * the kernel resolves it, one name at a time from "/" (a relative base
 * from the working directory): every directory a name is looked up in must
 * pass dir_trusted, and every link met must be ours or root's (in a sticky
 * directory such as /tmp, a link of another user's is theirs to point
 * elsewhere at any time); what a link names is walked the same way.
 */
static bool path_trusted(const char *base, struct rbc_error *err)
{
	char *real = realpath(base, NULL);
	struct strbuf cur = {0}, rest = {0};
	if (base[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		if (cwd)
			sb_adds(&rest, cwd);
		free(cwd);
		sb_addc(&rest, '/');
	}
	sb_adds(&rest, base);
	bool ok = true;
	int links = 0;
	while (ok && rest.len) {
		/* The next name off the front of rest. */
		char *s = rest.s;
		size_t skip = strspn(s, "/"), n = strcspn(s + skip, "/");
		char *name = xstrndup(s + skip, n);
		size_t used = skip + n;
		memmove(s, s + used, rest.len - used + 1);
		rest.len -= used;
		if (!*name || strcmp(name, ".") == 0) {
			free(name);
			continue;
		}
		if (strcmp(name, "..") == 0) { /* cur holds no link: its parent is lexical */
			char *slash = cur.len ? strrchr(cur.s, '/') : NULL;
			cur.len = slash ? (size_t)(slash - cur.s) : 0;
			if (cur.s)
				cur.s[cur.len] = '\0';
			free(name);
			continue;
		}
		const char *dir = cur.len ? sb_borrow(&cur) : "/";
		size_t dl = strlen(dir);
		bool inside = real && strncmp(real, dir, dl) == 0 && (dl == 1 || real[dl] == '/');
		ok = dir_trusted(base, dir, inside, err);
		size_t keep = cur.len;
		sb_addf(&cur, "/%s", name);
		free(name);
		struct stat st;
		if (!ok || lstat(cur.s, &st) != 0)
			break;
		if (!S_ISLNK(st.st_mode))
			continue;
		if (st.st_uid != geteuid() && st.st_uid != 0) {
			char *owner = user_of(st.st_uid);
			rbc_error_set(err, "the runs directory %s is reached through the symbolic link %s, which belongs "
			              "to %s: its owner could point it elsewhere; set RBC_RUNS_DIR to a directory of your own",
			              base, cur.s, owner);
			free(owner);
			ok = false;
			break;
		}
		char to[4096];
		ssize_t tn = readlink(cur.s, to, sizeof to - 1);
		if (tn <= 0 || ++links > 40)
			break; /* the lookup itself fails */
		to[tn] = '\0';
		/* rest = target + "/" + rest, from "/" or from the link's directory */
		char *was = sb_take(&rest);
		sb_addf(&rest, "%s/%s", to, was ? was : "");
		free(was);
		cur.len = to[0] == '/' ? 0 : keep;
		if (cur.s)
			cur.s[cur.len] = '\0';
	}
	sb_free(&cur);
	sb_free(&rest);
	free(real);
	return ok;
}

bool rundir_base_trusted(const char *base, struct rbc_error *err)
{
	struct stat st;
	if (stat(base, &st) != 0) {
		rbc_error_set(err, "the runs directory %s: %s", base, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		rbc_error_set(err, "the runs directory %s is not a directory", base);
		return false;
	}
	if (st.st_uid != geteuid()) {
		char *owner = user_of(st.st_uid), *me = user_of(geteuid());
		rbc_error_set(err, "the runs directory %s belongs to %s, not to %s who runs rbc: its owner could swap a "
		              "run's files; set RBC_RUNS_DIR to a directory of your own", base, owner, me);
		free(owner);
		free(me);
		return false;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		rbc_error_set(err, "the runs directory %s is writable by %s (mode %04o) without the sticky bit: another "
		              "user could swap a run's files; chmod go-w it (or +t), or set RBC_RUNS_DIR", base,
		              st.st_mode & S_IWOTH ? "everyone" : "its group", (unsigned)(st.st_mode & 07777));
		return false;
	}
	return path_trusted(base, err);
}

/* Whether path (not followed when nofollow) is ours and of the type wanted. */
static bool owned(const char *path, bool nofollow, mode_t type, const char *what, struct rbc_error *err)
{
	struct stat st;
	if ((nofollow ? lstat(path, &st) : stat(path, &st)) != 0) {
		rbc_error_set(err, "%s: %s", path, strerror(errno));
		return false;
	}
	if ((st.st_mode & S_IFMT) != type) {
		rbc_error_set(err, "%s is not a %s%s", path, what,
		              S_ISLNK(st.st_mode) ? " but a symbolic link: refused" : ": refused");
		return false;
	}
	if (st.st_uid != geteuid()) {
		char *owner = user_of(st.st_uid), *me = user_of(geteuid());
		rbc_error_set(err, "%s belongs to %s, not to %s: a run is resumed only by the user whose it is", path,
		              owner, me);
		free(owner);
		free(me);
		return false;
	}
	return true;
}

/* Whether the file at path (not followed) has no other name: a journal
   with a hard link elsewhere is another file's too. */
static bool one_name(const char *path, struct rbc_error *err)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		rbc_error_set(err, "%s: %s", path, strerror(errno));
		return false;
	}
	if (st.st_nlink != 1) {
		rbc_error_set(err, "%s has other names (%ju hard links): rbc writes a journal with one name only, "
		              "refused", path, (uintmax_t)st.st_nlink);
		return false;
	}
	return true;
}

bool rundir_owned(const char *dir, struct rbc_error *err)
{
	char *journal = xasprintf("%s/journal.jsonl", dir), *out = xasprintf("%s/out", dir);
	struct stat st;
	bool ok = owned(dir, false, S_IFDIR, "directory", err) &&
	          owned(journal, true, S_IFREG, "regular file", err) && one_name(journal, err) &&
	          (lstat(out, &st) != 0 || owned(out, true, S_IFDIR, "directory", err));
	free(journal);
	free(out);
	return ok;
}

int rundir_open_file(const char *dir, const char *rel, int flags, unsigned mode)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	char *names = xstrdup(rel), *name = names;
	for (char *slash; (slash = strchr(name, '/')); name = slash + 1) {
		*slash = '\0';
		int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(dfd);
		if (sub < 0) {
			free(names);
			errno = e;
			return -1;
		}
		dfd = sub;
	}
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
	int e = errno;
	close(dfd);
	free(names);
	errno = e;
	return fd;
}

int rundir_open_output(const char *dir, const char *name)
{
	int fd = rundir_open_file(dir, name, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* The run's owner is whoever its journal belongs to: the user rbc
	   ran as when it made the journal and the outputs. */
	char *journal = xasprintf("%s/journal.jsonl", dir);
	struct stat st, js;
	int e = 0;
	if (fstat(fd, &st) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	else if (st.st_nlink != 1 || lstat(journal, &js) != 0 || st.st_uid != js.st_uid)
		e = EPERM;
	free(journal);
	if (e) {
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

char *rundir_output_name(const char *recorded)
{
	if (!recorded)
		return NULL;
	size_t n = strlen(recorded);
	const char *name = recorded + n;
	while (name > recorded && name[-1] != '/')
		name--;
	size_t len = n - (size_t)(name - recorded);
	if (len <= 4 || len > 255 || strcmp(name + len - 4, ".out") != 0)
		return NULL;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return NULL;
	}
	/* …and the directory holding it is a run's out/ */
	size_t dirlen = (size_t)(name - recorded);
	if (!(dirlen == 4 || (dirlen > 4 && recorded[dirlen - 5] == '/')) ||
	    strncmp(recorded + dirlen - 4, "out/", 4) != 0)
		return NULL;
	return xasprintf("out/%s", name);
}

bool rundir_create(const char *runbook_id, struct rundir *rd, struct rbc_error *err)
{
	memset(rd, 0, sizeof *rd);
	char *base = rundir_base(err);
	if (!base || !mkdirs(base, err) || !rundir_base_trusted(base, err)) {
		free(base);
		return false;
	}
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	struct strbuf id = {0};
	sb_addf(&id, "%s-", stamp);
	for (const char *p = runbook_id; *p && id.len < 80; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '-' || c == '_' || c == '.';
		sb_addc(&id, ok ? c : '_');
	}
	size_t keep = id.len;
	for (int tries = 0; tries < 100; tries++) {
		id.len = keep;
		id.s[keep] = '\0';
		sb_addf(&id, "-%04x", random16());
		char *path = xasprintf("%s/%s", base, sb_borrow(&id));
		if (mkdir(path, 0700) == 0) {
			rd->id = sb_take(&id);
			rd->path = path;
			rd->out = xasprintf("%s/out", path);
			free(base);
			if (mkdir(rd->out, 0700) != 0) {
				rbc_error_set(err, "%s: %s", rd->out, strerror(errno));
				rundir_free(rd);
				return false;
			}
			return true;
		}
		int er = errno;
		free(path);
		if (er != EEXIST) {
			rbc_error_set(err, "%s/%s: %s", base, sb_borrow(&id), strerror(er));
			break;
		}
	}
	if (!err->msg)
		rbc_error_set(err, "%s: cannot create a run directory", base);
	sb_free(&id);
	free(base);
	return false;
}

bool rundir_open(const char *run, struct rundir *rd, struct rbc_error *err)
{
	memset(rd, 0, sizeof *rd);
	struct stat st;
	char *dir = NULL;
	if (strchr(run, '/') && stat(run, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir = xstrdup(run);
	} else {
		char *base = rundir_base(err);
		if (!base)
			return false;
		dir = xasprintf("%s/%s", base, run);
		if (strchr(run, '/') || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			rbc_error_set(err, "no run %s (rbc runs lists them)", run);
			free(dir);
			free(base);
			return false;
		}
		/* A run found by its id is only as trustworthy as where it was found. */
		bool trusted = rundir_base_trusted(base, err);
		free(base);
		if (!trusted) {
			free(dir);
			rd->refused = true;
			return false;
		}
	}
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	const char *slash = strrchr(dir, '/');
	rd->id = xstrdup(slash ? slash + 1 : dir);
	rd->path = dir;
	rd->out = xasprintf("%s/out", dir);
	return true;
}

bool rundir_discard(const struct rundir *rd)
{
	int dfd = open(rd->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return false;
	unlinkat(dfd, "journal.jsonl", 0);
	unlinkat(dfd, "out", AT_REMOVEDIR);
	close(dfd);
	return rmdir(rd->path) == 0;
}

void rundir_free(struct rundir *rd)
{
	free(rd->id);
	free(rd->path);
	free(rd->out);
	memset(rd, 0, sizeof *rd);
}
