/* coll_gpu.c: the collective suites with device cuda: NCCL all-reduce,
 * all-gather, reduce-scatter, broadcast and all-to-all (kernels/cuda/nccl_coll.h),
 * one GPU per rank.
 *
 * What it is: the experiment around one NCCL collective.  Setup opens the
 * rank's GPU (local rank; every rank of a host needs its own), agrees across
 * ranks that all can run before anything collective, and reuses the NCCL
 * communicator of the previous case when the device, the ranks and every
 * NCCL_* variable are the same (ncclCommInitRank costs up to seconds; the
 * unique id is broadcast over MPI from rank 0 when a new one is needed).
 * One run_once is STRATA_NCCL_LAUNCHES collectives back to back on one
 * stream and a cudaStreamSynchronize, timed by the runner's host clock as
 * nccl-tests times (src/common.cu: a host timer around `iters` launches and
 * the stream synchronisation); the collective suites' metrics divide by the
 * launches and apply nccl-tests' algbw/busbw (kernels/cpu/mpi_coll.c).
 * Every output element is checked on the device against its known value.
 * What it is not: CUDA code (plain C); a CUDA-aware MPI benchmark.
 * NCCL caches some variables (NCCL_PARAM ones such as NCCL_MIN_NCHANNELS)
 * at their first use in a process, so variants that change those must be
 * compared in separate runs; NCCL_ALGO and NCCL_PROTO are read per
 * communicator, and a changed variable makes a new communicator here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "kernels/cpu/mpi_coll.h"
#include "kernels/gpu/gpu_case.h"
#include "strata_config.h"
#include "suites/gpu_backends.h"
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
#include "kernels/cuda/nccl_coll.h"
#endif

/* nccl-tests' default iterations per timing (-n 20). */
#define STRATA_NCCL_LAUNCHES 20

extern char **environ;

struct strata_coll_gpu_state {
	struct strata_gpu_case gc;
	int kind;
	int dtype_index;         /* 0 float, 1 double, 2 bfloat16, 3 half */
	void *coll;              /* struct strata_nccl_coll */
	int launches;
	int64_t runs;
	int comm_reused;
	int comm_slot;           /* index in comm_cache holding a reference, -1 none */
	double comm_init_s;
	int nccl_version;
	json_t *nccl_env;        /* NCCL_* in effect at setup */
	double event_s_sum;      /* CUDA-event time of the timed batches */
	int64_t event_launches;
	int verify_reruns;
	int checked;
	int64_t wrong;
};

static const char *const dtype_names[] = { "float", "double", "bfloat16", "half" };

#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
static json_t *nccl_env_json(char *key, size_t key_len)
{
	json_t *env = json_object();
	size_t off = 0;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "NCCL_", 5) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
		json_object_set_new(env, name, json_string(eq + 1));
	}
	/* The key in sorted order (json objects iterate in insertion order). */
	const char **names = malloc(json_object_size(env) * sizeof(*names) + 1);
	size_t n = 0;
	const char *k;
	json_t *v;
	if (names) {
		json_object_foreach(env, k, v)
			names[n++] = k;
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
				const char *t = names[j];
				names[j] = names[j - 1];
				names[j - 1] = t;
			}
		for (size_t i = 0; i < n && off < key_len; i++)
			off += (size_t)snprintf(key + off, key_len - off, "%s=%s;", names[i],
						json_string_value(json_object_get(env, names[i])));
		free(names);
	}
	return env;
}
#endif

/* Every rank's status agreed: the worst (ERROR < SKIP < OK as -1, 1, 0). */
static int agree(const struct strata_case *c, int rc)
{
	int flags[2] = { rc == STRATA_ERROR, rc == STRATA_SKIP };
	MPI_Allreduce(MPI_IN_PLACE, flags, 2, MPI_INT, MPI_MAX, c->comm);
	if (flags[0])
		return STRATA_ERROR;
	return flags[1] ? STRATA_SKIP : STRATA_OK;
}

#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
/* NCCL communicators kept from case to case (see the top of the file), with
 * the number of live cases using each: interleaved variants set up all
 * their cases before any ends, and a communicator is destroyed only when no
 * case holds it and its slot is needed. */
#define COMM_SLOTS 8
static struct comm_slot {
	struct strata_nccl_comm *comm;
	MPI_Comm mpi;
	char key[2048];
	int refs;
} comm_cache[COMM_SLOTS];

