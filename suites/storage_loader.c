/* storage_loader.c: can this storage keep N accelerators busy?  A training
 * data loader after MLPerf Storage (DLIO's emulation): sample files, reader
 * threads and simulated accelerators that compute for a fixed time per batch.
 *
 * What it is: the experiment around kernels/cpu/storage_loader.c.  Setup
 * writes each rank's dataset (`samples` files of `sample_bytes`) into its own
 * directory of the private work directory (storage_fs.h) and syncs it; with
 * `accelerators: 0` it then searches, untimed, for the largest number of
 * simulated accelerators per rank whose AU stays >= target_au_pct: one epoch per
 * probe at 1, 2, 4, ... accelerators (every rank alike), then bisection
 * between the last count that passed and the first that failed; a probe
 * passes when the mean AU over all ranks' accelerators (MLPerf Storage's
 * figure) is >= target_au_pct.  The search stops at max_accelerators, or where an
 * accelerator would get fewer than 4 batches per epoch (the dataset is too
 * small to say more); the record says which.  One timed repetition is then
 * one epoch at the count given (or found; at least 1), the page cache
 * dropped before it (prepare hook: posix_fadvise DONTNEED on every sample,
 * and drop_caches where permitted) unless direct or drop_cache: keep.
 *
 * Figures (seconds = the runner's repetition time, the slowest rank's epoch):
 *   samples_per_s            per rank: samples consumed / seconds (MLPerf
 *                            Storage's primary metric is samples per second)
 *   aggregate_samples_per_s  all ranks' samples / seconds
 *   bandwidth                all ranks' sample bytes / seconds, GB/s
 *   au                       %, mean over all ranks' accelerators of
 *                            steps x compute / (end - first compute start),
 *                            the first step's I/O excluded (MLPerf Storage),
 *                            median over repetitions (inner timing)
 *   au_min                   %, the least busy accelerator's, median over reps
 *   accelerators_per_node    the search's count x ranks on rank 0's host
 *                            (only when searched; from setup, not `seconds`)
 * The time split (readers: I/O, decode, synchronisation; accelerators:
 * compute, waiting for data) is in details, with which of them the readers
 * spent most time on when AU is below target.
 * Validation: every sample read in every epoch is checked against the
 * pattern (that check is part of the decode work); a mismatch names the
 * sample file and byte.
 * What it is not: a model of any framework, of accelerator memory copies, or
 * of multi-sample file formats.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/stats.h"
#include "harness/suite.h"
#include "harness/timer.h"
#include "kernels/cpu/storage_fs.h"
#include "kernels/cpu/storage_loader.h"
#include "kernels/cpu/storage_pattern.h"

#define MIN_STEPS_TO_SEARCH 4
#define MAX_QUEUE_BYTES (1ull << 30)
#define CACHE_WARM_FRACTION 0.01
#define MAX_PROBES 64

/* Per timed epoch on this rank, reduced across ranks in verify. */
enum { E_AU_MEAN, E_AU_MIN, E_IO, E_DECODE, E_SYNC, E_COMPUTE, E_WAIT, E_WALL, E_FIELDS };

struct probe {
	unsigned accelerators;
	double au_mean, au_min, samples_per_s;
	int passed;
};

struct loader_state {
	int rank, nranks, local_rank, local_size;
	struct strata_storage_ws ws;
	struct strata_storage_mount mount;
	char subdir[32];
	int dirfd;
	struct strata_loader_cfg cfg;
	enum strata_cache_policy cache_policy;
	double target_au;
	unsigned accel_requested, max_accel;
	uint64_t epochs;
	uint64_t free_bytes, need_bytes;
	double make_s;

	int searched;
	unsigned found;          /* largest count passing (0: even 1 failed) */
	const char *search_stop; /* why the search stopped */
	struct probe probes[MAX_PROBES];
	int nprobes;

	enum strata_cache_done cache_done;
	int cache_drops;
	double resident_max;

	double *log; /* (reps, E_FIELDS) */
	size_t nlog, caplog;
	int64_t wrong;
	char first_wrong[256];
	struct strata_loader_epoch last;

	double med[E_FIELDS]; /* rank 0 after verify: AU mean over ranks, min, sums */
	int reps;
};

