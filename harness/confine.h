/* confine.h: a fresh directory for the files a suite writes (storage test
 * files, training data shards), and the only ways to touch paths inside it.
 *
 * A plan names a base directory (trusted: the user chose it, symlinks in it
 * are followed); everything below is not trusted, since other users and
 * jobs share scratch file systems.  So:
 *   - the working directory is created fresh (base/<prefix>-XXXXXX, mode
 *     0700), never reused, and held open: every later operation is relative
 *     to that open directory, not to a path that could be swapped;
 *   - a path a plan gives relative to it is refused when absolute, empty or
 *     holding a '..' component (strata_confine_check_relative);
 *   - no symlink is followed below the base: each directory on a path is
 *     opened O_NOFOLLOW one at a time, files are created O_CREAT|O_EXCL|
 *     O_NOFOLLOW (a file planted where one will be created, symlink or not,
 *     is refused, never reused), and deleting removes a symlink itself,
 *     never what it points to.
 * It is not a sandbox: it does not stop a suite's own code from calling
 * open() on any path, and it does not defend against the same user (who can
 * change the files anyway).
 */
#ifndef STRATA_CONFINE_H
#define STRATA_CONFINE_H

#include <stddef.h>
#include <sys/types.h>

struct strata_confined_dir {
	int dirfd;       /* the fresh directory, O_DIRECTORY|O_NOFOLLOW; -1 when closed */
	int parentfd;    /* the base it was created in */
	char name[256];  /* its name in the base */
	char path[4096]; /* base/name, for messages only */
};

/* A path a plan gives relative to a confined directory: 0, or -1 with a
 * message naming the path and what is wrong with it. */
int strata_confine_check_relative(const char *rel, char *err, size_t err_len);

/* Create base/<prefix>-XXXXXX (mode 0700) and open it.  base must exist. */
int strata_confine_create(struct strata_confined_dir *d, const char *base, const char *prefix,
                          char *err, size_t err_len);

/* Open rel beneath d (checked with strata_confine_check_relative) without
 * following a symlink in any component.  flags as for open(2); with O_CREAT
 * the file must not exist (O_EXCL is added).  Returns the fd or -1 (errno
 * set: ELOOP/ENOTDIR for a symlink on the way, EEXIST for a planted file). */
int strata_confine_open(const struct strata_confined_dir *d, const char *rel, int flags,
                        mode_t mode, char *err, size_t err_len);

/* mkdir -p rel beneath d (mode 0700), never through a symlink. */
int strata_confine_mkdirs(const struct strata_confined_dir *d, const char *rel, char *err,
                          size_t err_len);

/* Remove rel beneath d: a file, a symlink (itself), or a directory tree,
 * never following a symlink. */
int strata_confine_remove(const struct strata_confined_dir *d, const char *rel, char *err,
                          size_t err_len);

/* Remove everything in d, then d itself (only if the name still is that
 * directory), and close it.  Never follows a symlink. */
int strata_confine_destroy(struct strata_confined_dir *d, char *err, size_t err_len);

#endif
