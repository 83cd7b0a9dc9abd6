/* confine.c: confined directories (see confine.h).  Every path below the
 * base is resolved with openat(2) one component at a time, O_NOFOLLOW, from
 * the directory held open since it was created. */
#define _GNU_SOURCE
#include "harness/confine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/timer.h"

#define MAX_DEPTH 256 /* directory levels removed; deeper trees are refused */

int strata_confine_check_relative(const char *rel, char *err, size_t err_len)
{
	if (!rel || !*rel) {
		snprintf(
		    err, err_len,
		    "an empty path where a path relative to the working directory is expected");
		return -1;
	}
	if (strlen(rel) >= 4096) {
		snprintf(err, err_len, "path '%.64s...' is too long", rel);
		return -1;
	}
	if (rel[0] == '/') {
		snprintf(
		    err, err_len,
		    "'%s' is absolute where a path relative to the working directory is expected",
		    rel);
		return -1;
	}
	for (const char *p = rel; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			snprintf(err, err_len,
			         "'%s' has a '..' component: it could leave the working directory",
			         rel);
			return -1;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

int strata_confine_create(struct strata_confined_dir *d, const char *base, const char *prefix,
                          char *err, size_t err_len)
{
	memset(d, 0, sizeof(*d));
	d->dirfd = d->parentfd = -1;
	if (!prefix || !*prefix || strchr(prefix, '/') || strlen(prefix) > 200) {
		snprintf(err, err_len, "confine: bad directory prefix");
		return -1;
	}
	d->parentfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->parentfd < 0) {
		snprintf(err, err_len, "%s: cannot open directory: %s", base, strerror(errno));
		return -1;
	}
	uint64_t seed = (uint64_t)strata_now_ns() ^ ((uint64_t)getpid() << 32);
	for (int attempt = 0; attempt < 100; attempt++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		snprintf(d->name, sizeof(d->name), "%s-%06x", prefix,
		         (unsigned)(seed >> 40) & 0xffffffu);
		if (mkdirat(d->parentfd, d->name, 0700) == 0) {
			d->dirfd = openat(d->parentfd, d->name,
			                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (d->dirfd < 0)
				break; /* swapped between mkdir and open */
			snprintf(d->path, sizeof(d->path), "%s/%s", base, d->name);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	snprintf(err, err_len, "%s: cannot create a fresh directory %s: %s", base, d->name,
	         strerror(errno));
	close(d->parentfd);
	d->parentfd = -1;
	return -1;
}

/* Resolve every component of rel but the last, from d, never through a
 * symlink (creating missing directories when mkdirs).  Returns the fd of
 * the last directory (d->dirfd itself or one the caller closes) and points
 * *leaf at the last component inside buf; -1 with errno on failure. */
static int walk(const struct strata_confined_dir *d, const char *rel, int mkdirs, char *buf,
                size_t buf_len, const char **leaf)
{
	snprintf(buf, buf_len, "%s", rel);
	size_t n = strlen(buf);
	while (!mkdirs && n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	int cur = d->dirfd;
	char *p = buf;
	for (;;) {
		while (*p == '/')
			p++;
		char *slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		if (*p && strcmp(p, ".") != 0) {
			int next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next < 0 && errno == ENOENT && mkdirs) {
				if (mkdirat(cur, p, 0700) == 0 || errno == EEXIST)
					next =
					    openat(cur, p,
					           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			}
			int e = errno;
			if (cur != d->dirfd)
				close(cur);
			if (next < 0) {
				errno = e;
				return -1;
			}
			cur = next;
		}
		p = slash + 1;
	}
	*leaf = p;
	return cur;
}

static int bad_path(const char *rel, const char *what, char *err, size_t err_len)
{
	int e = errno;
	snprintf(err, err_len, "%s: %s: %s%s", rel, what, strerror(e),
	         e == ELOOP || e == ENOTDIR ? " (a symlink on the way is not followed)"
	         : e == EEXIST              ? " (already there: a file is only ever created fresh)"
	                                    : "");
	errno = e;
	return -1;
}

int strata_confine_open(const struct strata_confined_dir *d, const char *rel, int flags,
                        mode_t mode, char *err, size_t err_len)
{
	if (strata_confine_check_relative(rel, err, err_len))
		return (errno = EINVAL), -1;
	char buf[4096];
	const char *leaf;
	int parent = walk(d, rel, 0, buf, sizeof(buf), &leaf);
	if (parent < 0)
		return bad_path(rel, "cannot open", err, err_len);
	if (!*leaf || !strcmp(leaf, ".")) {
		if (parent != d->dirfd)
			close(parent);
		snprintf(err, err_len, "%s: names a directory, not a file", rel);
		return (errno = EISDIR), -1;
	}
	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (flags & O_CREAT)
		flags |= O_EXCL;
	int fd = openat(parent, leaf, flags, mode);
	int e = errno;
	if (parent != d->dirfd)
		close(parent);
	errno = e;
	if (fd < 0)
		return bad_path(rel, flags & O_CREAT ? "cannot create" : "cannot open", err,
		                err_len);
	return fd;
}

int strata_confine_mkdirs(const struct strata_confined_dir *d, const char *rel, char *err,
                          size_t err_len)
{
	if (strata_confine_check_relative(rel, err, err_len))
		return (errno = EINVAL), -1;
	char path[4200];
	snprintf(path, sizeof(path), "%s/", rel); /* every component is a directory */
	char buf[4200];
	const char *leaf;
	int fd = walk(d, path, 1, buf, sizeof(buf), &leaf);
	if (fd < 0)
		return bad_path(rel, "cannot create directory", err, err_len);
	if (fd != d->dirfd)
		close(fd);
	return 0;
}

/* Remove name in dirfd: a directory's contents first, depth-first; a
 * symlink or any other non-directory is unlinked itself. */
static int remove_at(int dirfd, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	if (depth >= MAX_DEPTH)
		return (errno = ELOOP), -1;
	int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0) {
		/* Swapped for a symlink since the fstatat: remove the link. */
		if (errno == ELOOP || errno == ENOTDIR)
			return unlinkat(dirfd, name, 0) == 0 ? 0 : -1;
		return -1;
	}
	struct stat st2;
	if (fstat(sub, &st2) != 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		close(sub);
		return (errno = ESTALE), -1;
	}
	int rc = 0;
	int listfd = dup(sub);
	DIR *dir = listfd >= 0 ? fdopendir(listfd) : NULL;
	if (!dir) {
		if (listfd >= 0)
			close(listfd);
		close(sub);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (remove_at(sub, e->d_name, depth + 1) != 0)
			rc = -1;
	}
	closedir(dir);
	close(sub);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int strata_confine_remove(const struct strata_confined_dir *d, const char *rel, char *err,
                          size_t err_len)
{
	if (strata_confine_check_relative(rel, err, err_len))
		return (errno = EINVAL), -1;
	char buf[4096];
	const char *leaf;
	int parent = walk(d, rel, 0, buf, sizeof(buf), &leaf);
	if (parent < 0)
		return bad_path(rel, "cannot remove", err, err_len);
	int rc = 0;
	if (!*leaf || !strcmp(leaf, ".")) {
		snprintf(err, err_len, "%s: names the working directory itself", rel);
		errno = EINVAL;
		rc = -1;
	} else if (remove_at(parent, leaf, 0) != 0) {
		rc = bad_path(rel, "cannot remove", err, err_len);
	}
	if (parent != d->dirfd)
		close(parent);
	return rc;
}

int strata_confine_destroy(struct strata_confined_dir *d, char *err, size_t err_len)
{
	if (d->dirfd < 0)
		return 0;
	int rc = 0;
	int listfd = dup(d->dirfd);
	DIR *dir = listfd >= 0 ? fdopendir(listfd) : NULL;
	if (!dir) {
		if (listfd >= 0)
			close(listfd);
		snprintf(err, err_len, "%s: cannot list: %s", d->path, strerror(errno));
		rc = -1;
	} else {
		struct dirent *e;
		while ((e = readdir(dir))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (remove_at(d->dirfd, e->d_name, 1) != 0 && rc == 0) {
				snprintf(err, err_len, "%s/%s: cannot remove: %s", d->path,
				         e->d_name, strerror(errno));
				rc = -1;
			}
		}
		closedir(dir);
	}
	/* Remove the directory by name only if the name still is it (not a
	 * symlink or another directory put in its place). */
	struct stat held, named;
	if (rc == 0) {
		if (fstat(d->dirfd, &held) != 0 ||
		    fstatat(d->parentfd, d->name, &named, AT_SYMLINK_NOFOLLOW) != 0 ||
		    held.st_dev != named.st_dev || held.st_ino != named.st_ino) {
			snprintf(err, err_len,
			         "%s: no longer the directory strata created; left alone", d->path);
			rc = -1;
		} else if (unlinkat(d->parentfd, d->name, AT_REMOVEDIR) != 0) {
			snprintf(err, err_len, "%s: cannot remove: %s", d->path, strerror(errno));
			rc = -1;
		}
	}
	close(d->dirfd);
	close(d->parentfd);
	d->dirfd = d->parentfd = -1;
	return rc;
}
