/* storage.c: file-system bandwidth and IOPS, after IOR and fio: sequential and
 * random reads and writes, file-per-rank and shared files, and the
 * checkpoint burst.
 *
 * What it is: the experiment around kernels/cpu/storage_io.c.  In setup every
 * rank opens its file inside a private work directory (storage_fs.h) in the
 * plan's `dir` (default $TMPDIR, else /tmp); read cases also write and fsync
 * their data there first (untimed), so every case stands alone.  One
 * repetition (run_once) is one pass over the rank's share of `file_size`
 * bytes in `block`-byte transfers, laid out as IOR does (storage_layout.h):
 *   seq-write, rand-write  write every block once (random: a fresh keyed
 *                          shuffle each repetition), fsync every
 *                          `fsync_every` bytes and at the end, timed (IOR -e,
 *                          fio end_fsync=1);
 *   seq-read, rand-read    read every block once; before each repetition
 *                          (prepare hook, untimed) buffered reads drop the
 *                          page cache and measure what is still resident;
 *   checkpoint             every rank writes its share at the same moment
 *                          (fsync included: the time to checkpoint), barrier,
 *                          drop the cache, barrier, read it all back (the
 *                          restore); each phase timed inside.
 * Files are opened in setup and closed in teardown: open/close are outside
 * the timed region, as in fio (IOR times them; with one open per pass of many
 * transfers the difference is small).  Writes rewrite the same blocks in
 * every repetition (fio's default; the first pass, a warm-up one, allocates).
 *
 * Figures (seconds = the runner's repetition time, the slowest rank's; each
 * pass starts right after the runner's barrier, so this is IOR's aggregate
 * time "latest end - earliest start" across ranks):
 *   bandwidth            GB/s  rank's bytes / seconds / 1e9 (per rank: the
 *                              record's per_rank entries use each rank's own
 *                              median, so a slow node stands out)
 *   aggregate_bandwidth  GB/s  all ranks' bytes / seconds / 1e9 (IOR's bw)
 *   iops / aggregate_iops      transfers / seconds (fio's IOPS)
 *   checkpoint: checkpoint_s, restore_s (slowest rank's phase time, median
 *   over repetitions, from the inner timing, independent of `seconds`), and
 *   write_bandwidth / read_bandwidth = all ranks' bytes / those times.
 * GB is 1e9 bytes; fio and IOR print MiB/s (1 MiB/s = 1.048576e-3 GB/s).
 *
 * Validation: every transfer carries the deterministic pattern of
 * storage_pattern.h (file, offset, a per-case seed).  verify checks what the
 * last timed reads left in the buffers, then reads the rank's share back
 * (all of it, or the `verify_fraction` sample) after evicting it from the
 * page cache, and counts wrong 4 KiB sectors; the first names the file and
 * the offset.
 * What it is not: a metadata benchmark (storage_meta), a data loader
 * (storage_loader), or a test of one storage device in isolation (it
 * measures the file system at `dir`, caches and all, and says which).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/suite.h"
#include "harness/timer.h"
#include "kernels/cpu/storage_fs.h"
#include "kernels/cpu/storage_io.h"
#include "kernels/cpu/storage_layout.h"
#include "kernels/cpu/storage_pattern.h"
#include "kernels/cpu/storage_phase.h"

enum storage_pattern {
	P_SEQ_WRITE = 0,
	P_SEQ_READ,
	P_RAND_WRITE,
	P_RAND_READ,
	P_CHECKPOINT,
};
static const char *const pattern_names[] = {"seq-write", "seq-read", "rand-write", "rand-read",
                                            "checkpoint"};

enum { PH_WRITE = 0, PH_READ = 1 }; /* checkpoint phases */

/* A cache fraction above this after a drop marks a buffered read cache-warm. */
#define CACHE_WARM_FRACTION 0.01

struct storage_state {
	enum storage_pattern pattern;
	enum strata_io_engine engine;
	enum strata_cache_policy cache_policy;
	int direct;
	unsigned depth_requested;
	uint64_t file_size_requested, fsync_every;
	double verify_fraction;
	int rank, nranks, local_rank;

	struct strata_storage_ws ws;
	struct strata_storage_mount mount;
	uint64_t free_bytes, need_bytes;
	struct strata_layout layout;
	struct strata_pattern pat;
	uint64_t seed;
	struct strata_io io;
	int io_ready;
	int fd;
	char file_name[64];
	double populate_s; /* read cases: writing their data in setup */
	int64_t runs;

	/* page cache, over the repetitions */
	enum strata_cache_done cache_done;
	int cache_drops;
	double resident_max; /* -1: not measured */