static const struct strata_param_def loader_params[] = {
    {.name = "device",
     .type = STRATA_PT_ENUM,
     .def = "cpu",
     .choices = "cpu",
     .help = "where the work runs (cpu; the accelerators are simulated)"},
    {.name = "samples",
     .type = STRATA_PT_INT,
     .def = "512",
     .min = 1,
     .max = 100000000,
     .help = "sample files per rank (its dataset)"},
    {.name = "sample_bytes",
     .type = STRATA_PT_SIZE,
     .def = "128K",
     .min = 1,
     .max = 1 << 30,
     .help = "bytes per sample file"},
    {.name = "batch",
     .type = STRATA_PT_INT,
     .def = "8",
     .min = 1,
     .max = 65536,
     .help = "samples per batch"},
    {.name = "compute_us",
     .type = STRATA_PT_DOUBLE,
     .def = "2000",
     .min = 1,
     .max = 1e8,
     .help = "simulated accelerator time per batch, microseconds"},
    {.name = "accelerators",
     .type = STRATA_PT_INT,
     .def = "0",
     .min = 0,
     .max = 4096,
     .help = "simulated accelerators per rank; 0: search for the most keeping AU >= target_au_pct "
             "and measure there"},
    {.name = "max_accelerators",
     .type = STRATA_PT_INT,
     .def = "64",
     .min = 1,
     .max = 4096,
     .help = "largest count the search tries per rank"},
    {.name = "target_au_pct",
     .type = STRATA_PT_INT,
     .def = "90",
     .min = 1,
     .max = 100,
     .help = "accelerator utilisation (%) the search keeps (MLPerf Storage: 90 for U-Net3D and "
             "ResNet-50, 70 for CosmoFlow)"},
    {.name = "readers",
     .type = STRATA_PT_INT,
     .def = "4",
     .min = 1,
     .max = 1024,
     .help = "reader threads per rank"},
    {.name = "prefetch",
     .type = STRATA_PT_INT,
     .def = "2",
     .min = 1,
     .max = 1024,
     .help = "batches of samples buffered per accelerator"},
    {.name = "decode_us",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e8,
     .help = "CPU time per sample spent decoding after the pattern check, microseconds"},
    {.name = "direct",
     .type = STRATA_PT_BOOL,
     .def = "false",
     .help = "read samples with O_DIRECT"},
    {.name = "drop_cache",
     .type = STRATA_PT_ENUM,
     .def = "auto",
     .choices = "auto|fadvise|keep",
     .help = "before each epoch: auto = posix_fadvise DONTNEED on every sample and drop_caches "
             "where permitted; fadvise = only the former; keep = nothing (cache_warm)"},
    {.name = "dir",
     .type = STRATA_PT_STRING,
     .def = "\"\"",
     .help = "directory to work in (a unique subdirectory is made and removed); empty: "
             "$TMPDIR, else /tmp"},
};

static void loader_release(struct loader_state *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	strata_storage_ws_close(&s->ws); /* collective */
	free(s->log);
	free(s);
}

static int agree(struct loader_state *s, const struct strata_case *c, int rc)
{
	int worst = rc == STRATA_ERROR ? 2 : rc == STRATA_SKIP ? 1 : 0;
	MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, s->ws.comm);
	if (worst == 0)
		return STRATA_OK;
	strata_storage_agree(s->ws.comm, s->rank, s->nranks, rc != STRATA_OK, c->err, c->err_len);
	return worst == 2 ? STRATA_ERROR : STRATA_SKIP;
}

static int drop_cache(struct loader_state *s, const struct strata_case *c)
{
	if (s->cfg.direct || s->cache_policy == STRATA_CACHE_KEEP)
		return STRATA_OK;
	char why[256];
	if (strata_loader_fadvise_dataset(&s->cfg, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "storage_loader: %s/%s: %s", s->ws.path, s->subdir, why);
		return STRATA_ERROR;
	}
	enum strata_cache_done done = STRATA_CACHE_DID_FADVISE;
	if (strata_cache_drop(s->cache_policy, s->local_rank == 0, NULL, 0, &done, why,
	                      sizeof(why)) != 0 ||
	    done == STRATA_CACHE_DID_NOTHING)
		done = STRATA_CACHE_DID_FADVISE;
	if (s->cache_drops == 0 || done < s->cache_done)
		s->cache_done = done;
	s->cache_drops++;
	double f = strata_loader_resident_fraction(&s->cfg);
	if (f > s->resident_max)
		s->resident_max = f;
	return STRATA_OK;
}

