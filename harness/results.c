/* results.c: run directory, atomic files, JSON lines and MLLOG lines. */
#define _GNU_SOURCE
#include "harness/results.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "harness/timer.h"

static int mkdir_p(const char *path, char *err, size_t err_len)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		snprintf(err, err_len, "%s: path too long", path);
		return -1;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
			snprintf(err, err_len, "%s: cannot create directory: %s", tmp, strerror(errno));
			return -1;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
		snprintf(err, err_len, "%s: cannot create directory: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

int strata_results_make_dir(const char *base, const char *explicit_dir, char *out, size_t out_len,
			    char *err, size_t err_len)
{
	if (explicit_dir) {
		char manifest[4200];
		snprintf(manifest, sizeof(manifest), "%s/manifest.json", explicit_dir);
		if (access(manifest, F_OK) == 0) {
			snprintf(err, err_len,
				 "%s: already holds a run (manifest.json); choose a new directory, strata never overwrites results",
				 explicit_dir);
			return -1;
		}
		if (mkdir_p(explicit_dir, err, err_len))
			return -1;
		snprintf(out, out_len, "%s", explicit_dir);
		return 0;
	}
	if (mkdir_p(base, err, err_len))
		return -1;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	uint64_t seed = (uint64_t)strata_now_ns() ^ ((uint64_t)getpid() << 20);
	for (int attempt = 0; attempt < 100; attempt++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		snprintf(out, out_len, "%s/%s-%06x", base, stamp, (unsigned)(seed >> 40) & 0xffffffu);
		if (mkdir(out, 0755) == 0)
			return 0;
		if (errno != EEXIST) {
			snprintf(err, err_len, "%s: cannot create directory: %s", out, strerror(errno));
			return -1;
		}
	}
	snprintf(err, err_len, "%s: could not find a free run directory name", base);
	return -1;
}

/* A new file of a new run: O_EXCL (a run never appends to files it did not
 * create) and O_NOFOLLOW (a symlink planted in the directory is refused, not
 * followed).  Written only with write(2) (write_line), never through stdio
 * buffers, so a failed write can be undone exactly. */
static FILE *open_append(const char *dir, const char *name, char *err, size_t err_len)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f) {
		snprintf(err, err_len, "%s: cannot create for writing: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return f;
}

/* Append text (one or more whole lines) and fsync.  On any failure (disk
 * full, quota, EFBIG, I/O error) cut the file back to its length before, so
 * it only ever holds whole lines; returns -1 with errno set. */
static int write_line(FILE *f, const char *text, size_t len)
{
	int fd = fileno(f);
	off_t before = lseek(fd, 0, SEEK_END);
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off == len && fsync(fd) == 0)
		return 0;
	int e = off == len ? errno : (errno ? errno : EIO);
	if (before >= 0 && ftruncate(fd, before) == 0)
		fsync(fd);
	errno = e;
	return -1;
}

int strata_results_open(struct strata_results *r, const char *dir, char *err, size_t err_len)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	/* Say so now, not after an hour of measuring, if there is no room. */
	struct statvfs vfs;
	if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < STRATA_RESULTS_MIN_FREE_BYTES) {
		snprintf(err, err_len, "%s: only %llu bytes free on its file system; a run needs at least %d",
			 dir, (unsigned long long)vfs.f_bavail * vfs.f_frsize, STRATA_RESULTS_MIN_FREE_BYTES);
		return -1;
	}
	r->jsonl = open_append(dir, "results.jsonl", err, err_len);
	if (!r->jsonl)
		return -1;
	r->mllog = open_append(dir, "mllog.txt", err, err_len);
	if (!r->mllog) {
		fclose(r->jsonl);
		r->jsonl = NULL;
		return -1;
	}
	return 0;
}

void strata_results_close(struct strata_results *r)
{
	if (r->jsonl)
		fclose(r->jsonl);
	if (r->mllog)
		fclose(r->mllog);
	r->jsonl = r->mllog = NULL;
}

int strata_results_append(struct strata_results *r, const json_t *record, char *err, size_t err_len)
{
	char *line = json_dumps(record, JSON_COMPACT | JSON_REAL_PRECISION(15));
	size_t len = line ? strlen(line) : 0;
	char *nl = line ? realloc(line, len + 2) : NULL;
	if (!nl) {
		free(line);
		snprintf(err, err_len, "cannot serialise a result record");
		return -1;
	}
	line = nl;
	memcpy(line + len, "\n", 2);
	int bad = !r->jsonl || write_line(r->jsonl, line, len + 1) != 0;
	free(line);
	if (bad) {
		snprintf(err, err_len, "%s/results.jsonl: write failed: %s", r->dir, strerror(errno));
		return -1;
	}
	return 0;
}

void strata_results_mllog(struct strata_results *r, const char *event_type, const char *key,
			  json_t *value, json_t *metadata)
{
	strata_results_mllog_at(r, strata_wall_ms(), event_type, key, value, metadata);
}

void strata_results_mllog_at(struct strata_results *r, int64_t time_ms, const char *event_type,
			     const char *key, json_t *value, json_t *metadata)
{
	json_t *o = json_object();
	json_object_set_new(o, "namespace", json_string(""));
	json_object_set_new(o, "time_ms", json_integer(time_ms));
	if (!event_type)
		event_type = "POINT_IN_TIME";
	if (!key)
		key = "unknown";
	json_object_set_new(o, "event_type", json_string(event_type));
	json_object_set_new(o, "key", json_string(key));
	json_object_set_new(o, "value", value ? value : json_null());
	json_object_set_new(o, "metadata", metadata ? metadata : json_object());
	char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_PRESERVE_ORDER);
	json_decref(o);
	char *text = NULL;
	if (line && r->mllog && asprintf(&text, ":::MLLOG %s\n", line) >= 0)
		write_line(r->mllog, text, strlen(text)); /* best effort: results.jsonl is the record */
	free(text);
	free(line);
}

int strata_write_json_atomic(const char *path, const json_t *obj, char *err, size_t err_len)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	unlink(tmp); /* a leftover of a crashed process with the same pid */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, err_len, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	int rc = -1;
	if (!text) {
		snprintf(err, err_len, "%s: cannot serialise", path);
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, err_len, "%s: write failed: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		snprintf(err, err_len, "%s: write failed: %s", tmp, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(text);
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(err, err_len, "%s: rename failed: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	char dircopy[4200];
	snprintf(dircopy, sizeof(dircopy), "%s", path);
	int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