	struct strata_phase_log phases; /* checkpoint: (reps, 2) */
	double phase_median_s[2];       /* rank 0 after verify */
	double *phase_per_rank_s;       /* rank 0: (nranks, 2) */
	int phase_reps;

	struct strata_io_check check; /* this rank's */
	uint64_t checked_bytes_all, checked_transfers_all;
	int64_t wrong_all;
};

static const struct strata_param_def storage_params[] = {
    {.name = "device",
     .type = STRATA_PT_ENUM,
     .def = "cpu",
     .choices = "cpu",
     .help = "where the buffers live (cpu)"},
    {.name = "pattern",
     .type = STRATA_PT_ENUM,
     .def = "[seq-write, seq-read, rand-write, rand-read, checkpoint]",
     .choices = "seq-write|seq-read|rand-write|rand-read|checkpoint",
     .help = "seq-/rand- write or read every block of the rank's share once per repetition "
             "(random: a new shuffle each time); checkpoint: all ranks write their share at "
             "once (fsync'd), then read it back"},
    {.name = "layout",
     .type = STRATA_PT_ENUM,
     .def = "file-per-rank",
     .choices = "file-per-rank|shared-segmented|shared-strided",
     .help =
         "file-per-rank: one file each; shared-segmented: one file, rank r owns bytes "
         "[r*S, (r+1)*S); shared-strided: one file, block i of rank r at (i*R + r)*block (IOR)"},
    {.name = "engine",
     .type = STRATA_PT_ENUM,
     .def = "io_uring",
     .choices = "io_uring|psync",
     .help = "io_uring: liburing, iodepth requests in flight; psync: pread/pwrite, one at a time"},
    {.name = "direct",
     .type = STRATA_PT_BOOL,
     .def = "true",
     .help = "O_DIRECT (bypass the page cache); false: buffered, the cache is dropped before "
             "reads and a read that may hit it is marked cache_warm"},
    {.name = "block",
     .type = STRATA_PT_SIZE,
     .def = "1M",
     .min = 4096,
     .max = 64 << 20,
     .help = "bytes per transfer, a multiple of 4 KiB (4K to 64M)"},
    {.name = "iodepth",
     .type = STRATA_PT_INT,
     .def = "16",
     .min = 1,
     .max = 1024,
     .help = "requests in flight (io_uring); psync always has 1"},
    {.name = "file_size",
     .type = STRATA_PT_SIZE,
     .def = "256M",
     .min = 4096,
     .max = 1099511627776.0 * 64,
     .help = "bytes each rank moves per repetition (its share S), rounded down to whole blocks"},
    {.name = "fsync_every",
     .type = STRATA_PT_SIZE,
     .def = "0",
     .min = 0,
     .max = 1099511627776.0 * 64,
     .help = "writes: also fsync after every this many bytes (0: only at the end, which is always "
             "done)"},
    {.name = "verify_fraction",
     .type = STRATA_PT_DOUBLE,
     .def = "1",
     .min = 1e-6,
     .max = 1,
     .help = "share of the rank's blocks read back and checked after timing (1: all; "
             "the first and last are always checked)"},
    {.name = "drop_cache",
     .type = STRATA_PT_ENUM,
     .def = "auto",
     .choices = "auto|fadvise|keep",
     .help = "before buffered reads: auto = posix_fadvise DONTNEED on the file, and sync + "
             "drop_caches where permitted (root); fadvise = only the former; keep = nothing "
             "(cache_warm)"},
    {.name = "dir",
     .type = STRATA_PT_STRING,
     .def = "\"\"",
     .help = "directory to work in (a unique subdirectory is made and removed); empty: "
             "$TMPDIR, else /tmp"},
};

static int is_read(enum storage_pattern p)
{
	return p == P_SEQ_READ || p == P_RAND_READ;
}

static int is_write(enum storage_pattern p)
{
	return p == P_SEQ_WRITE || p == P_RAND_WRITE;
}

static void storage_release(struct storage_state *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->io_ready)
		strata_io_release(&s->io);
	strata_storage_ws_close(&s->ws); /* collective: every rank releases together */
	strata_phase_log_release(&s->phases);
	free(s->phase_per_rank_s);
	free(s);
}

/* Severity of a local outcome, for agreeing across ranks. */
static int severity(int rc)
{
	return rc == STRATA_ERROR ? 2 : rc == STRATA_SKIP ? 1 : 0;
}

/* Every rank learns the worst outcome and the first failing rank's message.
 * Returns STRATA_OK, STRATA_SKIP or STRATA_ERROR on every rank. */