/* One untimed probe epoch at n accelerators; collective.  Returns the
 * agreed status; *pass whether mean AU over ranks >= target. */
static int probe(struct loader_state *s, const struct strata_case *c, unsigned n, int *pass)
{
	int rc = drop_cache(s, c);
	struct strata_loader_cfg cfg = s->cfg;
	cfg.accelerators = n;
	struct strata_loader_epoch ep;
	char why[256];
	if (rc == STRATA_OK && strata_loader_epoch(&cfg, s->epochs++, &ep, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "storage_loader search at %u accelerators: %s", n, why);
		rc = STRATA_ERROR;
	}
	if ((rc = agree(s, c, rc)) != STRATA_OK)
		return rc;
	double v[3] = {ep.au_mean, (double)ep.samples / (ep.wall_s > 0 ? ep.wall_s : 1e-9), 0};
	double mn = ep.au_min;
	MPI_Allreduce(MPI_IN_PLACE, v, 3, MPI_DOUBLE, MPI_SUM, s->ws.comm);
	MPI_Allreduce(MPI_IN_PLACE, &mn, 1, MPI_DOUBLE, MPI_MIN, s->ws.comm);
	double au = v[0] / s->nranks;
	*pass = au >= s->target_au;
	if (s->nprobes < MAX_PROBES)
		s->probes[s->nprobes++] = (struct probe){.accelerators = n,
		                                         .au_mean = au,
		                                         .au_min = mn,
		                                         .samples_per_s = v[1],
		                                         .passed = *pass};
	if (ep.wrong && !s->wrong)
		snprintf(s->first_wrong, sizeof(s->first_wrong), "%s", ep.first_wrong);
	s->wrong += ep.wrong;
	return STRATA_OK;
}

static int search(struct loader_state *s, const struct strata_case *c)
{
	unsigned by_data = (unsigned)(s->cfg.samples / s->cfg.batch / MIN_STEPS_TO_SEARCH);
	unsigned max = s->max_accel < by_data ? s->max_accel : by_data;
	if (max == 0) {
		strata_case_errorf(c,
		                   "storage_loader: accelerators: 0 searches, which needs at least "
		                   "%d batches per accelerator: samples (%llu) >= %d x batch (%u)",
		                   MIN_STEPS_TO_SEARCH, (unsigned long long)s->cfg.samples,
		                   MIN_STEPS_TO_SEARCH, s->cfg.batch);
		return STRATA_ERROR;
	}
	struct strata_au_search st;
	strata_au_search_init(&st, max);
	while (st.next) {
		int pass = 0;
		unsigned n = st.next;
		int rc = probe(s, c, n, &pass);
		if (rc != STRATA_OK)
			return rc;
		strata_au_search_report(&st, n, pass);
	}
	s->searched = 1;
	s->found = st.pass;
	if (st.fail)
		s->search_stop = "bracketed: the next count fails the target";
	else if (max == s->max_accel)
		s->search_stop = "max_accelerators reached with AU still >= target";
	else
		s->search_stop =
		    "dataset too small to test more (fewer than 4 batches per accelerator)";
	s->cfg.accelerators = s->found ? s->found : 1;
	return STRATA_OK;
}

