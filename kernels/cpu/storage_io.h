/* storage_io.h: the measured I/O of the storage suite: one rank's pass over
 * its transfers (storage_layout.h) with one engine, and the read-back check.
 *
 * What it is: two engines, as fio names them (fio HOWTO, "ioengine"):
 *   psync     pread(2)/pwrite(2), one transfer at a time (queue depth 1);
 *   io_uring  liburing, up to `depth` transfers in flight.  Every request is
 *             submitted as soon as it is prepared, each submission also
 *             reaping completions, whose slots are refilled at once (fio's
 *             default, iodepth_batch_submit=1); the task sleeps only when a
 *             full queue has nothing completed.  The ring is set up as fio's
 *             engine does (COOP_TASKRUN, SINGLE_ISSUER, DEFER_TASKRUN); the
 *             buffers are registered (READ_FIXED/WRITE_FIXED) when the kernel
 *             lets us pin them, as fio's fixedbufs option does, and are one
 *             2 MiB-aligned region advised for transparent huge pages, so a
 *             transfer is one physically contiguous segment (storage_io.c).
 * Writes restamp the pattern's headers for each transfer's offset before it
 * is queued (storage_pattern.h: 32 bytes per 4 KiB) and may fsync every N
 * bytes (after the transfers before it completed) and at the end, inside the
 * pass, as IOR -e and fio end_fsync/fsync count them.  Short transfers are
 * resubmitted for their rest; an error names the operation, offset and errno.
 * What it is not: a timer (the runner times a pass), or the owner of the file
 * descriptors (the suite opens and closes them).
 */
#ifndef STRATA_STORAGE_IO_H
#define STRATA_STORAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#include "kernels/cpu/storage_layout.h"
#include "kernels/cpu/storage_pattern.h"

#define STRATA_IO_ALIGN_BYTES 4096u /* O_DIRECT buffer, offset and length alignment */

enum strata_io_engine { STRATA_IO_PSYNC = 0, STRATA_IO_URING = 1 };
int strata_io_engine_parse(const char *name); /* -1 if unknown */
const char *strata_io_engine_name(enum strata_io_engine e);

struct strata_io_slot {
	uint64_t offset;  /* of the transfer in its file */
	size_t len, done; /* bytes asked for, bytes completed */
	int has_data;     /* a read completed into it: buf holds offset's data */
};

struct strata_io {
	enum strata_io_engine engine;
	unsigned depth; /* transfers in flight at most (1 for psync) */
	size_t block_bytes;
	unsigned char **buf;   /* (depth) buffers of block_bytes, 4 KiB aligned */
	unsigned char *region; /* all of them, contiguous, 2 MiB aligned */
	void *region_map;      /* the mapping holding region */
	size_t region_map_bytes;
	int huge_pages_advised;      /* madvise(MADV_HUGEPAGE) accepted */
	struct strata_io_slot *slot; /* (depth) */
	unsigned *free_slot;         /* (depth) stack of idle slots */
	unsigned n_free;
	struct io_uring ring;
	int ring_ready;
	unsigned ring_flags;         /* IORING_SETUP_* the ring got */
	int fixed_buffers;           /* buffers registered with the ring */
	char fixed_buffers_why[128]; /* why not, when not */
};

/* Allocate buffers and, for io_uring, the ring.  Returns 0, or -1 with a
 * message (io_uring unavailable: ENOSYS, EPERM under seccomp or
 * kernel.io_uring_disabled, ...). */
int strata_io_init(struct strata_io *io, enum strata_io_engine engine, unsigned depth,
                   size_t block_bytes, char *err, size_t err_len);
void strata_io_release(struct strata_io *io);

/* The IORING_SETUP_* flags in words, for the record. */
void strata_io_ring_flags(unsigned flags, char *out, size_t len);

/* Fill every buffer with the pattern (writes then only restamp headers). */
void strata_io_prefill(struct strata_io *io, const struct strata_pattern *p);

struct strata_io_job {
	int fd;
	int write;                            /* 1: write the pattern, 0: read */
	const struct strata_layout *layout;   /* this rank's transfers and order */
	const struct strata_pattern *pattern; /* write only */
	uint64_t fsync_every_bytes;           /* write: fsync after each N bytes; 0 none */
	int fsync_at_end;                     /* write: fsync once all transfers completed */
};

struct strata_io_result {
	uint64_t bytes, transfers, fsyncs;
};

/* One pass over job->layout's transfers.  Returns 0, or -1 with a message
 * naming the operation, the offset and strerror (in-flight requests are
 * always drained before returning). */
int strata_io_run(struct strata_io *io, const struct strata_io_job *job,
                  struct strata_io_result *res, char *err, size_t err_len);

struct strata_io_check {
	uint64_t transfers, bytes; /* read back and checked */
	int64_t wrong_sectors;
	struct strata_pattern_error first; /* when wrong_sectors > 0 */
};

/* Check what the last reads left in the buffers (every slot holding data). */
void strata_io_check_slots(const struct strata_io *io, const struct strata_pattern *p,
                           struct strata_io_check *out);

/* Read back the rank's transfers in file order with pread into buf (one
 * block, aligned) and check them; fraction < 1 checks a deterministic sample
 * (transfer i when mix(key ^ i) < fraction x 2^64, plus the first and last).
 * Accumulates into out.  Returns 0, or -1 with a message on an I/O error. */
int strata_io_check_file(int fd, const struct strata_layout *l, const struct strata_pattern *p,
                         double fraction, uint64_t key, unsigned char *buf,
                         struct strata_io_check *out, char *err, size_t err_len);

#endif
