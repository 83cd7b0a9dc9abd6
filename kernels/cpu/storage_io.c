/* storage_io.c: psync and io_uring passes over a rank's transfers, and the
 * read-back check (storage_io.h). */
#define _GNU_SOURCE
#include "kernels/cpu/storage_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *const engine_names[] = {"psync", "io_uring"};

int strata_io_engine_parse(const char *name)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(name, engine_names[i]))
			return i;
	return -1;
}

const char *strata_io_engine_name(enum strata_io_engine e)
{
	return (unsigned)e < 2 ? engine_names[e] : "?";
}

void strata_io_release(struct strata_io *io)
{
	if (io->ring_ready) {
		if (io->fixed_buffers)
			io_uring_unregister_buffers(&io->ring);
		io_uring_queue_exit(&io->ring);
	}
	if (io->region)
		munmap(io->region_map, io->region_map_bytes);
	free(io->buf);
	free(io->slot);
	free(io->free_slot);
	memset(io, 0, sizeof(*io));
}

/* All slot buffers in one region, 2 MiB aligned and advised for transparent
 * huge pages (MADV_HUGEPAGE), touched now so no page fault happens while
 * timed.  Measured on a virtio disk (2 vCPUs, THP in madvise mode): 1 MiB
 * O_DIRECT reads through registered buffers went from 1.3-1.4 GB/s (one
 * posix_memalign per buffer, 4 KiB pages: a 1 MiB transfer is 256 segments,
 * more than the queue's 254) to fio's figure with --fixedbufs: physically
 * contiguous buffers make one segment of each transfer. */
static int region_alloc(struct strata_io *io)
{
	const size_t huge = 2u << 20;
	size_t bytes = (size_t)io->depth * io->block_bytes;
	size_t map = bytes + huge;
	unsigned char *p =
	    mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	unsigned char *aligned =
	    (unsigned char *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	io->region_map = p;
	io->region_map_bytes = map;
	io->region = aligned;
	io->huge_pages_advised =
	    madvise(aligned, (bytes + huge - 1) & ~(huge - 1), MADV_HUGEPAGE) == 0;
	memset(aligned, 0, bytes);
	return 0;
}

/* The ring, set up as fio's io_uring engine does (engines/io_uring.c,
 * fio_ioring_queue_init): the CQ clamped to the SQ size, COOP_TASKRUN (no
 * inter-processor interrupt to run completion work), SINGLE_ISSUER and
 * DEFER_TASKRUN (completion work runs when we wait for it); each flag dropped
 * again, newest first, when the kernel refuses it (EINVAL). */
static int ring_init(struct strata_io *io)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
	          IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = io->depth;
	for (;;) {
		unsigned flags = p.flags;
		int rc = io_uring_queue_init_params(io->depth, &io->ring, &p);
		if (rc == 0) {
			io->ring_flags = flags;
			return 0;
		}
		memset(&p, 0, sizeof(p));
		p.cq_entries = io->depth;
		if (rc != -EINVAL || flags == 0)
			return rc;
		if (flags & IORING_SETUP_DEFER_TASKRUN)
			p.flags =
			    flags & ~(IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER);
		else if (flags & IORING_SETUP_COOP_TASKRUN)
			p.flags = flags & ~IORING_SETUP_COOP_TASKRUN;
		else
			p.flags = 0;
	}
}

void strata_io_ring_flags(unsigned flags, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s", flags & IORING_SETUP_CQSIZE ? "CQSIZE " : "",
	         flags & IORING_SETUP_COOP_TASKRUN ? "COOP_TASKRUN " : "",
	         flags & IORING_SETUP_SINGLE_ISSUER ? "SINGLE_ISSUER " : "",
	         flags & IORING_SETUP_DEFER_TASKRUN ? "DEFER_TASKRUN" : "");
}