static int agree(struct storage_state *s, const struct strata_case *c, int rc)
{
	int worst = severity(rc);
	MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, s->ws.comm);
	if (worst == 0)
		return STRATA_OK;
	if (rc == STRATA_OK)
		c->err[0] = '\0';
	strata_storage_agree(s->ws.comm, s->rank, s->nranks, rc != STRATA_OK, c->err, c->err_len);
	return worst == 2 ? STRATA_ERROR : STRATA_SKIP;
}

/* Parameter checks every rank makes alike (no collective needed). */
static int read_params(struct storage_state *s, const struct strata_case *c)
{
	const struct strata_params *p = c->params;
	const char *name = strata_params_str(p, "pattern");
	s->pattern = P_SEQ_WRITE;
	for (int i = 0; i < 5; i++)
		if (!strcmp(name, pattern_names[i]))
			s->pattern = (enum storage_pattern)i;
	s->engine = (enum strata_io_engine)strata_io_engine_parse(strata_params_str(p, "engine"));
	s->cache_policy =
	    (enum strata_cache_policy)strata_cache_policy_parse(strata_params_str(p, "drop_cache"));
	s->direct = (int)strata_params_int(p, "direct");
	s->depth_requested = (unsigned)strata_params_int(p, "iodepth");
	s->file_size_requested = (uint64_t)strata_params_int(p, "file_size");
	s->fsync_every = (uint64_t)strata_params_int(p, "fsync_every");
	s->verify_fraction = strata_params_double(p, "verify_fraction");
	uint64_t block = (uint64_t)strata_params_int(p, "block");
	if (block % STRATA_PATTERN_SECTOR_BYTES) {
		strata_case_errorf(c,
		                   "storage: block %llu is not a multiple of 4096 (O_DIRECT "
		                   "alignment and the pattern's sector)",
		                   (unsigned long long)block);
		return -1;
	}
	if (s->file_size_requested < block) {
		strata_case_errorf(c, "storage: file_size %llu is smaller than one block (%llu)",
		                   (unsigned long long)s->file_size_requested,
		                   (unsigned long long)block);
		return -1;
	}
	int kind = strata_layout_kind_parse(strata_params_str(p, "layout"));
	s->layout = (struct strata_layout){
	    .kind = (enum strata_layout_kind)(kind < 0 ? 0 : kind),
	    .rank = c->rank,
	    .nranks = c->nranks,
	    .block_bytes = block,
	    .blocks = s->file_size_requested / block,
	    .shuffled = s->pattern == P_RAND_READ || s->pattern == P_RAND_WRITE,
	};
	return 0;
}

/* Why an open failed, as a strata status with the message in c->err. */
static int open_error(struct storage_state *s, const struct strata_case *c, int e)
{
	if (e == EINVAL && s->direct) {
		strata_case_errorf(c,
		                   "storage: O_DIRECT is not supported by %s at %s; set direct: "
		                   "false or choose another dir",
		                   s->mount.fstype, s->ws.base);
		return STRATA_SKIP;
	}
	strata_case_errorf(c, "storage: cannot open %s/%s: %s", s->ws.path, s->file_name,
	                   strerror(e));
	return STRATA_ERROR;
}

/* Open (create, exclusively, never through a symlink) this rank's file.
 * Shared layouts: rank 0 creates it, the others open it once it exists.
 * Returns this rank's status (the caller agrees on it). */
static int open_file(struct storage_state *s, const struct strata_case *c)
{
	int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (s->direct ? O_DIRECT : 0);
	int shared = s->layout.kind != STRATA_LAYOUT_FILE_PER_RANK;
	if (shared)
		snprintf(s->file_name, sizeof(s->file_name), "shared.dat");
	else
		snprintf(s->file_name, sizeof(s->file_name), "rank%06d.dat", s->rank);
	int rc = STRATA_OK;
	if (!shared || s->rank == 0) {
		s->fd = openat(s->ws.dirfd, s->file_name, flags | O_CREAT | O_EXCL, 0600);
		if (s->fd < 0)
			rc = open_error(s, c, errno);
	}
	if (!shared)
		return rc;
	int all = agree(s, c, rc); /* the file exists for everyone, or nobody goes on */
	if (all != STRATA_OK || s->rank == 0)
		return all;
	s->fd = openat(s->ws.dirfd, s->file_name, flags);
	return s->fd < 0 ? open_error(s, c, errno) : STRATA_OK;
}

