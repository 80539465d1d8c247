/*
 * rundir.c — creating the directory of a new run.
 */
#include <errno.h>
#include <fcntl.h>
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

bool rundir_create(const char *runbook_id, struct rundir *rd, struct rbc_error *err)
{
	memset(rd, 0, sizeof *rd);
	char *base = rundir_base(err);
	if (!base || !mkdirs(base, err)) {
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
		free(base);
		if (strchr(run, '/') || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			rbc_error_set(err, "no run %s (rbc runs lists them)", run);
			free(dir);
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

void rundir_free(struct rundir *rd)
{
	free(rd->id);
	free(rd->path);
	free(rd->out);
	memset(rd, 0, sizeof *rd);
}
