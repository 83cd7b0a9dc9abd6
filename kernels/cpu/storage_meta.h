/* storage_meta.h: metadata operations on many small files, after mdtest
 * (IOR's companion, github.com/hpc/ior, src/mdtest.c): create, stat,
 * open/close and unlink of `files` files per rank in one directory.
 *
 * What it is: the four phases as one pass each over this rank's files
 * f.<rank>.<i> in a directory the caller opened (dirfd):
 *   create      openat(O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW), write
 *               file_bytes of the pattern (mdtest -w), close
 *   stat        fstatat(AT_SYMLINK_NOFOLLOW); a file that is not regular or
 *               not file_bytes long counts as wrong
 *   open_close  openat(O_RDONLY | O_NOFOLLOW), close
 *   unlink      unlinkat
 * and an untimed check: a fresh create, readdir listing exactly this rank's
 * names, every file's size and content, unlink, nothing of ours left.
 * File i holds the pattern of storage_pattern.h at virtual offset i x 2^32
 * (so every file's content differs: its header names the file index).
 * What it is not: mdtest's directory or tree phases, or a timer.
 */
#ifndef STRATA_STORAGE_META_H
#define STRATA_STORAGE_META_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu/storage_pattern.h"

enum strata_meta_phase {
	STRATA_META_CREATE = 0,
	STRATA_META_STAT,
	STRATA_META_OPEN_CLOSE,
	STRATA_META_UNLINK,
	STRATA_META_NPHASES,
};
const char *strata_meta_phase_name(enum strata_meta_phase p);

struct strata_meta {
	int dirfd; /* not owned */
	int rank;
	uint64_t files;
	size_t file_bytes;
	char *names;        /* (files, STRATA_META_NAME_BYTES) */
	unsigned char *buf; /* file_bytes (at least 1) */
	struct strata_pattern pat;
	int64_t wrong; /* mismatches found so far */
	char first_wrong[256];
};
#define STRATA_META_NAME_BYTES 32

int strata_meta_init(struct strata_meta *m, int dirfd, int rank, uint64_t files, size_t file_bytes,
                     uint64_t seed, char *err, size_t err_len);
void strata_meta_release(struct strata_meta *m);

/* One phase over every file.  Returns 0, or -1 with a message on an error
 * the phase cannot go on from (a mismatch only counts into m->wrong). */
int strata_meta_phase(struct strata_meta *m, enum strata_meta_phase p, char *err, size_t err_len);

/* The untimed check described above; mismatches count into m->wrong.
 * Returns 0, or -1 with a message on an I/O error. */
int strata_meta_check(struct strata_meta *m, char *err, size_t err_len);

/* This rank's files present in the directory now (-1 on error). */
long strata_meta_count_own(const struct strata_meta *m);

#endif