static struct strata_nccl_comm *get_comm(struct strata_coll_gpu_state *s,
					 const struct strata_case *c, const char *key, int *rc)
{
	char why[1024] = "";
	int found = -1;
	for (int i = 0; i < COMM_SLOTS && found < 0; i++)
		if (comm_cache[i].comm && comm_cache[i].mpi == c->comm &&
		    strcmp(comm_cache[i].key, key) == 0)
			found = i;
	int have = found >= 0;
	MPI_Allreduce(MPI_IN_PLACE, &have, 1, MPI_INT, MPI_MIN, c->comm);
	if (have) {
		s->comm_reused = 1;
		s->comm_slot = found;
		comm_cache[found].refs++;
		return comm_cache[found].comm;
	}
	/* A free slot, else the first unused one (evicted), the same on every
	 * rank since every rank saw the same cases. */
	int slot = -1;
	for (int i = 0; i < COMM_SLOTS && slot < 0; i++)
		if (!comm_cache[i].comm)
			slot = i;
	for (int i = 0; i < COMM_SLOTS && slot < 0; i++)
		if (comm_cache[i].refs == 0)
			slot = i;
	if (slot < 0) {
		strata_case_errorf(c, "more than %d NCCL communicators in use at once", COMM_SLOTS);
		*rc = STRATA_ERROR;
		return NULL;
	}
	strata_nccl_comm_destroy(comm_cache[slot].comm);
	comm_cache[slot].comm = NULL;
	unsigned char id[STRATA_NCCL_UNIQUE_ID_BYTES] = { 0 };
	int bad = c->rank == 0 && strata_nccl_unique_id(id, why, sizeof(why)) != 0;
	MPI_Bcast(&bad, 1, MPI_INT, 0, c->comm);
	if (bad) {
		strata_case_errorf(c, "ncclGetUniqueId on rank 0 failed: %s", why);
		*rc = STRATA_ERROR;
		return NULL;
	}
	MPI_Bcast(id, (int)sizeof(id), MPI_BYTE, 0, c->comm);
	double t0 = MPI_Wtime();
	struct comm_slot *e = &comm_cache[slot];
	if (strata_nccl_comm_init(&e->comm, id, c->nranks, c->rank, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "NCCL communicator on GPU %d: %s", s->gc.device, why);
		*rc = STRATA_ERROR;
		return NULL;
	}
	s->comm_init_s = MPI_Wtime() - t0;
	e->mpi = c->comm;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->refs = 1;
	s->comm_slot = slot;
	return e->comm;
}
#endif

int strata_coll_gpu_setup(int kind, const struct strata_case *c,
			  const struct strata_coll_counts *counts, int dtype_index, int inplace,
			  int root, struct strata_coll_gpu_state **out)
{
	const char *what = strata_coll_kind_name((enum strata_coll_kind)kind);
	struct strata_coll_gpu_state *s = calloc(1, sizeof(*s));
	*out = NULL;
	int rc = s ? STRATA_OK : STRATA_ERROR;
	if (!s)
		strata_case_errorf(c, "%s: out of memory", what);
	else
		s->comm_slot = -1;
	if (s)
		rc = strata_gpu_case_open(&s->gc, c, -1, what);
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
	char why[1024];
	rc = strata_gpu_case_shared(s ? &s->gc : NULL, c, c->comm, rc, what);
#endif
	/* Nothing collective happens until every rank can take part. */
	rc = agree(c, rc);
	if (rc != STRATA_OK) {
		if (s && !c->err[0])
			strata_case_errorf(c, "%s: another rank could not open its GPU", what);
		goto fail;
	}
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
	s->kind = kind;
	s->dtype_index = dtype_index;
	s->launches = STRATA_NCCL_LAUNCHES;
	s->nccl_version = strata_nccl_version();
	char key[2048];
	int off = snprintf(key, sizeof(key), "device=%d;", s->gc.device);
	s->nccl_env = nccl_env_json(key + off, sizeof(key) - (size_t)off);
	struct strata_nccl_config cfg = {
		.kind = (enum strata_nccl_kind)kind, .dtype = (enum strata_nccl_dtype)dtype_index,
		.count = counts->count, .send_count = counts->send_count,
		.recv_count = counts->recv_count, .inplace = inplace, .root = root,
		.rank = c->rank, .nranks = c->nranks,
	};
	double bytes = (double)(counts->send_count + counts->recv_count) *
		       (double)strata_nccl_dtype_bytes(cfg.dtype);
	rc = agree(c, strata_gpu_case_check_memory(&s->gc, c, bytes, what));
	if (rc != STRATA_OK)
		goto fail;
	struct strata_nccl_comm *comm = get_comm(s, c, key, &rc);
	rc = agree(c, comm ? STRATA_OK : rc);
	if (rc != STRATA_OK)
		goto fail;
	int cr = strata_nccl_coll_create(&cfg, comm, (struct strata_nccl_coll **)&s->coll, why,
					 sizeof(why));
	if (cr != 0)
		strata_case_errorf(c, "%s %s on GPU %d: %s", what, dtype_names[dtype_index],
				   s->gc.device, why);
	rc = agree(c, cr == 0 ? STRATA_OK : cr > 0 ? STRATA_SKIP : STRATA_ERROR);
	if (rc != STRATA_OK)
		goto fail;
	s->verify_reruns = strata_nccl_coll_verify_reruns(s->coll);
	*out = s;
	return STRATA_OK;
#else
	(void)counts;
	(void)dtype_index;
	(void)inplace;
	(void)root;
	strata_case_errorf(c, "%s: device cuda: %s", what,
			   STRATA_HAVE_CUDA ? "strata was built without NCCL (nccl.h/libnccl not "
					      "found): skipped"
					    : STRATA_GPU_NOT_BUILT);
	rc = STRATA_SKIP;
#endif
fail:
	strata_coll_gpu_teardown(s);
	return rc;
}