int strata_io_init(struct strata_io *io, enum strata_io_engine engine, unsigned depth,
                   size_t block_bytes, char *err, size_t err_len)
{
	memset(io, 0, sizeof(*io));
	io->engine = engine;
	io->depth = engine == STRATA_IO_PSYNC ? 1 : (depth ? depth : 1);
	io->block_bytes = block_bytes;
	io->buf = calloc(io->depth, sizeof(*io->buf));
	io->slot = calloc(io->depth, sizeof(*io->slot));
	io->free_slot = calloc(io->depth, sizeof(*io->free_slot));
	if (!io->buf || !io->slot || !io->free_slot)
		goto oom;
	if (region_alloc(io) != 0)
		goto oom;
	for (unsigned i = 0; i < io->depth; i++) {
		io->buf[i] = io->region + (size_t)i * block_bytes;
		io->free_slot[i] = io->depth - 1 - i;
	}
	io->n_free = io->depth;
	if (engine == STRATA_IO_URING) {
		int rc = ring_init(io);
		if (rc < 0) {
			snprintf(err, err_len,
			         "io_uring_queue_init(%u): %s (io_uring disabled by "
			         "kernel.io_uring_disabled, seccomp or an old kernel?); use "
			         "engine: psync",
			         io->depth, strerror(-rc));
			strata_io_release(io);
			return -1;
		}
		io->ring_ready = 1;
		struct iovec *iov = calloc(io->depth, sizeof(*iov));
		if (!iov)
			goto oom;
		for (unsigned i = 0; i < io->depth; i++)
			iov[i] = (struct iovec){.iov_base = io->buf[i], .iov_len = block_bytes};
		rc = io_uring_register_buffers(&io->ring, iov, io->depth);
		free(iov);
		if (rc == 0)
			io->fixed_buffers = 1;
		else
			snprintf(io->fixed_buffers_why, sizeof(io->fixed_buffers_why),
			         "io_uring_register_buffers: %s (RLIMIT_MEMLOCK?)", strerror(-rc));
	}
	return 0;
oom:
	snprintf(err, err_len, "out of memory for %u buffers of %zu bytes", io->depth, block_bytes);
	strata_io_release(io);
	return -1;
}

void strata_io_prefill(struct strata_io *io, const struct strata_pattern *p)
{
	for (unsigned i = 0; i < io->depth; i++) {
		strata_pattern_fill(p, 0, io->buf[i], io->block_bytes);
		io->slot[i].has_data = 0;
	}
}

static void op_error(char *err, size_t err_len, const struct strata_io_job *job, uint64_t off,
                     size_t len, int e)
{
	snprintf(err, err_len, "%s of %zu bytes at offset %llu: %s%s",
	         job->write ? "write" : "read", len, (unsigned long long)off,
	         e ? strerror(e) : "end of file (short read)",
	         e == ENOSPC ? " (the file system is full)" : "");
}

static int do_fsync(const struct strata_io_job *job, struct strata_io_result *res, char *err,
                    size_t err_len)
{
	if (fsync(job->fd) != 0) {
		snprintf(err, err_len, "fsync: %s%s", strerror(errno),
		         errno == ENOSPC ? " (the file system is full)" : "");
		return -1;
	}
	res->fsyncs++;
	return 0;
}

/* ---- psync ------------------------------------------------------------------ */

static int psync_run(struct strata_io *io, const struct strata_io_job *job,
                     struct strata_io_result *res, char *err, size_t err_len)
{
	const struct strata_layout *l = job->layout;
	unsigned char *buf = io->buf[0];
	size_t B = io->block_bytes;
	uint64_t since_sync = 0;
	for (uint64_t i = 0; i < l->blocks; i++) {
		uint64_t off = strata_layout_offset(l, i);
		if (job->write)
			strata_pattern_stamp(job->pattern, off, buf, B);
		io->slot[0] = (struct strata_io_slot){.offset = off, .len = B};
		size_t done = 0;
		while (done < B) {
			ssize_t n = job->write
			                ? pwrite(job->fd, buf + done, B - done, (off_t)(off + done))
			                : pread(job->fd, buf + done, B - done, (off_t)(off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				op_error(err, err_len, job, off + done, B - done,
				         n < 0 ? errno : 0);
				return -1;
			}
			done += (size_t)n;
		}
		io->slot[0].done = B;
		io->slot[0].has_data = !job->write;
		res->bytes += B;
		res->transfers++;
		if (job->write && job->fsync_every_bytes) {
			since_sync += B;
			if (since_sync >= job->fsync_every_bytes) {
				since_sync = 0;
				if (do_fsync(job, res, err, err_len) != 0)
					return -1;
			}
		}
	}
	return 0;
}

/* ---- io_uring ------------------------------------------------------------------- */

/* Queue slot s's (remaining) transfer.  The ring has depth entries and never
 * more than depth requests are queued or in flight, so an SQE is always free. */
static void uring_queue(struct strata_io *io, const struct strata_io_job *job, unsigned s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	struct strata_io_slot *sl = &io->slot[s];
	unsigned char *p = io->buf[s] + sl->done;
	unsigned len = (unsigned)(sl->len - sl->done);
	uint64_t off = sl->offset + sl->done;
	if (io->fixed_buffers) {
		if (job->write)
			io_uring_prep_write_fixed(sqe, job->fd, p, len, off, (int)s);
		else
			io_uring_prep_read_fixed(sqe, job->fd, p, len, off, (int)s);
	} else {
		if (job->write)
			io_uring_prep_write(sqe, job->fd, p, len, off);
		else
			io_uring_prep_read(sqe, job->fd, p, len, off);
	}
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)s);
}