static int loader_setup(const struct strata_case *c, void **state)
{
	struct loader_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "storage_loader: out of memory");
		return STRATA_ERROR;
	}
	const struct strata_params *p = c->params;
	s->rank = c->rank;
	s->nranks = c->nranks;
	s->local_rank = c->local_rank;
	s->local_size = c->local_size;
	s->dirfd = -1;
	s->resident_max = -1.0;
	s->target_au = (double)strata_params_int(p, "target_au_pct") / 100.0;
	s->accel_requested = (unsigned)strata_params_int(p, "accelerators");
	s->max_accel = (unsigned)strata_params_int(p, "max_accelerators");
	s->cache_policy =
	    (enum strata_cache_policy)strata_cache_policy_parse(strata_params_str(p, "drop_cache"));
	s->cfg = (struct strata_loader_cfg){
	    .rank = c->rank,
	    .samples = (uint64_t)strata_params_int(p, "samples"),
	    .sample_bytes = (size_t)strata_params_int(p, "sample_bytes"),
	    .batch = (unsigned)strata_params_int(p, "batch"),
	    .accelerators = s->accel_requested,
	    .readers = (unsigned)strata_params_int(p, "readers"),
	    .prefetch = (unsigned)strata_params_int(p, "prefetch"),
	    .compute_ns = (int64_t)(strata_params_double(p, "compute_us") * 1e3),
	    .decode_ns = (int64_t)(strata_params_double(p, "decode_us") * 1e3),
	    .direct = (int)strata_params_int(p, "direct"),
	    .max_queue_bytes = MAX_QUEUE_BYTES,
	};
	if (s->accel_requested &&
	    strata_loader_steps(s->cfg.samples, s->cfg.batch, s->accel_requested) == 0) {
		strata_case_errorf(c,
		                   "storage_loader: %llu samples give no whole batch of %u to each "
		                   "of %u accelerators",
		                   (unsigned long long)s->cfg.samples, s->cfg.batch,
		                   s->accel_requested);
		free(s);
		return STRATA_ERROR;
	}
	if (strata_storage_ws_open(&s->ws, c->comm, c->rank, c->nranks, c->local_rank,
	                           c->local_size, strata_params_str(p, "dir"), c->err,
	                           c->err_len) != 0) {
		free(s);
		return STRATA_ERROR;
	}
	strata_storage_mount_find(s->ws.path, &s->mount);
	for (const char *q = s->ws.name; *q; q++)
		s->cfg.seed = strata_pattern_mix(s->cfg.seed ^ (unsigned char)*q);

	/* Room for the datasets of every rank writing there. */
	int rc = STRATA_OK;
	int users = s->ws.shared ? c->nranks : c->local_size;
	s->need_bytes =
	    s->cfg.samples * ((s->cfg.sample_bytes + 4095) / 4096 * 4096 + 4096) * (uint64_t)users;
	if (strata_storage_free_bytes(s->ws.path, &s->free_bytes) != 0) {
		strata_case_errorf(c, "storage_loader: statvfs %s: %s", s->ws.path,
		                   strerror(errno));
		rc = STRATA_ERROR;
	} else if (s->need_bytes > s->free_bytes) {
		strata_case_errorf(c,
		                   "storage_loader: not enough free space in %s (%s): the datasets "
		                   "need about %llu bytes (%llu samples x %zu bytes x %d rank(s)), "
		                   "%llu are free; lower samples or sample_bytes",
		                   s->ws.base, s->mount.fstype, (unsigned long long)s->need_bytes,
		                   (unsigned long long)s->cfg.samples, s->cfg.sample_bytes, users,
		                   (unsigned long long)s->free_bytes);
		rc = STRATA_SKIP;
	}
	rc = agree(s, c, rc);
	if (rc == STRATA_OK) {
		int lrc = STRATA_OK;
		char why[256];
		snprintf(s->subdir, sizeof(s->subdir), "d%d", s->rank);
		strata_monotime_ns t0 = strata_now_ns();
		if (mkdirat(s->ws.dirfd, s->subdir, 0700) != 0 ||
		    (s->dirfd = openat(s->ws.dirfd, s->subdir,
		                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			strata_case_errorf(c, "storage_loader: %s/%s: %s", s->ws.path, s->subdir,
			                   strerror(errno));
			lrc = STRATA_ERROR;
		} else {
			s->cfg.dirfd = s->dirfd;
			if (strata_loader_make_dataset(&s->cfg, why, sizeof(why)) != 0) {
				strata_case_errorf(
				    c, "storage_loader: writing the dataset in %s/%s: %s",
				    s->ws.path, s->subdir, why);
				lrc = STRATA_ERROR;
			}
		}
		s->make_s = (double)(strata_now_ns() - t0) * 1e-9;
		rc = agree(s, c, lrc);
	}
	if (rc == STRATA_OK && s->accel_requested == 0)
		rc = agree(s, c, search(s, c));
	if (rc != STRATA_OK) {
		loader_release(s);
		return rc;
	}
	*state = s;
	return STRATA_OK;
}

static int loader_prepare(void *state, const struct strata_case *c)
{
	return drop_cache(state, c);
}

static int loader_run_once(void *state, const struct strata_case *c)
{
	struct loader_state *s = state;
	char why[256];
	if (strata_loader_epoch(&s->cfg, s->epochs++, &s->last, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "storage_loader in %s/%s: %s", s->ws.path, s->subdir, why);
		return STRATA_ERROR;
	}
	if (s->last.wrong && !s->wrong)
		snprintf(s->first_wrong, sizeof(s->first_wrong), "%s", s->last.first_wrong);
	s->wrong += s->last.wrong;
	if (!c->timed)
		return STRATA_OK;
	if (s->nlog == s->caplog) {
		size_t cap = s->caplog ? 2 * s->caplog : 64;
		double *nl = realloc(s->log, cap * E_FIELDS * sizeof(*nl));
		if (!nl) {
			strata_case_errorf(c, "storage_loader: out of memory");
			return STRATA_ERROR;
		}
		s->log = nl;
		s->caplog = cap;
	}
	const struct strata_loader_epoch *e = &s->last;
	double *row = s->log + s->nlog++ * E_FIELDS;
	row[E_AU_MEAN] = e->au_mean;
	row[E_AU_MIN] = e->au_min;
	row[E_IO] = e->io_s;
	row[E_DECODE] = e->decode_s;
	row[E_SYNC] = e->sync_s;
	row[E_COMPUTE] = e->compute_s;
	row[E_WAIT] = e->wait_s;
	row[E_WALL] = e->wall_s;
	return STRATA_OK;
}

static double median_col(const double *v, int n, int col)
{
	if (n <= 0)
		return 0.0;
	double *x = malloc((size_t)n * sizeof(*x));
	if (!x)
		return 0.0;
	for (int i = 0; i < n; i++)
		x[i] = v[(size_t)i * E_FIELDS + col];
	struct strata_stats st;
	double m = strata_stats_compute(x, (size_t)n, &st) == 0 ? st.median : 0.0;
	free(x);
	return m;
}

static int64_t loader_verify(void *state, const struct strata_case *c)
{
	struct loader_state *s = state;
	int64_t rc = 0;
	if (s->wrong > 0) {
		strata_case_errorf(c,
		                   "storage_loader in %s/%s: %lld sample(s) failed the check; "
		                   "first: %s",
		                   s->ws.path, s->subdir, (long long)s->wrong, s->first_wrong);
		rc = s->wrong;
	}
	/* Per epoch: AU mean over ranks (sum / R), AU min over ranks, times
	 * summed over ranks; then medians over epochs (rank 0). */
	int n = (int)s->nlog;
	MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_INT, MPI_MIN, s->ws.comm);
	double *sum = NULL, *mn = NULL;
	double *mine_min = NULL;
	if (n > 0) {
		mine_min = malloc((size_t)n * sizeof(double));
		if (s->rank == 0) {
			sum = malloc((size_t)n * E_FIELDS * sizeof(double));
			mn = malloc((size_t)n * sizeof(double));
		}
		int ok = mine_min && (s->rank != 0 || (sum && mn));
		MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, s->ws.comm);
		if (ok) {
			for (int i = 0; i < n; i++)
				mine_min[i] = s->log[(size_t)i * E_FIELDS + E_AU_MIN];
			MPI_Reduce(s->log, sum, n * E_FIELDS, MPI_DOUBLE, MPI_SUM, 0, s->ws.comm);
			MPI_Reduce(mine_min, mn, n, MPI_DOUBLE, MPI_MIN, 0, s->ws.comm);
			if (s->rank == 0) {
				for (int i = 0; i < n; i++) {
					sum[(size_t)i * E_FIELDS + E_AU_MEAN] /= s->nranks;
					sum[(size_t)i * E_FIELDS + E_AU_MIN] = mn[i];
				}
				for (int k = 0; k < E_FIELDS; k++)
					s->med[k] = median_col(sum, n, k);
				s->reps = n;
			}
		}
	}
	free(sum);
	free(mn);
	free(mine_min);
	return rc;
}