/* Read cases: write the data the timed reads will read, then fsync. */
static int populate(struct storage_state *s, const struct strata_case *c)
{
	struct strata_layout seq = s->layout;
	seq.shuffled = 0;
	struct strata_io_job job = {
	    .fd = s->fd, .write = 1, .layout = &seq, .pattern = &s->pat, .fsync_at_end = 1};
	struct strata_io_result res;
	char why[512];
	strata_monotime_ns t0 = strata_now_ns();
	strata_io_prefill(&s->io, &s->pat);
	if (strata_io_run(&s->io, &job, &res, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "storage: writing the data to read, %s/%s: %s", s->ws.path,
		                   s->file_name, why);
		return STRATA_ERROR;
	}
	s->populate_s = (double)(strata_now_ns() - t0) * 1e-9;
	return STRATA_OK;
}

static int storage_setup(const struct strata_case *c, void **state)
{
	struct storage_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "storage: out of memory");
		return STRATA_ERROR;
	}
	s->fd = -1;
	s->resident_max = -1.0;
	s->rank = c->rank;
	s->nranks = c->nranks;
	s->local_rank = c->local_rank;
	s->ws.comm = MPI_COMM_NULL;
	s->ws.dirfd = s->ws.basefd = -1;
	strata_phase_log_init(&s->phases, 2);
	if (read_params(s, c) != 0) {
		free(s);
		return STRATA_ERROR;
	}
	if (strata_storage_ws_open(&s->ws, c->comm, c->rank, c->nranks, c->local_rank,
	                           c->local_size, strata_params_str(c->params, "dir"), c->err,
	                           c->err_len) != 0) {
		free(s);
		return STRATA_ERROR;
	}
	strata_storage_mount_find(s->ws.path, &s->mount);
	s->seed = 0;
	for (const char *q = s->ws.name; *q; q++)
		s->seed = strata_pattern_mix(s->seed ^ (unsigned char)*q);
	s->layout.key = s->seed;
	strata_pattern_init(&s->pat, s->seed,
	                    s->layout.kind == STRATA_LAYOUT_FILE_PER_RANK ? (uint64_t)s->rank + 1
	                                                                  : 0);

	/* 1. Where we are, and room for what we will write. */
	int rc = STRATA_OK;
	uint64_t share = s->layout.blocks * s->layout.block_bytes;
	int writers = s->ws.shared ? c->nranks : c->local_size;
	s->need_bytes = share * (uint64_t)writers;
	if (s->layout.kind != STRATA_LAYOUT_FILE_PER_RANK && !s->ws.shared) {
		strata_case_errorf(c,
		                   "storage: layout %s needs one file every rank sees, but %s is "
		                   "node-local (%d host(s) had to make their own work directory); "
		                   "use layout: file-per-rank or a shared file system",
		                   strata_layout_kind_name(s->layout.kind), s->ws.base,
		                   s->ws.hosts_created);
		rc = STRATA_SKIP;
	} else if (strata_storage_free_bytes(s->ws.path, &s->free_bytes) != 0) {
		strata_case_errorf(c, "storage: statvfs %s: %s", s->ws.path, strerror(errno));
		rc = STRATA_ERROR;
	} else if (s->need_bytes > s->free_bytes) {
		strata_case_errorf(c,
		                   "storage: not enough free space in %s (%s on %s): this case "
		                   "needs %llu bytes (%llu per rank x %d rank(s) writing there), "
		                   "%llu are free; lower file_size or choose another dir",
		                   s->ws.base, s->mount.fstype[0] ? s->mount.fstype : "?",
		                   s->mount.mount_point[0] ? s->mount.mount_point : "?",
		                   (unsigned long long)s->need_bytes, (unsigned long long)share,
		                   writers, (unsigned long long)s->free_bytes);
		rc = STRATA_SKIP;
	}
	rc = agree(s, c, rc);

	/* 2. The file and the engine. */
	if (rc == STRATA_OK)
		rc = agree(s, c, open_file(s, c));
	if (rc == STRATA_OK) {
		char why[512];
		int lrc = STRATA_OK;
		if (strata_io_init(&s->io, s->engine, s->depth_requested,
		                   (size_t)s->layout.block_bytes, why, sizeof(why)) != 0) {
			strata_case_errorf(c, "storage: %s", why);
			lrc = s->engine == STRATA_IO_URING && strstr(why, "io_uring")
			          ? STRATA_SKIP
			          : STRATA_ERROR;
		} else {
			s->io_ready = 1;
		}
		rc = agree(s, c, lrc);
	}
	/* 3. Data for the reads to read (checkpoint and writes make their own). */
	if (rc == STRATA_OK && is_read(s->pattern))
		rc = agree(s, c, populate(s, c));
	if (rc == STRATA_OK && !is_read(s->pattern))
		strata_io_prefill(&s->io, &s->pat);
	if (rc != STRATA_OK) {
		storage_release(s);
		return rc;
	}
	*state = s;
	return STRATA_OK;
}

