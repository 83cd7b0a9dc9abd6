/* storage_meta.c: metadata rates, after mdtest: create, stat, open/close and
 * unlink of many small files per rank, in per-rank or shared directories.
 *
 * What it is: the experiment around kernels/cpu/storage_meta.c.  Setup makes
 * the private work directory (storage_fs.h) in the plan's `dir` and, in it,
 * one directory per rank (dir_mode: per-rank, mdtest -u) or one for all
 * (shared).  One repetition runs the four phases over `files` files per
 * rank, each phase starting after a barrier (as mdtest's phases do) and
 * timed on its own; the repetition leaves the directory empty.
 *
 * Figures:
 *   ops_per_s            per rank: 4 x files / seconds (seconds = the
 *                        runner's repetition time, the slowest rank's)
 *   aggregate_ops_per_s  all ranks: 4 x files x R / seconds
 *   <phase>_per_s        create, stat, open_close, unlink: files x R / the
 *                        phase's time, which is the slowest rank's (each phase
 *                        starts after a barrier: mdtest's rate = items x tasks
 *                        / (time between the barriers)), median over
 *                        repetitions; from the inner timing, independent of
 *                        `seconds`.
 * Validation: the stat phase checks type and size of every file; verify
 * checks that the last unlink phase left nothing, then runs one more checked
 * cycle: create, readdir lists exactly this rank's names, every file's size
 * and content (when file_bytes > 0, the pattern of storage_pattern.h), unlink,
 * none left.
 * What it is not: mdtest's directory and tree phases, or a data benchmark.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/suite.h"
#include "harness/timer.h"
#include "kernels/cpu/storage_fs.h"
#include "kernels/cpu/storage_meta.h"
#include "kernels/cpu/storage_phase.h"

struct meta_state {
	int rank, nranks;
	int shared_dir;
	uint64_t files;
	size_t file_bytes;
	struct strata_storage_ws ws;
	struct strata_storage_mount mount;
	char subdir[32];
	int dirfd;
	struct strata_meta meta;
	int meta_ready;
	struct strata_phase_log phases;
	double phase_median_s[STRATA_META_NPHASES]; /* rank 0 after verify */
	double *phase_per_rank_s;                   /* rank 0: (R, 4) */
	int phase_reps;
	uint64_t free_bytes;
};

static const struct strata_param_def meta_params[] = {
    {.name = "device",
     .type = STRATA_PT_ENUM,
     .def = "cpu",
     .choices = "cpu",
     .help = "where the work runs (cpu)"},
    {.name = "files",
     .type = STRATA_PT_INT,
     .def = "1000",
     .min = 1,
     .max = 10000000,
     .help = "files per rank, each created, stat'ed, opened/closed and unlinked per repetition"},
    {.name = "file_bytes",
     .type = STRATA_PT_SIZE,
     .def = "0",
     .min = 0,
     .max = 1 << 20,
     .help = "bytes written into each file at create (mdtest -w), checked in verify"},
    {.name = "dir_mode",
     .type = STRATA_PT_ENUM,
     .def = "[per-rank, shared]",
     .choices = "per-rank|shared",
     .help = "per-rank: a directory for each rank (mdtest -u); shared: all ranks in one"},
    {.name = "dir",
     .type = STRATA_PT_STRING,
     .def = "\"\"",
     .help = "directory to work in (a unique subdirectory is made and removed); empty: "
             "$TMPDIR, else /tmp"},
};

static void meta_release(struct meta_state *s)
{
	if (!s)
		return;
	if (s->meta_ready)
		strata_meta_release(&s->meta);
	if (s->dirfd >= 0)
		close(s->dirfd);
	strata_storage_ws_close(&s->ws); /* collective */
	strata_phase_log_release(&s->phases);
	free(s->phase_per_rank_s);
	free(s);
}

/* Every rank learns whether any failed, with the first failing message. */
static int agree(struct meta_state *s, const struct strata_case *c, int rc)
{
	int worst = rc == STRATA_ERROR ? 2 : rc == STRATA_SKIP ? 1 : 0;
	MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, s->ws.comm);
	if (worst == 0)
		return STRATA_OK;
	strata_storage_agree(s->ws.comm, s->rank, s->nranks, rc != STRATA_OK, c->err, c->err_len);
	return worst == 2 ? STRATA_ERROR : STRATA_SKIP;
}

/* The directory the files go in: r<rank> each, or one "shared" made by the
 * lowest rank of each host that made the work directory (rank 0 when it is
 * shared by all). */
static int make_dir(struct meta_state *s, const struct strata_case *c)
{
	int rc = STRATA_OK;
	int maker = s->shared_dir ? s->ws.created_here : 1;
	if (s->shared_dir)
		snprintf(s->subdir, sizeof(s->subdir), "shared");
	else
		snprintf(s->subdir, sizeof(s->subdir), "r%d", s->rank);
	if (maker && mkdirat(s->ws.dirfd, s->subdir, 0700) != 0) {
		strata_case_errorf(c, "storage_meta: mkdir %s/%s: %s", s->ws.path, s->subdir,
		                   strerror(errno));
		rc = STRATA_ERROR;
	}
	if (s->shared_dir && (rc = agree(s, c, rc)) != STRATA_OK)
		return rc;
	s->dirfd = openat(s->ws.dirfd, s->subdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0) {
		strata_case_errorf(c, "storage_meta: open %s/%s: %s", s->ws.path, s->subdir,
		                   strerror(errno));
		return STRATA_ERROR;
	}
	return STRATA_OK;
}

