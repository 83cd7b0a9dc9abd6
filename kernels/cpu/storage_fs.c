/* storage_fs.c: work directory, removal, free space, mount and device facts,
 * page-cache hygiene (storage_fs.h).  No measured I/O here. */
#define _GNU_SOURCE
#include "kernels/cpu/storage_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "kernels/cpu/storage_pattern.h"

#define MSG_BYTES 1024
#define RMTREE_MAX_DEPTH 32

const char *strata_storage_default_dir(const char *dir, const char **source)
{
	if (dir && dir[0]) {
		*source = "plan";
		return dir;
	}
	const char *t = getenv("TMPDIR");
	if (t && t[0]) {
		*source = "TMPDIR";
		return t;
	}
	*source = "/tmp";
	return "/tmp";
}

int strata_storage_agree(MPI_Comm comm, int rank, int nranks, int bad, char *err, size_t err_len)
{
	int who = bad ? rank : nranks;
	MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, comm);
	if (who >= nranks)
		return 0;
	char buf[MSG_BYTES];
	if (rank == who)
		snprintf(buf, sizeof(buf), "rank %d: %s", rank,
		         err && err[0] ? err : "(no message)");
	MPI_Bcast(buf, (int)sizeof(buf), MPI_CHAR, who, comm);
	buf[sizeof(buf) - 1] = '\0';
	if (err && err_len)
		snprintf(err, err_len, "%s", buf);
	return 1;
}

/* A name no earlier case used: pid, time and an address mixed. */
static void unique_name(char *out, size_t len, int attempt)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t h = strata_pattern_mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
	                                (uint64_t)(uintptr_t)out ^
	                                (uint64_t)attempt * 0x9e3779b97f4a7c15ull);
	snprintf(out, len, "strata-%ld-%012llx", (long)getpid(),
	         (unsigned long long)(h & 0xffffffffffffull));
}

static void ws_reset(struct strata_storage_ws *ws)
{
	memset(ws, 0, sizeof(*ws));
	ws->basefd = -1;
	ws->dirfd = -1;
	ws->comm = MPI_COMM_NULL;
}