/* Reap every completion posted so far; requeue the rest of short transfers
 * (unless a failure stops the pass).  Returns the completions seen. */
static unsigned reap(struct strata_io *io, const struct strata_io_job *job,
                     struct strata_io_result *res, unsigned *inflight, int *failed, char *err,
                     size_t err_len)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&io->ring, head, cqe)
	{
		seen++;
		unsigned s = (unsigned)(uintptr_t)io_uring_cqe_get_data(cqe);
		struct strata_io_slot *sl = &io->slot[s];
		int r = cqe->res;
		if (r <= 0) {
			if (!*failed)
				op_error(err, err_len, job, sl->offset + sl->done,
				         sl->len - sl->done, r < 0 ? -r : 0);
			*failed = 1;
		} else {
			sl->done += (size_t)r;
			if (sl->done < sl->len && !*failed) {
				uring_queue(io, job, s); /* the rest of a short transfer */
				continue;
			}
		}
		if (r > 0 && sl->done == sl->len) {
			res->bytes += sl->len;
			res->transfers++;
			sl->has_data = !job->write;
		}
		io->free_slot[io->n_free++] = s;
		(*inflight)--;
	}
	io_uring_cq_advance(&io->ring, seen);
	return seen;
}

/* A submission error that is not a transient refusal. */
static int enter_failed(int rc)
{
	return rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY;
}

static int uring_run(struct strata_io *io, const struct strata_io_job *job,
                     struct strata_io_result *res, char *err, size_t err_len)
{
	const struct strata_layout *l = job->layout;
	size_t B = io->block_bytes;
	uint64_t next = 0, since_sync = 0;
	unsigned inflight = 0;
	int hold = 0;   /* an fsync is due: let the in-flight transfers finish */
	int failed = 0; /* stop queueing, drain, return the first error */
	while (inflight > 0 || (!failed && next < l->blocks)) {
		/* Each request is submitted as soon as it is prepared, and every
		 * submission also flushes completions (IORING_ENTER_GETEVENTS),
		 * whose slots are refilled in the same loop: fio's default
		 * (iodepth_batch_submit=1).  Submitting in batches was measured
		 * 0.83x fio at 4 KiB random reads: a batch reaches the device
		 * only when the whole batch is prepared (block-layer plugging),
		 * so the device queue runs half empty. */
		while (!failed && !hold && inflight < io->depth && next < l->blocks) {
			unsigned s = io->free_slot[--io->n_free];
			uint64_t off = strata_layout_offset(l, next++);
			if (job->write)
				strata_pattern_stamp(job->pattern, off, io->buf[s], B);
			io->slot[s] = (struct strata_io_slot){.offset = off, .len = B};
			uring_queue(io, job, s);
			inflight++;
			if (job->write && job->fsync_every_bytes) {
				since_sync += B;
				if (since_sync >= job->fsync_every_bytes)
					hold = 1;
			}
			int rc = io_uring_submit_and_get_events(&io->ring);
			if (enter_failed(rc) && !failed) {
				snprintf(err, err_len, "io_uring_enter: %s", strerror(-rc));
				failed = 1;
			}
			reap(io, job, res, &inflight, &failed, err, err_len);
		}
		if (inflight > 0) {
			/* Queue full (or nothing left to queue): flush, and sleep
			 * for a completion only when none is there. */
			int rc = io_uring_submit_and_get_events(&io->ring);
			unsigned seen = reap(io, job, res, &inflight, &failed, err, err_len);
			if (seen == 0 && inflight > 0) {
				rc = io_uring_submit_and_wait(&io->ring, 1);
				if (enter_failed(rc)) {
					/* The ring refuses to wait: nothing can be drained. */
					if (!failed)
						snprintf(err, err_len, "io_uring_enter: %s",
						         strerror(-rc));
					return -1;
				}
				reap(io, job, res, &inflight, &failed, err, err_len);
			} else if (enter_failed(rc) && !failed) {
				snprintf(err, err_len, "io_uring_enter: %s", strerror(-rc));
				failed = 1;
			}
		}
		if (hold && inflight == 0 && !failed) {
			hold = 0;
			since_sync = 0;
			if (do_fsync(job, res, err, err_len) != 0)
				failed = 1;
		}
	}
	/* The loop ends only with nothing in flight: after a failure every
	 * queued request (requeued rests included) was still submitted and
	 * reaped, so no buffer is in the kernel's hands when we return. */
	return failed ? -1 : 0;
}