static int meta_setup(const struct strata_case *c, void **state)
{
	struct meta_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "storage_meta: out of memory");
		return STRATA_ERROR;
	}
	s->rank = c->rank;
	s->nranks = c->nranks;
	s->dirfd = -1;
	s->files = (uint64_t)strata_params_int(c->params, "files");
	s->file_bytes = (size_t)strata_params_int(c->params, "file_bytes");
	s->shared_dir = !strcmp(strata_params_str(c->params, "dir_mode"), "shared");
	strata_phase_log_init(&s->phases, STRATA_META_NPHASES);
	if (strata_storage_ws_open(&s->ws, c->comm, c->rank, c->nranks, c->local_rank,
	                           c->local_size, strata_params_str(c->params, "dir"), c->err,
	                           c->err_len) != 0) {
		free(s);
		return STRATA_ERROR;
	}
	strata_storage_mount_find(s->ws.path, &s->mount);

	/* Room: file data plus about one 4 KiB block per file (inode, entry). */
	int rc = STRATA_OK;
	int users = s->ws.shared ? c->nranks : c->local_size;
	uint64_t per_file = ((uint64_t)s->file_bytes + 4095) / 4096 * 4096 + 4096;
	uint64_t need = per_file * s->files * (uint64_t)users;
	uint64_t free_bytes = 0;
	if (strata_storage_free_bytes(s->ws.path, &free_bytes) != 0) {
		strata_case_errorf(c, "storage_meta: statvfs %s: %s", s->ws.path, strerror(errno));
		rc = STRATA_ERROR;
	} else if (need > free_bytes) {
		strata_case_errorf(c,
		                   "storage_meta: not enough free space in %s (%s): %llu files x "
		                   "%d rank(s) need about %llu bytes, %llu are free; lower files",
		                   s->ws.base, s->mount.fstype, (unsigned long long)s->files, users,
		                   (unsigned long long)need, (unsigned long long)free_bytes);
		rc = STRATA_SKIP;
	}
	s->free_bytes = free_bytes;
	rc = agree(s, c, rc);
	if (rc == STRATA_OK)
		rc = agree(s, c, make_dir(s, c));
	if (rc == STRATA_OK) {
		uint64_t seed = 0;
		for (const char *q = s->ws.name; *q; q++)
			seed = strata_pattern_mix(seed ^ (unsigned char)*q);
		int lrc = STRATA_OK;
		char why[256];
		if (strata_meta_init(&s->meta, s->dirfd, s->rank, s->files, s->file_bytes, seed,
		                     why, sizeof(why)) != 0) {
			strata_case_errorf(c, "storage_meta: %s", why);
			lrc = STRATA_ERROR;
		} else {
			s->meta_ready = 1;
		}
		rc = agree(s, c, lrc);
	}
	if (rc != STRATA_OK) {
		meta_release(s);
		return rc;
	}
	*state = s;
	return STRATA_OK;
}

/* The four phases, a barrier before each; a rank that failed skips the work
 * but still meets every barrier. */
static int meta_run_once(void *state, const struct strata_case *c)
{
	struct meta_state *s = state;
	double t[STRATA_META_NPHASES] = {0};
	int rc = STRATA_OK;
	char why[512];
	for (int p = 0; p < STRATA_META_NPHASES; p++) {
		if (p > 0)
			MPI_Barrier(s->ws.comm);
		if (rc != STRATA_OK)
			continue;
		strata_monotime_ns t0 = strata_now_ns();
		if (strata_meta_phase(&s->meta, (enum strata_meta_phase)p, why, sizeof(why)) != 0) {
			uint64_t free_now = 0;
			strata_storage_free_bytes(s->ws.path, &free_now);
			strata_case_errorf(
			    c, "storage_meta %s phase in %s/%s: %s (%llu bytes free)",
			    strata_meta_phase_name((enum strata_meta_phase)p), s->ws.path,
			    s->subdir, why, (unsigned long long)free_now);
			rc = STRATA_ERROR;
		}
		t[p] = (double)(strata_now_ns() - t0) * 1e-9;
	}
	if (rc == STRATA_OK && c->timed && strata_phase_log_push(&s->phases, t) != 0) {
		strata_case_errorf(c, "storage_meta: out of memory for phase times");
		rc = STRATA_ERROR;
	}
	return rc;
}