int strata_coll_gpu_run_once(struct strata_coll_gpu_state *s, const struct strata_case *c)
{
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
	char why[1024];
	double ev = 0;
	strata_gpu_case_before_run(&s->gc, c);
	if (strata_nccl_coll_run(s->coll, s->launches, &ev, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "%s on GPU %d: %s",
				   strata_coll_kind_name((enum strata_coll_kind)s->kind), s->gc.device,
				   why);
		return STRATA_ERROR;
	}
	strata_gpu_case_after_run(&s->gc, c, s->launches);
	if (c->timed) {
		s->event_s_sum += ev;
		s->event_launches += s->launches;
	}
	s->runs++;
	return STRATA_OK;
#else
	(void)s;
	(void)c;
	return STRATA_ERROR;
#endif
}

int64_t strata_coll_gpu_verify(struct strata_coll_gpu_state *s, const struct strata_case *c)
{
	strata_gpu_case_stop(&s->gc);
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
	char why[1024];
	int64_t first = -1;
	double want = 0, got = 0;
	int64_t wrong = strata_nccl_coll_verify(s->coll, &first, &want, &got, why, sizeof(why));
	const char *what = strata_coll_kind_name((enum strata_coll_kind)s->kind);
	if (wrong < 0) {
		strata_case_errorf(c, "%s check on GPU %d: %s", what, s->gc.device, why);
		return -1;
	}
	s->checked = 1;
	s->wrong = wrong;
	if (wrong > 0)
		strata_case_errorf(c, "%s %s on GPU %d, rank %d: %lld wrong output element(s); first "
				   "at %lld: expected %.17g, got %.17g%s",
				   what, dtype_names[s->dtype_index], s->gc.device, c->rank,
				   (long long)wrong, (long long)first, want, got,
				   s->dtype_index >= 0 && s->kind != STRATA_COLL_ALLREDUCE &&
						   s->kind != STRATA_COLL_REDUCE_SCATTER
					   ? " (bit patterns as integers)" : "");
	return wrong;
#else
	(void)c;
	(void)s;
	return 0;
#endif
}

void strata_coll_gpu_teardown(struct strata_coll_gpu_state *s)
{
	if (!s)
		return;
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
	strata_nccl_coll_destroy(s->coll);
	if (s->comm_slot >= 0 && comm_cache[s->comm_slot].refs > 0)
		comm_cache[s->comm_slot].refs--;
#endif
	json_decref(s->nccl_env);
	strata_gpu_case_close(&s->gc);
	free(s);
}

int strata_coll_gpu_launches(const struct strata_coll_gpu_state *s)
{
	return s->launches > 0 ? s->launches : 1;
}

void strata_coll_gpu_describe(const struct strata_coll_gpu_state *s, const struct strata_case *c,
			      double bytes_per_launch, json_t *details)
{
	(void)c;
	static const char *const calls[] = { "ncclAllReduce (ncclSum)", "ncclAllGather",
					     "ncclReduceScatter (ncclSum)",
					     "ncclBroadcast (in place)",
					     ("ncclGroupStart; ncclSend + ncclRecv to every peer; "
					      "ncclGroupEnd") };
	json_object_set_new(details, "backend", json_string("cuda: NCCL"));
	json_object_set_new(details, "implementation",
			    json_string(s->kind >= 0 && s->kind <= 4 ? calls[s->kind] : "?"));
	json_object_set_new(details, "dtype", json_string(dtype_names[s->dtype_index]));
	json_object_set_new(details, "nccl_version", json_integer(s->nccl_version));
	json_object_set_new(details, "nccl_env", json_incref(s->nccl_env ? s->nccl_env : json_object()));
	json_object_set_new(details, "communicator",
			    json_pack("{s:b,s:f}", "reused_from_previous_case", s->comm_reused,
				      "init_seconds", s->comm_init_s));
	json_object_set_new(details, "launches_per_repetition", json_integer(s->launches));
	json_object_set_new(details, "timing",
			    json_string("host clock around launches_per_repetition collectives "
					"back to back on one stream and cudaStreamSynchronize (as "
					"nccl-tests), after an MPI barrier; figures use time / "
					"launches_per_repetition"));
	if (s->event_launches > 0)
		json_object_set_new(details, "event_time_per_launch_s",
				    json_real(s->event_s_sum / (double)s->event_launches));
	json_object_set_new(details, "validation",
			    json_string(s->verify_reruns
						? "inputs re-initialised, one more collective, every output "
						  "element compared exactly on the GPU (as nccl-tests)"
						: "every output element of the last timed repetition "
						  "compared exactly on the GPU with its known value"));
	strata_gpu_case_describe(&s->gc, details, bytes_per_launch / 1e9, "GB");
}
