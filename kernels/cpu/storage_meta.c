/* storage_meta.c: mdtest-style metadata phases (storage_meta.h). */
#define _GNU_SOURCE
#include "kernels/cpu/storage_meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const phase_names[] = {"create", "stat", "open_close", "unlink"};

const char *strata_meta_phase_name(enum strata_meta_phase p)
{
	return (unsigned)p < STRATA_META_NPHASES ? phase_names[p] : "?";
}

static const char *name_of(const struct strata_meta *m, uint64_t i)
{
	return m->names + i * STRATA_META_NAME_BYTES;
}

int strata_meta_init(struct strata_meta *m, int dirfd, int rank, uint64_t files, size_t file_bytes,
                     uint64_t seed, char *err, size_t err_len)
{
	memset(m, 0, sizeof(*m));
	m->dirfd = dirfd;
	m->rank = rank;
	m->files = files;
	m->file_bytes = file_bytes;
	m->names = malloc((size_t)files * STRATA_META_NAME_BYTES);
	m->buf = malloc(file_bytes ? file_bytes : 1);
	if (!m->names || !m->buf) {
		snprintf(err, err_len, "out of memory for %llu file names",
		         (unsigned long long)files);
		strata_meta_release(m);
		return -1;
	}
	/* Names made once, so the timed phases do not format strings. */
	for (uint64_t i = 0; i < files; i++)
		snprintf(m->names + i * STRATA_META_NAME_BYTES, STRATA_META_NAME_BYTES, "f.%d.%llu",
		         rank, (unsigned long long)i);
	strata_pattern_init(&m->pat, seed, (uint64_t)rank + 1);
	return 0;
}

void strata_meta_release(struct strata_meta *m)
{
	free(m->names);
	free(m->buf);
	m->names = NULL;
	m->buf = NULL;
}