int strata_storage_ws_open(struct strata_storage_ws *ws, MPI_Comm comm, int rank, int nranks,
                           int local_rank, int local_size, const char *dir, char *err,
                           size_t err_len)
{
	char msg[MSG_BYTES] = "";
	ws_reset(ws);
	ws->rank = rank;
	ws->nranks = nranks;
	ws->local_rank = local_rank;
	ws->local_size = local_size;
	if (MPI_Comm_dup(comm, &ws->comm) != MPI_SUCCESS) {
		snprintf(err, err_len, "storage: MPI_Comm_dup failed");
		ws->comm = MPI_COMM_NULL;
		return -1;
	}
	const char *want = strata_storage_default_dir(dir, &ws->base_source);

	/* 1. Every rank resolves and opens the base directory. */
	int bad = 0;
	if (!realpath(want, ws->base)) {
		snprintf(msg, sizeof(msg), "storage: dir '%.700s' (from %s): %s", want,
		         ws->base_source, strerror(errno));
		bad = 1;
	} else if ((ws->basefd = open(ws->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(msg, sizeof(msg), "storage: dir '%.700s': %s", ws->base, strerror(errno));
		bad = 1;
	} else if (faccessat(ws->basefd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
		snprintf(msg, sizeof(msg), "storage: dir '%.700s' is not writable by this user: %s",
		         ws->base, strerror(errno));
		bad = 1;
	}
	if (strata_storage_agree(ws->comm, rank, nranks, bad, msg, sizeof(msg)))
		goto fail;

	/* 2. Rank 0 makes the unique directory; mkdir never follows or reuses
	 * anything already there. */
	if (rank == 0) {
		int attempt;
		for (attempt = 0; attempt < 64; attempt++) {
			unique_name(ws->name, sizeof(ws->name), attempt);
			if (mkdirat(ws->basefd, ws->name, 0700) == 0)
				break;
			if (errno != EEXIST) {
				snprintf(msg, sizeof(msg),
				         "storage: cannot create a directory in '%.700s': %s",
				         ws->base, strerror(errno));
				bad = 1;
				break;
			}
		}
		if (attempt == 64) {
			snprintf(msg, sizeof(msg), "storage: 64 names taken in '%.700s'", ws->base);
			bad = 1;
		}
		ws->created_here = !bad;
	}
	if (strata_storage_agree(ws->comm, rank, nranks, bad, msg, sizeof(msg)))
		goto fail;
	MPI_Bcast(ws->name, (int)sizeof(ws->name), MPI_CHAR, 0, ws->comm);
	ws->name[sizeof(ws->name) - 1] = '\0';
	snprintf(ws->path, sizeof(ws->path), "%.3990s/%.95s", ws->base, ws->name);

	/* 3. A host that cannot see it has a node-local file system there: its
	 * lowest rank makes the same name (exclusively too). */
	if (rank != 0 && local_rank == 0) {
		struct stat st;
		if (fstatat(ws->basefd, ws->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT && mkdirat(ws->basefd, ws->name, 0700) == 0) {
				ws->created_here = 1;
			} else {
				snprintf(msg, sizeof(msg), "storage: cannot create '%.700s': %s",
				         ws->path, strerror(errno));
				bad = 1;
			}
		}
	}
	if (strata_storage_agree(ws->comm, rank, nranks, bad, msg, sizeof(msg)))
		goto fail;
	int made = rank != 0 && ws->created_here;
	MPI_Allreduce(&made, &ws->hosts_created, 1, MPI_INT, MPI_SUM, ws->comm);
	ws->shared = ws->hosts_created == 0;

	/* 4. Everyone opens it without following a symlink and checks it is
	 * ours. */
	ws->dirfd = openat(ws->basefd, ws->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (ws->dirfd < 0) {
		snprintf(msg, sizeof(msg), "storage: cannot open '%.700s': %s", ws->path,
		         strerror(errno));
		bad = 1;
	} else if (fstat(ws->dirfd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(msg, sizeof(msg), "storage: '%.700s' is not a directory owned by uid %ld",
		         ws->path, (long)geteuid());
		bad = 1;
	}
	if (strata_storage_agree(ws->comm, rank, nranks, bad, msg, sizeof(msg)))
		goto fail;
	return 0;

fail:
	snprintf(err, err_len, "%s", msg);
	strata_storage_ws_close(ws);
	return -1;
}

void strata_storage_ws_close(struct strata_storage_ws *ws)
{
	if (ws->comm != MPI_COMM_NULL) {
		MPI_Barrier(ws->comm); /* nobody still uses a file below */
		MPI_Comm_free(&ws->comm);
	}
	if (ws->dirfd >= 0)
		close(ws->dirfd);
	if (ws->created_here && ws->basefd >= 0)
		strata_storage_rmtree_at(ws->basefd, ws->name);
	if (ws->basefd >= 0)
		close(ws->basefd);
	ws->dirfd = ws->basefd = -1;
	ws->created_here = 0;
	ws->comm = MPI_COMM_NULL;
}

static int rmtree_depth(int dirfd, const char *name, int depth)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int saved = 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	/* Rescan until nothing is left or a pass removes nothing (entries removed
	 * during readdir may or may not be returned, POSIX readdir()). */
	for (int progress = 1; progress;) {
		progress = 0;
		rewinddir(d);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			int is_dir = e->d_type == DT_DIR;
			if (e->d_type == DT_UNKNOWN) {
				struct stat st;
				is_dir = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				         S_ISDIR(st.st_mode);
			}
			int rc = is_dir ? (depth < RMTREE_MAX_DEPTH
			                       ? rmtree_depth(fd, e->d_name, depth + 1)
			                       : (errno = ELOOP, -1))
			                : unlinkat(fd, e->d_name, 0);
			if (rc == 0)
				progress = 1;
			else if (!saved)
				saved = errno;
		}
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && !saved)
		saved = errno;
	errno = saved;
	return saved ? -1 : 0;
}

int strata_storage_rmtree_at(int dirfd, const char *name)
{
	return rmtree_depth(dirfd, name, 0);
}

long strata_storage_count_entries(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- space, mount, device ------------------------------------------------------ */

int strata_storage_free_bytes(const char *path, uint64_t *bytes)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return -1;
	*bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}

/* Copy one space-separated field, decoding mountinfo's \ooo escapes. */
static const char *field(const char *s, char *out, size_t len)
{
	while (*s == ' ')
		s++;
	size_t n = 0;
	while (*s && *s != ' ' && *s != '\n') {
		char c = *s++;
		if (c == '\\' && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' &&
		    s[2] >= '0' && s[2] <= '7') {
			c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
			s += 3;
		}
		if (n + 1 < len)
			out[n++] = c;
	}
	if (len)
		out[n] = '\0';
	return s;
}

int strata_storage_mountinfo_parse(const char *line, struct strata_storage_mount *m)
{
	char tok[PATH_MAX];
	memset(m, 0, sizeof(*m));
	m->rotational = -1;
	const char *s = field(line, tok, sizeof(tok)); /* mount id */
	s = field(s, tok, sizeof(tok));                /* parent id */
	s = field(s, tok, sizeof(tok));                /* major:minor */
	if (sscanf(tok, "%u:%u", &m->dev_major, &m->dev_minor) != 2)
		return -1;
	s = field(s, tok, sizeof(tok)); /* root */
	s = field(s, m->mount_point, sizeof(m->mount_point));
	s = field(s, m->options, sizeof(m->options));
	/* optional fields up to the lone "-" */
	for (;;) {
		s = field(s, tok, sizeof(tok));
		if (!tok[0])
			return -1;
		if (!strcmp(tok, "-"))
			break;
	}
	s = field(s, m->fstype, sizeof(m->fstype));
	s = field(s, m->source, sizeof(m->source));
	field(s, m->super_options, sizeof(m->super_options));
	if (!m->mount_point[0] || !m->fstype[0])
		return -1;
	m->found = 1;
	return 0;
}

/* mount point mp is path or a directory above it */
static size_t prefix_len(const char *mp, const char *path)
{
	size_t n = strlen(mp);
	if (n == 1 && mp[0] == '/')
		return 1;
	if (strncmp(mp, path, n) == 0 && (path[n] == '\0' || path[n] == '/'))
		return n;
	return 0;
}

static void read_line_file(const char *path, char *out, size_t len)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)len, f)) {
		size_t n = strlen(out);
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
			out[--n] = '\0';
	}
	fclose(f);
}