/* Evict this rank's file from the page cache and measure what stayed. */
static int drop_cache(struct storage_state *s, const struct strata_case *c)
{
	char why[256];
	enum strata_cache_done done;
	if (strata_cache_drop(s->cache_policy, s->local_rank == 0, &s->fd, 1, &done, why,
	                      sizeof(why)) != 0) {
		strata_case_errorf(c, "storage: %s/%s: %s", s->ws.path, s->file_name, why);
		return STRATA_ERROR;
	}
	if (s->cache_drops == 0 || done < s->cache_done)
		s->cache_done = done; /* the weakest drop of any repetition */
	s->cache_drops++;
	double f = strata_cache_resident_fraction(s->fd, strata_layout_file_bytes(&s->layout));
	if (f > s->resident_max)
		s->resident_max = f;
	return STRATA_OK;
}

static int storage_prepare(void *state, const struct strata_case *c)
{
	struct storage_state *s = state;
	if (is_read(s->pattern) && !s->direct)
		return drop_cache(s, c);
	return STRATA_OK;
}

static void io_failed(struct storage_state *s, const struct strata_case *c, const char *why)
{
	uint64_t free_now = 0;
	strata_storage_free_bytes(s->ws.path, &free_now);
	strata_case_errorf(c, "storage %s: %s/%s: %s (%llu bytes free there now)",
	                   pattern_names[s->pattern], s->ws.path, s->file_name, why,
	                   (unsigned long long)free_now);
}

static int one_pass(struct storage_state *s, const struct strata_case *c, int write)
{
	struct strata_io_job job = {.fd = s->fd,
	                            .write = write,
	                            .layout = &s->layout,
	                            .pattern = &s->pat,
	                            .fsync_every_bytes = s->fsync_every,
	                            .fsync_at_end = write};
	struct strata_io_result res;
	char why[512];
	if (strata_io_run(&s->io, &job, &res, why, sizeof(why)) != 0) {
		io_failed(s, c, why);
		return STRATA_ERROR;
	}
	return STRATA_OK;
}

/* Write burst, barrier, cache drop, barrier, read-back.  Every rank reaches
 * both barriers whatever happened before them. */
static int checkpoint_once(struct storage_state *s, const struct strata_case *c)
{
	/* The last pass read into the buffers: give them the pattern back
	 * (before the phase's clock starts). */
	if (s->runs > 1)
		strata_io_prefill(&s->io, &s->pat);
	strata_monotime_ns t0 = strata_now_ns();
	int rc = one_pass(s, c, 1);
	strata_monotime_ns t1 = strata_now_ns();
	MPI_Barrier(s->ws.comm);
	if (rc == STRATA_OK && !s->direct)
		rc = drop_cache(s, c);
	MPI_Barrier(s->ws.comm);
	strata_monotime_ns t2 = strata_now_ns();
	if (rc == STRATA_OK)
		rc = one_pass(s, c, 0);
	strata_monotime_ns t3 = strata_now_ns();
	if (rc == STRATA_OK && c->timed) {
		double ph[2] = {(double)(t1 - t0) * 1e-9, (double)(t3 - t2) * 1e-9};
		if (strata_phase_log_push(&s->phases, ph) != 0) {
			strata_case_errorf(c, "storage: out of memory for phase times");
			rc = STRATA_ERROR;
		}
	}
	return rc;
}

static int storage_run_once(void *state, const struct strata_case *c)
{
	struct storage_state *s = state;
	s->runs++;
	/* a fresh random order each repetition */
	s->layout.key = strata_pattern_mix(s->seed ^ (uint64_t)s->runs);
	if (s->pattern == P_CHECKPOINT)
		return checkpoint_once(s, c);
	return one_pass(s, c, is_write(s->pattern));
}