static int64_t meta_verify(void *state, const struct strata_case *c)
{
	struct meta_state *s = state;
	char why[512];
	int64_t rc = 0;
	if (strata_meta_check(&s->meta, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "storage_meta check in %s/%s: %s", s->ws.path, s->subdir,
		                   why);
		rc = -1;
	} else if (s->meta.wrong > 0) {
		strata_case_errorf(c, "storage_meta in %s/%s: %lld mismatch(es); first: %s",
		                   s->ws.path, s->subdir, (long long)s->meta.wrong,
		                   s->meta.first_wrong);
		rc = s->meta.wrong;
	}
	if (s->rank == 0)
		s->phase_per_rank_s =
		    calloc((size_t)s->nranks * STRATA_META_NPHASES, sizeof(double));
	s->phase_reps = strata_phase_log_reduce(&s->phases, s->ws.comm, s->rank, s->nranks,
	                                        s->phase_median_s, s->phase_per_rank_s);
	return rc;
}

static void meta_teardown(void *state)
{
	meta_release(state);
}

static size_t meta_metrics(const void *state, const struct strata_case *c, double seconds,
                           struct strata_metric *out, size_t max)
{
	const struct meta_state *s = state;
	if (seconds <= 0)
		return 0;
	static const char *const names[STRATA_META_NPHASES] = {"create_per_s", "stat_per_s",
	                                                       "open_close_per_s", "unlink_per_s"};
	double R = c->nranks > 0 ? c->nranks : 1, n = (double)s->files;
	struct strata_metric m[STRATA_MAX_METRICS];
	size_t k = 0;
	m[k++] = (struct strata_metric){"ops_per_s", "op/s", 4 * n / seconds, 1};
	m[k++] = (struct strata_metric){"aggregate_ops_per_s", "op/s", 4 * n * R / seconds, 1};
	for (int p = 0; p < STRATA_META_NPHASES; p++)
		if (s->phase_median_s[p] > 0)
			m[k++] = (struct strata_metric){names[p], "op/s",
			                                n * R / s->phase_median_s[p], 1};
	if (k > max)
		k = max;
	memcpy(out, m, k * sizeof(*out));
	return k;
}

static void meta_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct meta_state *s = state;
	json_object_set_new(details, "files_per_rank", json_integer((json_int_t)s->files));
	json_object_set_new(details, "files_all_ranks",
	                    json_integer((json_int_t)(s->files * (uint64_t)c->nranks)));
	json_object_set_new(details, "file_bytes", json_integer((json_int_t)s->file_bytes));
	json_object_set_new(details, "dir_mode",
	                    json_string(s->shared_dir ? "shared" : "per-rank"));
	json_object_set_new(details, "dir",
	                    json_pack("{s:s,s:s,s:s,s:s,s:b,s:i}", "base", s->ws.base, "base_from",
	                              s->ws.base_source, "workdir", s->ws.path, "files_in",
	                              s->subdir, "shared_by_all_ranks", s->ws.shared,
	                              "hosts_with_own_copy", s->ws.hosts_created));
	json_object_set_new(details, "filesystem", strata_storage_mount_json(&s->mount));
	json_object_set_new(details, "free_bytes_before", json_integer((json_int_t)s->free_bytes));
	json_object_set_new(
	    details, "operations",
	    json_string("create: openat(O_CREAT|O_EXCL|O_WRONLY|O_NOFOLLOW) + write "
	                "file_bytes + close; stat: fstatat(AT_SYMLINK_NOFOLLOW); "
	                "open_close: openat(O_RDONLY) + close; unlink: unlinkat"));
	json_t *per = json_array();
	for (int r = 0; s->phase_per_rank_s && r < c->nranks; r++) {
		const double *v = s->phase_per_rank_s + (size_t)r * STRATA_META_NPHASES;
		json_array_append_new(per, json_pack("{s:i,s:f,s:f,s:f,s:f}", "rank", r, "create_s",
		                                     v[0], "stat_s", v[1], "open_close_s", v[2],
		                                     "unlink_s", v[3]));
	}
	json_object_set_new(details, "phases",
	                    json_pack("{s:i,s:f,s:f,s:f,s:f,s:o,s:s}", "repetitions", s->phase_reps,
	                              "create_s_median", s->phase_median_s[0], "stat_s_median",
	                              s->phase_median_s[1], "open_close_s_median",
	                              s->phase_median_s[2], "unlink_s_median", s->phase_median_s[3],
	                              "per_rank_median_s", per, "method",
	                              "each phase starts after a barrier; its time is the slowest "
	                              "rank's (mdtest), median over repetitions"));
	json_object_set_new(
	    details, "verification",
	    json_pack("{s:I,s:s}", "mismatches", (json_int_t)s->meta.wrong, "method",
	              "stat phase: type and size of every file; verify: nothing left "
	              "after the last unlink phase, then one checked cycle (readdir "
	              "lists exactly this rank's names, sizes, pattern content)"));
}

const struct strata_suite strata_suite_storage_meta = {
    .name = "storage_meta",
    .summary = "metadata rates (mdtest style): create, stat, open/close, unlink of small files",
    .flags = STRATA_SUITE_IO | STRATA_SUITE_COLLECTIVE,
    .params = meta_params,
    .n_params = sizeof(meta_params) / sizeof(meta_params[0]),
    .setup = meta_setup,
    .run_once = meta_run_once,
    .verify = meta_verify,
    .teardown = meta_teardown,
    .metrics = meta_metrics,
    .describe = meta_describe,
};