/* The block device of major:minor through sysfs. */
static int sysfs_device(struct strata_storage_mount *m, unsigned maj, unsigned min)
{
	char link[PATH_MAX], target[PATH_MAX];
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", maj, min);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", target);
	snprintf(m->block_device, sizeof(m->block_device), "%s", basename(copy));
	char part[PATH_MAX + 32];
	snprintf(part, sizeof(part), "%s/partition", link);
	if (access(part, F_OK) == 0) {
		snprintf(copy, sizeof(copy), "%s", target);
		char *parent = dirname(copy);
		snprintf(m->disk, sizeof(m->disk), "%s", basename(parent));
	} else {
		snprintf(m->disk, sizeof(m->disk), "%s", m->block_device);
	}
	char p[PATH_MAX], v[32];
	snprintf(p, sizeof(p), "/sys/class/block/%s/device/model", m->disk);
	read_line_file(p, m->model, sizeof(m->model));
	snprintf(p, sizeof(p), "/sys/class/block/%s/queue/rotational", m->disk);
	read_line_file(p, v, sizeof(v));
	m->rotational = v[0] ? atoi(v) : -1;
	return 0;
}

int strata_storage_mount_find(const char *path, struct strata_storage_mount *m)
{
	struct stat st;
	char real[PATH_MAX];
	memset(m, 0, sizeof(*m));
	m->rotational = -1;
	if (stat(path, &st) != 0 || !realpath(path, real))
		return -1;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return -1;
	struct strata_storage_mount cur, by_dev = {0}, by_path = {0};
	size_t best_dev = 0, best_path = 0;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		if (strata_storage_mountinfo_parse(line, &cur) != 0)
			continue;
		size_t n = prefix_len(cur.mount_point, real);
		if (!n)
			continue;
		/* ">=": of mounts stacked on one point, the last one is visible */
		if (cur.dev_major == major(st.st_dev) && cur.dev_minor == minor(st.st_dev) &&
		    n >= best_dev) {
			best_dev = n;
			by_dev = cur;
		}
		if (n >= best_path) {
			best_path = n;
			by_path = cur;
		}
	}
	free(line);
	fclose(f);
	if (by_dev.found)
		*m = by_dev;
	else if (by_path.found)
		*m = by_path;
	else
		return -1;
	m->rotational = -1;
	if (sysfs_device(m, m->dev_major, m->dev_minor) != 0) {
		/* Anonymous device numbers (tmpfs, overlay, NFS, btrfs
		 * subvolumes): try the mount source when it is a device node. */
		struct stat ds;
		if (!strncmp(m->source, "/dev/", 5) && stat(m->source, &ds) == 0 &&
		    S_ISBLK(ds.st_mode) &&
		    sysfs_device(m, major(ds.st_rdev), minor(ds.st_rdev)) == 0)
			return 0;
		snprintf(
		    m->why_no_device, sizeof(m->why_no_device),
		    "no block device: %s from '%.60s' (device %u:%u has no /sys/dev/block entry)",
		    m->fstype, m->source, m->dev_major, m->dev_minor);
	}
	return 0;
}