static int64_t storage_verify(void *state, const struct strata_case *c)
{
	struct storage_state *s = state;
	int64_t rc = 0;
	memset(&s->check, 0, sizeof(s->check));
	/* 1. The data the last timed reads returned. */
	if (is_read(s->pattern) || s->pattern == P_CHECKPOINT)
		strata_io_check_slots(&s->io, &s->pat, &s->check);
	/* 2. The rank's share, read back from storage. */
	char why[512] = "";
	enum strata_cache_done done;
	if (!s->direct &&
	    strata_cache_drop(STRATA_CACHE_FADVISE, 0, &s->fd, 1, &done, why, sizeof(why)) != 0)
		rc = -1;
	if (rc == 0 && strata_io_check_file(s->fd, &s->layout, &s->pat, s->verify_fraction, s->seed,
	                                    s->io.buf[0], &s->check, why, sizeof(why)) != 0)
		rc = -1;
	if (rc < 0)
		strata_case_errorf(c, "storage %s: %s/%s: %s", pattern_names[s->pattern],
		                   s->ws.path, s->file_name, why);
	else if (s->check.wrong_sectors > 0) {
		const struct strata_pattern_error *e = &s->check.first;
		char where[160] = "";
		if (e->in_header)
			snprintf(where, sizeof(where),
			         " (in the sector header, which names file %llu offset %llu)",
			         (unsigned long long)e->header_file,
			         (unsigned long long)e->header_offset);
		strata_case_errorf(c,
		                   "storage %s: %s/%s offset %llu: expected byte 0x%02x, got "
		                   "0x%02x%s; %lld wrong 4 KiB sector(s) in %llu bytes checked",
		                   pattern_names[s->pattern], s->ws.path, s->file_name,
		                   (unsigned long long)e->offset, e->expected, e->actual, where,
		                   (long long)s->check.wrong_sectors,
		                   (unsigned long long)s->check.bytes);
		rc = s->check.wrong_sectors;
	}
	/* 3. Collective: totals and the checkpoint's phase times (every rank). */
	uint64_t sums[3] = {s->check.bytes, s->check.transfers,
	                    (uint64_t)(s->check.wrong_sectors > 0 ? s->check.wrong_sectors : 0)};
	MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_UINT64_T, MPI_SUM, s->ws.comm);
	s->checked_bytes_all = sums[0];
	s->checked_transfers_all = sums[1];
	s->wrong_all = (int64_t)sums[2];
	if (s->pattern == P_CHECKPOINT) {
		if (s->rank == 0)
			s->phase_per_rank_s = calloc((size_t)s->nranks * 2, sizeof(double));
		s->phase_reps = strata_phase_log_reduce(&s->phases, s->ws.comm, s->rank, s->nranks,
		                                        s->phase_median_s, s->phase_per_rank_s);
	}
	return rc;
}

static void storage_teardown(void *state)
{
	storage_release(state);
}

static size_t storage_metrics(const void *state, const struct strata_case *c, double seconds,
                              struct strata_metric *out, size_t max)
{
	const struct storage_state *s = state;
	if (seconds <= 0)
		return 0;
	double B = (double)s->layout.block_bytes, ops = (double)s->layout.blocks;
	double rank_bytes = ops * B, R = c->nranks > 0 ? c->nranks : 1;
	struct strata_metric m[STRATA_MAX_METRICS];
	size_t n = 0;
	if (s->pattern == P_CHECKPOINT) {
		double w = s->phase_median_s[PH_WRITE], r = s->phase_median_s[PH_READ];
		m[n++] =
		    (struct strata_metric){"bandwidth", "GB/s", 2 * rank_bytes / seconds / 1e9, 1};
		if (w > 0) {
			m[n++] = (struct strata_metric){"checkpoint_s", "s", w, 0};
			m[n++] = (struct strata_metric){"write_bandwidth", "GB/s",
			                                R * rank_bytes / w / 1e9, 1};
		}
		if (r > 0) {
			m[n++] = (struct strata_metric){"restore_s", "s", r, 0};
			m[n++] = (struct strata_metric){"read_bandwidth", "GB/s",
			                                R * rank_bytes / r / 1e9, 1};
		}
		m[n++] = (struct strata_metric){"time", "ms", seconds * 1e3, 0};
	} else if (s->layout.shuffled) {
		m[n++] = (struct strata_metric){"iops", "IO/s", ops / seconds, 1};
		m[n++] = (struct strata_metric){"aggregate_iops", "IO/s", R * ops / seconds, 1};
		m[n++] = (struct strata_metric){"aggregate_bandwidth", "GB/s",
		                                R * rank_bytes / seconds / 1e9, 1};
		m[n++] = (struct strata_metric){"bandwidth", "GB/s", rank_bytes / seconds / 1e9, 1};
		m[n++] = (struct strata_metric){"time", "ms", seconds * 1e3, 0};
	} else {
		m[n++] = (struct strata_metric){"bandwidth", "GB/s", rank_bytes / seconds / 1e9, 1};
		m[n++] = (struct strata_metric){"aggregate_bandwidth", "GB/s",
		                                R * rank_bytes / seconds / 1e9, 1};
		m[n++] = (struct strata_metric){"aggregate_iops", "IO/s", R * ops / seconds, 1};
		m[n++] = (struct strata_metric){"time", "ms", seconds * 1e3, 0};
	}
	size_t k = n < max ? n : max;
	memcpy(out, m, k * sizeof(*out));
	return k;
}