static void loader_teardown(void *state)
{
	loader_release(state);
}

static size_t loader_metrics(const void *state, const struct strata_case *c, double seconds,
                             struct strata_metric *out, size_t max)
{
	const struct loader_state *s = state;
	if (seconds <= 0)
		return 0;
	double R = c->nranks > 0 ? c->nranks : 1;
	double rank_samples =
	    (double)strata_loader_steps(s->cfg.samples, s->cfg.batch, s->cfg.accelerators) *
	    s->cfg.batch * s->cfg.accelerators;
	struct strata_metric m[STRATA_MAX_METRICS];
	size_t k = 0;
	m[k++] = (struct strata_metric){"samples_per_s", "samples/s", rank_samples / seconds, 1};
	m[k++] = (struct strata_metric){"aggregate_samples_per_s", "samples/s",
	                                R * rank_samples / seconds, 1};
	m[k++] = (struct strata_metric){
	    "bandwidth", "GB/s", R * rank_samples * (double)s->cfg.sample_bytes / seconds / 1e9, 1};
	if (s->reps > 0) {
		m[k++] = (struct strata_metric){"au", "%", 100.0 * s->med[E_AU_MEAN], 1};
		m[k++] = (struct strata_metric){"au_min", "%", 100.0 * s->med[E_AU_MIN], 1};
	}
	if (s->searched)
		m[k++] = (struct strata_metric){"accelerators_per_node", "accelerators",
		                                (double)s->found * s->local_size, 1};
	if (k > max)
		k = max;
	memcpy(out, m, k * sizeof(*out));
	return k;
}

