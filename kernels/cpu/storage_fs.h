/* storage_fs.h: the storage suites' dealings with the file system around the
 * measured I/O: a private work directory, its removal, free space, which
 * file system and device a path lives on, and the page cache.
 *
 * What it is: the safety and bookkeeping layer.  Every storage case works only
 * inside a unique subdirectory it creates (mkdir is exclusive: it fails on
 * anything already there, a symlink included) in the directory the plan
 * names; every later file operation is relative to that directory's
 * descriptor with O_NOFOLLOW, and removal (unlinkat, never following a
 * symlink) happens at teardown, on failure, and so after SIGINT/SIGTERM (the
 * runner stops at a repetition boundary and tears the case down).
 * What it is not: the measured I/O (storage_io.c), or protection against
 * SIGKILL or a crash (then the directory strata-<pid>-<hex> stays behind).
 */
#ifndef STRATA_STORAGE_FS_H
#define STRATA_STORAGE_FS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <mpi.h>

/* ---- the work directory (collective) -------------------------------------- */

struct strata_storage_ws {
	char base[PATH_MAX];     /* the directory the plan named, resolved (realpath) */
	char name[96];           /* the unique subdirectory's name in base */
	char path[PATH_MAX];     /* base/name */
	const char *base_source; /* "plan", "TMPDIR" or "/tmp" */
	int basefd;              /* base, O_DIRECTORY; -1 closed */
	int dirfd;               /* base/name, O_DIRECTORY | O_NOFOLLOW; -1 closed */
	int created_here;        /* this rank made it and removes it */
	int shared;              /* every rank saw rank 0's directory (one file system) */
	int hosts_created;       /* hosts that had to make their own copy */
	MPI_Comm comm;           /* private duplicate; MPI_COMM_NULL closed */
	int rank, nranks, local_rank, local_size;
};

/* The directory a plan's `dir` means: itself when not empty, else $TMPDIR
 * when set, else /tmp.  *source says which. */
const char *strata_storage_default_dir(const char *dir, const char **source);

/* Create the work directory (collective over comm).  Rank 0 makes
 * base/strata-<pid>-<hex> (exclusive mkdir, mode 0700, retried under another
 * name if taken); the lowest rank of each host that cannot see it (a
 * node-local file system) makes the same name there.  Every rank then opens it
 * with O_NOFOLLOW and checks that it is a directory owned by this user.
 * Returns 0 on every rank, or -1 on every rank with a message in err (the
 * first failing rank's, on all). */
int strata_storage_ws_open(struct strata_storage_ws *ws, MPI_Comm comm, int rank, int nranks,
                           int local_rank, int local_size, const char *dir, char *err,
                           size_t err_len);

/* Collective agreement on failure: returns 1 on every rank when any rank
 * passed bad != 0, and then err holds, on every rank, the lowest failing
 * rank's message prefixed with "rank N: "; returns 0 otherwise. */
int strata_storage_agree(MPI_Comm comm, int rank, int nranks, int bad, char *err, size_t err_len);

/* Remove the work directory and everything in it (collective: a barrier, then
 * each creator removes its copy).  Safe on a closed ws. */
void strata_storage_ws_close(struct strata_storage_ws *ws);

/* Remove dirfd/name and everything below it without following symlinks
 * (unlinkat; directories opened with O_NOFOLLOW | O_DIRECTORY).  Returns 0 or
 * -1 with errno of the first failure (the rest is still attempted). */
int strata_storage_rmtree_at(int dirfd, const char *name);

/* Entries of the directory dirfd (not . and ..), -1 on error. */
long strata_storage_count_entries(int dirfd);

/* ---- space, mount, device --------------------------------------------------- */

/* Bytes an unprivileged writer may still use (statvfs f_bavail x f_frsize). */
int strata_storage_free_bytes(const char *path, uint64_t *bytes);

struct strata_storage_mount {
	int found;
	char mount_point[PATH_MAX];
	char fstype[64];
	char source[PATH_MAX];    /* mount source (device path, server:/export, ...) */
	char options[512];        /* per-mount options (rw,relatime, ...) */
	char super_options[1024]; /* file system options */
	unsigned dev_major, dev_minor;
	char block_device[64];   /* sysfs name of the device (vda, nvme0n1p2), "" */
	char disk[64];           /* whole disk of a partition (nvme0n1), "" */
	char model[128];         /* /sys/class/block/<disk>/device/model, "" */
	int rotational;          /* /sys/class/block/<disk>/queue/rotational, -1 */
	char why_no_device[256]; /* why block_device is empty */
};

/* Parse one /proc/self/mountinfo line (proc(5)); the octal escapes of mount
 * point and source (\040 for a space) are decoded.  Returns 0 or -1. */
int strata_storage_mountinfo_parse(const char *line, struct strata_storage_mount *m);

/* The mount holding path: among /proc/self/mountinfo lines whose device
 * matches stat(path).st_dev, the longest mount point that is a prefix of
 * realpath(path) (else the longest prefix of any line); then the block device
 * through /sys/dev/block/MAJ:MIN. */
int strata_storage_mount_find(const char *path, struct strata_storage_mount *m);

json_t *strata_storage_mount_json(const struct strata_storage_mount *m);

/* File systems whose data lives in memory (tmpfs, ramfs): reads are always
 * cache-warm there. */
int strata_storage_fs_in_memory(const char *fstype);

/* ---- page cache ----------------------------------------------------------------- */

enum strata_cache_policy {
	STRATA_CACHE_AUTO = 0,    /* drop_caches where permitted, else fadvise */
	STRATA_CACHE_FADVISE = 1, /* posix_fadvise(DONTNEED) on each file only */
	STRATA_CACHE_KEEP = 2,    /* do nothing (reads are then marked cache-warm) */
};
int strata_cache_policy_parse(const char *name);

/* What a drop did, as recorded. */
enum strata_cache_done {
	STRATA_CACHE_DID_NOTHING = 0,
	STRATA_CACHE_DID_FADVISE = 1,
	STRATA_CACHE_DID_DROP_CACHES = 2,
};
const char *strata_cache_done_name(enum strata_cache_done d);

/* Evict the files' pages: fdatasync and posix_fadvise(POSIX_FADV_DONTNEED) on
 * each fd; with AUTO and drop_global set (one rank per host), also sync(2)
 * and "1" into /proc/sys/vm/drop_caches when that is writable (root).
 * Returns what was done, or -1 with a message. */
int strata_cache_drop(enum strata_cache_policy policy, int drop_global, const int *fds, size_t nfds,
                      enum strata_cache_done *done, char *err, size_t err_len);

/* Fraction of the pages of fd's first len bytes resident in the page cache
 * (mmap + mincore(2)); -1 when it cannot be told. */
double strata_cache_resident_fraction(int fd, uint64_t len);

#endif