static json_t *cache_json(const struct storage_state *s)
{
	json_t *j = json_object();
	int reads = is_read(s->pattern) || s->pattern == P_CHECKPOINT;
	const char *state;
	int warm = 0;
	if (!reads) {
		state = "not applicable (writes; each pass ends with fsync)";
	} else if (s->direct) {
		state = "bypassed (O_DIRECT)";
	} else if (strata_storage_fs_in_memory(s->mount.fstype)) {
		state = "warm: the file system keeps its data in memory";
		warm = 1;
	} else if (s->resident_max < 0) {
		state = "unknown: residency could not be measured (mincore)";
		warm = 1;
	} else if (s->resident_max > CACHE_WARM_FRACTION) {
		state = "warm: pages were still cached after the drop";
		warm = 1;
	} else {
		state = "cold";
	}
	json_object_set_new(j, "policy",
	                    json_string(s->cache_policy == STRATA_CACHE_AUTO      ? "auto"
	                                : s->cache_policy == STRATA_CACHE_FADVISE ? "fadvise"
	                                                                          : "keep"));
	json_object_set_new(j, "action",
	                    json_string(reads && !s->direct && s->cache_drops
	                                    ? strata_cache_done_name(s->cache_done)
	                                    : "none"));
	json_object_set_new(j, "drops", json_integer(s->cache_drops));
	if (s->resident_max >= 0)
		json_object_set_new(j, "resident_fraction_max", json_real(s->resident_max));
	json_object_set_new(
	    j, "residency_method",
	    json_string("mmap + mincore(2) over the file after each drop, rank 0's view"));
	json_object_set_new(j, "state", json_string(state));
	json_object_set_new(j, "cache_warm", json_boolean(warm));
	return j;
}