int strata_io_run(struct strata_io *io, const struct strata_io_job *job,
                  struct strata_io_result *res, char *err, size_t err_len)
{
	memset(res, 0, sizeof(*res));
	for (unsigned i = 0; i < io->depth; i++)
		io->slot[i].has_data = 0;
	int rc = io->engine == STRATA_IO_URING ? uring_run(io, job, res, err, err_len)
	                                       : psync_run(io, job, res, err, err_len);
	if (rc == 0 && job->write && job->fsync_at_end)
		rc = do_fsync(job, res, err, err_len);
	return rc;
}

/* ---- checks ---------------------------------------------------------------------- */

static void note(struct strata_io_check *out, int64_t wrong, const struct strata_pattern_error *e)
{
	if (wrong > 0 && out->wrong_sectors == 0)
		out->first = *e;
	out->wrong_sectors += wrong;
}

void strata_io_check_slots(const struct strata_io *io, const struct strata_pattern *p,
                           struct strata_io_check *out)
{
	for (unsigned s = 0; s < io->depth; s++) {
		const struct strata_io_slot *sl = &io->slot[s];
		if (!sl->has_data)
			continue;
		struct strata_pattern_error e;
		note(out, strata_pattern_check(p, sl->offset, io->buf[s], sl->len, &e), &e);
		out->transfers++;
		out->bytes += sl->len;
	}
}

int strata_io_check_file(int fd, const struct strata_layout *l, const struct strata_pattern *p,
                         double fraction, uint64_t key, unsigned char *buf,
                         struct strata_io_check *out, char *err, size_t err_len)
{
	struct strata_layout seq = *l;
	seq.shuffled = 0;
	size_t B = (size_t)l->block_bytes;
	double limit = fraction * 18446744073709551616.0; /* 2^64 */
	for (uint64_t i = 0; i < l->blocks; i++) {
		if (fraction < 1.0 && i != 0 && i + 1 != l->blocks &&
		    (double)strata_pattern_mix(key ^ i) >= limit)
			continue;
		uint64_t off = strata_layout_offset(&seq, i);
		size_t done = 0;
		while (done < B) {
			ssize_t n = pread(fd, buf + done, B - done, (off_t)(off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				snprintf(err, err_len, "read-back of %zu bytes at offset %llu: %s",
				         B - done, (unsigned long long)(off + done),
				         n < 0 ? strerror(errno)
				               : "end of file (the file is shorter than written)");
				return -1;
			}
			done += (size_t)n;
		}
		struct strata_pattern_error e;
		note(out, strata_pattern_check(p, off, buf, B, &e), &e);
		out->transfers++;
		out->bytes += B;
	}
	return 0;
}