static void mismatch(struct strata_meta *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mismatch(struct strata_meta *m, const char *fmt, ...)
{
	if (m->wrong++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->first_wrong, sizeof(m->first_wrong), fmt, ap);
		va_end(ap);
	}
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int phase_create(struct strata_meta *m, char *err, size_t err_len)
{
	for (uint64_t i = 0; i < m->files; i++) {
		int fd = openat(m->dirfd, name_of(m, i),
		                O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(err, err_len, "create %s: %s", name_of(m, i), strerror(errno));
			return -1;
		}
		if (m->file_bytes) {
			strata_pattern_fill(&m->pat, i << 32, m->buf, m->file_bytes);
			if (write_all(fd, m->buf, m->file_bytes) != 0) {
				snprintf(err, err_len, "write %zu bytes to %s: %s", m->file_bytes,
				         name_of(m, i), strerror(errno));
				close(fd);
				return -1;
			}
		}
		if (close(fd) != 0) {
			snprintf(err, err_len, "close %s: %s", name_of(m, i), strerror(errno));
			return -1;
		}
	}
	return 0;
}

int strata_meta_phase(struct strata_meta *m, enum strata_meta_phase p, char *err, size_t err_len)
{
	if (p == STRATA_META_CREATE)
		return phase_create(m, err, err_len);
	for (uint64_t i = 0; i < m->files; i++) {
		const char *name = name_of(m, i);
		if (p == STRATA_META_STAT) {
			struct stat st;
			if (fstatat(m->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
				snprintf(err, err_len, "stat %s: %s", name, strerror(errno));
				return -1;
			}
			if (!S_ISREG(st.st_mode))
				mismatch(m,
				         "stat %s: not a regular file (mode %llo, expected %llo)",
				         name, (unsigned long long)st.st_mode,
				         (unsigned long long)S_IFREG);
			else if ((size_t)st.st_size != m->file_bytes)
				mismatch(m, "stat %s: size %lld, expected %lld", name,
				         (long long)st.st_size, (long long)m->file_bytes);
		} else if (p == STRATA_META_OPEN_CLOSE) {
			int fd = openat(m->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				snprintf(err, err_len, "open %s: %s", name, strerror(errno));
				return -1;
			}
			close(fd);
		} else if (p == STRATA_META_UNLINK) {
			if (unlinkat(m->dirfd, name, 0) != 0) {
				snprintf(err, err_len, "unlink %s: %s", name, strerror(errno));
				return -1;
			}
		} else {
			snprintf(err, err_len, "unknown metadata phase %d", (int)p);
			return -1;
		}
	}
	return 0;
}

/* Parse f.<rank>.<i> of this rank; -1 if the name is not ours. */
static long long own_index(const struct strata_meta *m, const char *name)
{
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "f.%d.", m->rank);
	if (strncmp(name, prefix, (size_t)n) != 0)
		return -1;
	char *end;
	errno = 0;
	unsigned long long i = strtoull(name + n, &end, 10);
	if (errno || *end || end == name + n)
		return -1;
	return (long long)i;
}

/* Walk the directory; count our names and, if seen != NULL, mark them. */
static long walk(const struct strata_meta *m, unsigned char *seen, long *dupes, long *strays)
{
	int fd = openat(m->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		long long i = own_index(m, e->d_name);
		if (i < 0)
			continue;
		n++;
		if (!seen)
			continue;
		if ((uint64_t)i >= m->files)
			(*strays)++;
		else if (seen[i]++)
			(*dupes)++;
	}
	closedir(d);
	return n;
}

long strata_meta_count_own(const struct strata_meta *m)
{
	return walk(m, NULL, NULL, NULL);
}

static int read_all(int fd, unsigned char *p, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, p + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

int strata_meta_check(struct strata_meta *m, char *err, size_t err_len)
{
	long before = strata_meta_count_own(m);
	if (before < 0) {
		snprintf(err, err_len, "readdir: %s", strerror(errno));
		return -1;
	}
	if (before != 0) {
		mismatch(m, "%ld of this rank's files were left after the timed unlink phase",
		         before);
		return 0;
	}
	if (phase_create(m, err, err_len) != 0)
		return -1;
	unsigned char *seen = calloc((size_t)m->files, 1);
	if (!seen) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	long dupes = 0, strays = 0;
	long listed = walk(m, seen, &dupes, &strays);
	int rc = 0;
	if (listed < 0) {
		snprintf(err, err_len, "readdir: %s", strerror(errno));
		rc = -1;
	} else if (dupes || strays || (uint64_t)listed != m->files) {
		mismatch(m,
		         "readdir listed %ld of this rank's names (%ld duplicated, %ld unknown), "
		         "expected %llu",
		         listed, dupes, strays, (unsigned long long)m->files);
	}
	for (uint64_t i = 0; rc == 0 && i < m->files; i++) {
		const char *name = name_of(m, i);
		if (!seen[i]) {
			mismatch(m, "readdir does not list %s", name);
			continue;
		}
		int fd = openat(m->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0) {
			snprintf(err, err_len, "open %s: %s", name, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = -1;
			break;
		}
		size_t got = 0;
		if ((size_t)st.st_size != m->file_bytes) {
			mismatch(m, "%s: size %lld, expected %lld", name, (long long)st.st_size,
			         (long long)m->file_bytes);
		} else if (m->file_bytes && read_all(fd, m->buf, m->file_bytes, &got) == 0) {
			struct strata_pattern_error e;
			if (got != m->file_bytes)
				mismatch(m, "%s: read %lld bytes, expected %lld", name,
				         (long long)got, (long long)m->file_bytes);
			else if (strata_pattern_check(&m->pat, i << 32, m->buf, m->file_bytes, &e) >
			         0)
				mismatch(m, "%s: wrong content at byte %lld (value 0x%02llx)", name,
				         (long long)(e.offset - (i << 32)),
				         (unsigned long long)e.actual);
		}
		close(fd);
	}
	free(seen);
	if (rc == 0 && strata_meta_phase(m, STRATA_META_UNLINK, err, err_len) != 0)
		rc = -1;
	if (rc == 0 && strata_meta_count_own(m) != 0)
		mismatch(m, "%ld of this rank's files remain after unlink",
		         strata_meta_count_own(m));
	return rc;
}