static void storage_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct storage_state *s = state;
	const struct strata_layout *l = &s->layout;
	uint64_t share = l->blocks * l->block_bytes;
	json_object_set_new(details, "pattern", json_string(pattern_names[s->pattern]));
	json_object_set_new(details, "layout", json_string(strata_layout_kind_name(l->kind)));
	json_object_set_new(
	    details, "layout_offsets",
	    json_string(l->kind == STRATA_LAYOUT_FILE_PER_RANK ? "file r, offset i*block (IOR -F)"
	                : l->kind == STRATA_LAYOUT_SHARED_SEGMENTED
	                    ? "one file, offset r*S + i*block (IOR, 1 segment of blockSize S)"
	                    : "one file, offset (i*R + r)*block (IOR, segments of blockSize = "
	                      "transferSize)"));
	json_object_set_new(details, "order",
	                    json_string(l->shuffled
	                                    ? "random: every block once per repetition, keyed "
	                                      "Feistel shuffle, new key each repetition"
	                                    : "sequential"));
	json_object_set_new(details, "engine", json_string(strata_io_engine_name(s->engine)));
	json_object_set_new(details, "iodepth", json_integer(s->io.depth));
	json_object_set_new(details, "iodepth_requested", json_integer(s->depth_requested));
	if (s->engine == STRATA_IO_URING) {
		char flags[128];
		strata_io_ring_flags(s->io.ring_flags, flags, sizeof(flags));
		json_object_set_new(details, "ring_setup_flags", json_string(flags));
		json_object_set_new(details, "fixed_buffers", json_boolean(s->io.fixed_buffers));
		if (!s->io.fixed_buffers)
			json_object_set_new(details, "fixed_buffers_why",
			                    json_string(s->io.fixed_buffers_why));
#ifdef IO_URING_VERSION_MAJOR
		char v[32];
		snprintf(v, sizeof(v), "%d.%d", IO_URING_VERSION_MAJOR, IO_URING_VERSION_MINOR);
		json_object_set_new(details, "liburing", json_string(v));
#endif
	}
	json_object_set_new(details, "direct", json_boolean(s->direct));
	json_object_set_new(details, "buffers",
	                    json_pack("{s:s,s:b}", "layout",
	                              "one region, 2 MiB aligned, iodepth x block bytes",
	                              "madv_hugepage", s->io.huge_pages_advised));
	json_object_set_new(details, "block_bytes", json_integer((json_int_t)l->block_bytes));
	json_object_set_new(details, "file_size_requested",
	                    json_integer((json_int_t)s->file_size_requested));
	json_object_set_new(details, "bytes_per_rank", json_integer((json_int_t)share));
	json_object_set_new(details, "transfers_per_rank", json_integer((json_int_t)l->blocks));
	json_object_set_new(details, "bytes_all_ranks",
	                    json_integer((json_int_t)(share * (uint64_t)c->nranks)));
	json_object_set_new(details, "file_bytes",
	                    json_integer((json_int_t)strata_layout_file_bytes(l)));
	json_object_set_new(details, "fsync",
	                    json_pack("{s:b,s:I,s:s}", "at_end",
	                              is_write(s->pattern) || s->pattern == P_CHECKPOINT,
	                              "every_bytes", (json_int_t)s->fsync_every, "timed",
	                              "inside the pass, as IOR -e and fio end_fsync"));
	json_object_set_new(details, "open_close",
	                    json_string("in setup/teardown, outside the timed region (as fio)"));
	json_object_set_new(details, "dir",
	                    json_pack("{s:s,s:s,s:s,s:b,s:i}", "base", s->ws.base, "base_from",
	                              s->ws.base_source, "workdir", s->ws.path,
	                              "shared_by_all_ranks", s->ws.shared, "hosts_with_own_copy",
	                              s->ws.hosts_created));
	json_object_set_new(details, "filesystem", strata_storage_mount_json(&s->mount));
	json_object_set_new(details, "free_bytes_before", json_integer((json_int_t)s->free_bytes));
	json_object_set_new(details, "bytes_needed", json_integer((json_int_t)s->need_bytes));
	json_object_set_new(details, "page_cache", cache_json(s));
	json_object_set(details, "cache_warm",
	                json_object_get(json_object_get(details, "page_cache"), "cache_warm"));
	if (is_read(s->pattern))
		json_object_set_new(details, "populate_seconds", json_real(s->populate_s));
	char seed[24];
	snprintf(seed, sizeof(seed), "0x%016llx", (unsigned long long)s->seed);
	json_object_set_new(
	    details, "data_pattern",
	    json_pack("{s:s,s:s,s:i,s:i}", "kind",
	              "4 KiB sectors: header (magic^seed, file id, offset, hash) + "
	              "body from (seed, file id, word); kernels/cpu/storage_pattern.h",
	              "seed", seed, "sector_bytes", (int)STRATA_PATTERN_SECTOR_BYTES,
	              "header_bytes", (int)STRATA_PATTERN_HEADER_BYTES));
	json_object_set_new(
	    details, "verification",
	    json_pack("{s:f,s:I,s:I,s:I,s:s}", "fraction", s->verify_fraction, "transfers_checked",
	              (json_int_t)s->checked_transfers_all, "bytes_checked",
	              (json_int_t)s->checked_bytes_all, "wrong_sectors", (json_int_t)s->wrong_all,
	              "method",
	              "last timed reads' buffers, then a read-back of every rank's "
	              "share (or the sample) after evicting it from the cache; all ranks summed"));
	if (s->pattern == P_CHECKPOINT) {
		json_t *per = json_array();
		for (int r = 0; s->phase_per_rank_s && r < c->nranks; r++)
			json_array_append_new(per, json_pack("{s:i,s:f,s:f}", "rank", r, "write_s",
			                                     s->phase_per_rank_s[2 * r], "read_s",
			                                     s->phase_per_rank_s[2 * r + 1]));
		json_object_set_new(
		    details, "checkpoint",
		    json_pack("{s:i,s:f,s:f,s:o,s:s}", "repetitions", s->phase_reps,
		              "write_s_median", s->phase_median_s[PH_WRITE], "read_s_median",
		              s->phase_median_s[PH_READ], "per_rank_median_s", per, "method",
		              "phase time = slowest rank's (each phase starts after a "
		              "barrier: IOR's latest end - earliest start), median over "
		              "repetitions; cache dropped between the phases, untimed"));
	}
}

const struct strata_suite strata_suite_storage = {
    .name = "storage",
    .summary = "file-system bandwidth/IOPS (IOR/fio style): seq/rand read/write, shared files, "
               "checkpoint burst",
    .flags = STRATA_SUITE_IO | STRATA_SUITE_COLLECTIVE,
    .params = storage_params,
    .n_params = sizeof(storage_params) / sizeof(storage_params[0]),
    .setup = storage_setup,
    .run_once = storage_run_once,
    .verify = storage_verify,
    .teardown = storage_teardown,
    .metrics = storage_metrics,
    .describe = storage_describe,
    .prepare = storage_prepare,
};