/* What the readers spent most of their time on, when AU fell short. */
static const char *bottleneck(const struct loader_state *s)
{
	if (s->reps == 0)
		return "unknown (no timed epoch)";
	if (s->med[E_AU_MEAN] >= s->target_au)
		return "none: AU >= target_au_pct";
	double io = s->med[E_IO], dec = s->med[E_DECODE], sync = s->med[E_SYNC];
	if (io >= dec && io >= sync)
		return "I/O: readers spent most time reading samples";
	if (dec >= sync)
		return "decode: readers spent most time on per-sample CPU work";
	return "synchronisation: readers spent most time waiting for the queue (slots or lock)";
}

static void loader_describe(const void *state, const struct strata_case *c, json_t *details)
{
	(void)c;
	const struct loader_state *s = state;
	const struct strata_loader_cfg *g = &s->cfg;
	uint64_t steps = strata_loader_steps(g->samples, g->batch, g->accelerators);
	json_object_set_new(details, "samples_per_rank", json_integer((json_int_t)g->samples));
	json_object_set_new(details, "sample_bytes", json_integer((json_int_t)g->sample_bytes));
	json_object_set_new(details, "batch", json_integer(g->batch));
	json_object_set_new(details, "accelerators_per_rank", json_integer(g->accelerators));
	json_object_set_new(details, "ranks_on_rank0_host", json_integer(s->local_size));
	json_object_set_new(details, "steps_per_accelerator", json_integer((json_int_t)steps));
	json_object_set_new(details, "samples_per_epoch_per_rank",
	                    json_integer((json_int_t)(steps * g->batch * g->accelerators)));
	json_object_set_new(details, "compute_us_per_batch",
	                    json_real((double)g->compute_ns / 1e3));
	json_object_set_new(details, "decode_us_per_sample", json_real((double)g->decode_ns / 1e3));
	json_object_set_new(details, "readers", json_integer(g->readers));
	json_object_set_new(details, "queue_slots", json_integer(strata_loader_queue_slots(g)));
	json_object_set_new(details, "direct", json_boolean(g->direct));
	json_object_set_new(details, "dataset_write_seconds", json_real(s->make_s));
	json_object_set_new(details, "dir",
	                    json_pack("{s:s,s:s,s:s,s:b,s:i}", "base", s->ws.base, "base_from",
	                              s->ws.base_source, "workdir", s->ws.path,
	                              "shared_by_all_ranks", s->ws.shared, "hosts_with_own_copy",
	                              s->ws.hosts_created));
	json_object_set_new(details, "filesystem", strata_storage_mount_json(&s->mount));
	json_object_set_new(details, "free_bytes_before", json_integer((json_int_t)s->free_bytes));
	json_object_set_new(details, "bytes_needed", json_integer((json_int_t)s->need_bytes));

	int warm = !g->direct && (s->cache_policy == STRATA_CACHE_KEEP || s->resident_max < 0 ||
	                          s->resident_max > CACHE_WARM_FRACTION ||
	                          strata_storage_fs_in_memory(s->mount.fstype));
	json_t *pc = json_pack("{s:s,s:s,s:i,s:b}", "policy",
	                       s->cache_policy == STRATA_CACHE_AUTO      ? "auto"
	                       : s->cache_policy == STRATA_CACHE_FADVISE ? "fadvise"
	                                                                 : "keep",
	                       "action",
	                       g->direct        ? "none (O_DIRECT)"
	                       : s->cache_drops ? strata_cache_done_name(s->cache_done)
	                                        : "none",
	                       "drops", s->cache_drops, "cache_warm", warm);
	if (s->resident_max >= 0)
		json_object_set_new(pc, "resident_fraction_max", json_real(s->resident_max));
	json_object_set_new(
	    pc, "residency_method",
	    json_string("mmap + mincore(2) over up to 64 evenly spread samples, rank 0"));
	json_object_set_new(details, "page_cache", pc);
	json_object_set_new(details, "cache_warm", json_boolean(warm));

	json_t *split = json_pack(
	    "{s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:s,s:s}", "epochs", s->reps, "au_mean",
	    s->med[E_AU_MEAN], "au_min", s->med[E_AU_MIN], "accelerator_compute_s",
	    s->med[E_COMPUTE], "accelerator_wait_for_data_s", s->med[E_WAIT], "reader_io_s",
	    s->med[E_IO], "reader_decode_s", s->med[E_DECODE], "reader_sync_s", s->med[E_SYNC],
	    "epoch_wall_s_sum_over_ranks", s->med[E_WALL], "bottleneck", bottleneck(s), "method",
	    "thread-seconds summed over threads and ranks, median over timed epochs; reader "
	    "I/O = open+read+close, decode = pattern check + decode_us spin, sync = waiting for a "
	    "free queue slot and the queue lock; accelerator wait excludes the first step "
	    "(MLPerf)");
	json_object_set_new(details, "time_split", split);
	if (s->searched) {
		json_t *pr = json_array();
		for (int i = 0; i < s->nprobes; i++)
			json_array_append_new(
			    pr,
			    json_pack("{s:i,s:f,s:f,s:f,s:b}", "accelerators",
			              s->probes[i].accelerators, "au_mean", s->probes[i].au_mean,
			              "au_min", s->probes[i].au_min, "aggregate_samples_per_s",
			              s->probes[i].samples_per_s, "passed", s->probes[i].passed));
		json_object_set_new(
		    details, "search",
		    json_pack("{s:i,s:i,s:f,s:b,s:s,s:o,s:s}", "found_per_rank", s->found,
		              "found_per_node", s->found * s->local_size, "target_au", s->target_au,
		              "timed_epochs_confirm",
		              s->found > 0 && s->reps > 0 && s->med[E_AU_MEAN] >= s->target_au,
		              "stopped", s->search_stop, "probes", pr, "method",
		              "one untimed epoch per probe, cache dropped first; double "
		              "from 1 while mean AU over all ranks' accelerators >= "
		              "target, then bisect; per node = per rank x ranks on the "
		              "host; one epoch per probe, so counts near the boundary "
		              "can flip between runs"));
	}
	json_object_set_new(details, "verification",
	                    json_pack("{s:I,s:s}", "wrong_samples", (json_int_t)s->wrong, "method",
	                              "every sample of every epoch checked against the pattern"));
}

const struct strata_suite strata_suite_storage_loader = {
    .name = "storage_loader",
    .summary = "training data loader (MLPerf Storage style): samples/s, accelerator utilisation, "
               "max accelerators per node at AU >= target",
    .flags = STRATA_SUITE_IO | STRATA_SUITE_COLLECTIVE,
    .params = loader_params,
    .n_params = sizeof(loader_params) / sizeof(loader_params[0]),
    .setup = loader_setup,
    .run_once = loader_run_once,
    .verify = loader_verify,
    .teardown = loader_teardown,
    .metrics = loader_metrics,
    .describe = loader_describe,
    .prepare = loader_prepare,
};