json_t *strata_storage_mount_json(const struct strata_storage_mount *m)
{
	if (!m->found)
		return json_pack("{s:s}", "error", "mount not found in /proc/self/mountinfo");
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "mount_point", m->mount_point, "fstype",
	                      m->fstype, "source", m->source, "mount_options", m->options,
	                      "super_options", m->super_options, "device_number", "");
	char dn[32];
	snprintf(dn, sizeof(dn), "%u:%u", m->dev_major, m->dev_minor);
	json_object_set_new(j, "device_number", json_string(dn));
	if (m->block_device[0]) {
		json_t *d = json_pack("{s:s,s:s}", "name", m->block_device, "disk", m->disk);
		if (m->model[0])
			json_object_set_new(d, "model", json_string(m->model));
		if (m->rotational >= 0)
			json_object_set_new(d, "rotational", json_boolean(m->rotational));
		json_object_set_new(j, "block_device", d);
	} else {
		json_object_set_new(j, "block_device", json_null());
		json_object_set_new(j, "block_device_note", json_string(m->why_no_device));
	}
	json_object_set_new(j, "source_of_facts",
	                    json_string("/proc/self/mountinfo (longest mount point holding the "
	                                "directory, same device number) and /sys/dev/block"));
	return j;
}

int strata_storage_fs_in_memory(const char *fstype)
{
	return !strcmp(fstype, "tmpfs") || !strcmp(fstype, "ramfs") || !strcmp(fstype, "devtmpfs");
}

/* ---- page cache ------------------------------------------------------------------ */

static const char *const policy_names[] = {"auto", "fadvise", "keep"};

int strata_cache_policy_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, policy_names[i]))
			return i;
	return -1;
}

const char *strata_cache_done_name(enum strata_cache_done d)
{
	switch (d) {
	case STRATA_CACHE_DID_NOTHING:
		return "none";
	case STRATA_CACHE_DID_FADVISE:
		return "posix_fadvise(POSIX_FADV_DONTNEED) on each file";
	case STRATA_CACHE_DID_DROP_CACHES:
		return "sync, then 1 > /proc/sys/vm/drop_caches (and posix_fadvise DONTNEED)";
	}
	return "?";
}

int strata_cache_drop(enum strata_cache_policy policy, int drop_global, const int *fds, size_t nfds,
                      enum strata_cache_done *done, char *err, size_t err_len)
{
	*done = STRATA_CACHE_DID_NOTHING;
	if (policy == STRATA_CACHE_KEEP)
		return 0;
	for (size_t i = 0; i < nfds; i++) {
		if (fds[i] < 0)
			continue;
		/* Dirty pages cannot be dropped: write them first. */
		if (fdatasync(fds[i]) != 0 && errno != EINVAL) {
			snprintf(err, err_len, "fdatasync before dropping the cache: %s",
			         strerror(errno));
			return -1;
		}
		int rc = posix_fadvise(fds[i], 0, 0, POSIX_FADV_DONTNEED);
		if (rc != 0) {
			snprintf(err, err_len, "posix_fadvise(DONTNEED): %s", strerror(rc));
			return -1;
		}
	}
	*done = STRATA_CACHE_DID_FADVISE;
	if (policy == STRATA_CACHE_AUTO && drop_global) {
		int f = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
		if (f >= 0) {
			sync();
			if (write(f, "1", 1) == 1)
				*done = STRATA_CACHE_DID_DROP_CACHES;
			close(f);
		}
	}
	return 0;
}

double strata_cache_resident_fraction(int fd, uint64_t len)
{
	if (len == 0)
		return 0.0;
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		return -1.0;
	const uint64_t chunk = 1ull << 30; /* map at most 1 GiB at a time */
	uint64_t resident = 0, pages = 0;
	unsigned char *vec = malloc((size_t)(chunk / (uint64_t)page));
	if (!vec)
		return -1.0;
	for (uint64_t off = 0; off < len; off += chunk) {
		size_t n = (size_t)(len - off < chunk ? len - off : chunk);
		void *p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, (off_t)off);
		if (p == MAP_FAILED) {
			free(vec);
			return -1.0;
		}
		size_t np = (n + (size_t)page - 1) / (size_t)page;
		int rc = mincore(p, n, vec);
		munmap(p, n);
		if (rc != 0) {
			free(vec);
			return -1.0;
		}
		for (size_t i = 0; i < np; i++)
			resident += vec[i] & 1u;
		pages += np;
	}
	free(vec);
	return pages ? (double)resident / (double)pages : 0.0;
}
