/* mpi_coll.c: the shared driver of the MPI collective suites: byte counts and
 * bus-bandwidth factors (nccl-tests'), buffers, deterministic inputs whose
 * every expected output element is known exactly, the MPI call, the full
 * check, and the suite hooks built on them.
 *
 * It is not a timer (the runner times run_once after a barrier and keeps the
 * slowest rank's time) and it never prints.
 *
 * Inputs (g is an element's index in the rank's whole send array):
 *   reductions (allreduce, reduce_scatter, op sum):
 *       in(r, g) = (r + g) mod 251, a small integer, so every sum over n ranks
 *       is an integer below 250 n and exact in float while 250 n < 2^24;
 *       expected(g) = sum_r (r + g) mod 251, tabulated by g mod 251.
 *   allgather:  in(r, k) = (r*base + k) & (2^24 - 1) -> out[g] = g & (2^24 - 1)
 *   broadcast:  in(root, i) = (root + i) & (2^24 - 1) on every rank
 *   alltoall:   rank r's block d, element k = ((r*n + d)*base + k) & (2^24 - 1),
 *               so rank r's received block q holds ((q*n + r)*base + k) & mask
 * Integers below 2^24 are exact in float and double, so the check compares
 * with == and no tolerance.  Outputs start as -1, which no result can be, so
 * an element the collective never wrote is caught.
 */
#include "kernels/cpu/mpi_coll.h"

#include <math.h>
#include "suites/gpu_backends.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_BYTES 64

/* ---- byte counts and bandwidth (nccl-tests) ------------------------------ */

void strata_coll_counts_get(enum strata_coll_kind kind, size_t size_bytes, size_t elt_bytes,
			    int nranks, struct strata_coll_counts *out)
{
	size_t n = nranks > 0 ? (size_t)nranks : 1;
	/* nccl-tests src/common.cu setupArgs(): count = size / wordSize(type). */
	size_t count = elt_bytes ? size_bytes / elt_bytes : 0;
	/* nccl-tests src/all_gather.cu AllGatherGetCollByteCount() (and
	 * reduce_scatter.cu, alltoall.cu, since commit 29f4114, 2024-12-18):
	 * base = (count/nranks) & ~(16/eltSize - 1), the per-rank block trimmed
	 * to a multiple of 16 bytes. */
	size_t align_elts = elt_bytes && elt_bytes < 16 ? 16 / elt_bytes : 1;
	size_t base = (count / n) & ~(align_elts - 1);

	switch (kind) {
	case STRATA_COLL_ALLREDUCE: /* all_reduce.cu: send = recv = param = count */
	case STRATA_COLL_BROADCAST: /* broadcast.cu: the same */
		out->count = count;
		out->send_count = count;
		out->recv_count = count;
		break;
	case STRATA_COLL_ALLGATHER: /* send = base, recv = base * n */
		out->count = base;
		out->send_count = base;
		out->recv_count = base * n;
		break;
	case STRATA_COLL_REDUCE_SCATTER: /* send = base * n, recv = base */
		out->count = base;
		out->send_count = base * n;
		out->recv_count = base;
		break;
	case STRATA_COLL_ALLTOALL: /* param = base, send = recv = n * base */
		out->count = base;
		out->send_count = base * n;
		out->recv_count = base * n;
		break;
	}
	/* nccl-tests prints max(sendBytes, expectedBytes) as "size", and each
	 * <Coll>GetBw() divides exactly that many bytes by the time. */
	size_t elems = out->send_count > out->recv_count ? out->send_count : out->recv_count;
	out->bytes = elems * elt_bytes;
}

double strata_coll_busbw_factor(enum strata_coll_kind kind, int nranks)
{
	double n = nranks > 0 ? (double)nranks : 1.0;
	/* nccl-tests doc/PERFORMANCE.md "Summary" and src/<coll>.cu <Coll>GetBw(). */
	switch (kind) {
	case STRATA_COLL_ALLREDUCE:
		return 2.0 * (n - 1.0) / n;
	case STRATA_COLL_ALLGATHER:
	case STRATA_COLL_REDUCE_SCATTER:
	case STRATA_COLL_ALLTOALL:
		return (n - 1.0) / n;
	case STRATA_COLL_BROADCAST:
		return 1.0;
	}
	return 0.0;
}

double strata_coll_algbw_gbps(size_t bytes, double seconds)
{
	/* doc/PERFORMANCE.md: algbw = S / t, in GB/s = 1e9 bytes/s. */
	return seconds > 0 ? (double)bytes / seconds / 1e9 : 0.0;
}

const char *strata_coll_kind_name(enum strata_coll_kind kind)
{
	switch (kind) {
	case STRATA_COLL_ALLREDUCE: return "allreduce";
	case STRATA_COLL_ALLGATHER: return "allgather";
	case STRATA_COLL_REDUCE_SCATTER: return "reduce_scatter";
	case STRATA_COLL_BROADCAST: return "broadcast";
	case STRATA_COLL_ALLTOALL: return "alltoall";
	}
	return "?";
}

const char *strata_coll_formula(enum strata_coll_kind kind)
{
	switch (kind) {
	case STRATA_COLL_ALLREDUCE:
		return "S = count*typesize, count = size/typesize; algbw = S/t; "
		       "busbw = algbw * 2(n-1)/n (nccl-tests doc/PERFORMANCE.md)";
	case STRATA_COLL_ALLGATHER:
		return "S = n*count*typesize (whole output), count = (size/typesize/n) rounded down "
		       "to 16 bytes; algbw = S/t; busbw = algbw * (n-1)/n (nccl-tests doc/PERFORMANCE.md)";
	case STRATA_COLL_REDUCE_SCATTER:
		return "S = n*count*typesize (whole input), count = (size/typesize/n) rounded down "
		       "to 16 bytes; algbw = S/t; busbw = algbw * (n-1)/n (nccl-tests doc/PERFORMANCE.md)";
	case STRATA_COLL_BROADCAST:
		return "S = count*typesize, count = size/typesize; algbw = S/t; "
		       "busbw = algbw * 1 (nccl-tests doc/PERFORMANCE.md)";
	case STRATA_COLL_ALLTOALL:
		return "S = n*count*typesize (whole send buffer), count per peer = (size/typesize/n) "
		       "rounded down to 16 bytes; algbw = S/t; busbw = algbw * (n-1)/n "
		       "(nccl-tests doc/PERFORMANCE.md)";
	}
	return "?";
}

/* ---- element access ------------------------------------------------------ */

static inline void put(void *buf, enum strata_coll_dtype t, size_t i, double v)
{
	if (t == STRATA_COLL_FLOAT)
		((float *)buf)[i] = (float)v;
	else
		((double *)buf)[i] = v;
}

static inline double get(const void *buf, enum strata_coll_dtype t, size_t i)
{
	return t == STRATA_COLL_FLOAT ? (double)((const float *)buf)[i] : ((const double *)buf)[i];
}

static inline double red_in(int rank, size_t g)
{
	return (double)(((size_t)rank + g) % STRATA_COLL_RED_MOD);
}

static inline double code24(size_t key)
{
	return (double)(key & STRATA_COLL_COPY_MASK);
}

/* Alltoall: element k of the block rank src sends to rank dst. */
static inline double a2a_code(const struct strata_coll *cl, int src, int dst, size_t k)
{
	return code24(((size_t)src * (size_t)cl->nranks + (size_t)dst) * cl->n.count + k);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void *alloc_elems(size_t n, size_t elt_bytes)
{
	void *p = NULL;
	size_t bytes = n * elt_bytes;
	if (posix_memalign(&p, ALIGN_BYTES, bytes > 0 ? bytes : ALIGN_BYTES) != 0)
		return NULL;
	return p;
}

/* sum_{r=0}^{n-1} (r + t) mod M for t = 0..M-1: whole cycles of M ranks add
 * 0 + 1 + ... + (M-1) each, the remainder is summed directly. */
void strata_coll_red_sum_table(double *table, int nranks)
{
	const size_t m = STRATA_COLL_RED_MOD;
	size_t cycles = (size_t)nranks / m, rest = (size_t)nranks % m;
	for (size_t t = 0; t < m; t++) {
		double s = (double)(cycles * (m * (m - 1) / 2));
		for (size_t r = 0; r < rest; r++)
			s += (double)((t + r) % m);
		table[t] = s;
	}
}

int strata_coll_init(struct strata_coll *cl, const struct strata_coll_config *cfg, MPI_Comm comm,
		     char *err, size_t err_len)
{
	memset(cl, 0, sizeof(*cl));
	cl->kind = cfg->kind;
	cl->dtype = cfg->dtype;
	cl->mpi_type = cfg->dtype == STRATA_COLL_FLOAT ? MPI_FLOAT : MPI_DOUBLE;
	cl->elt_bytes = cfg->dtype == STRATA_COLL_FLOAT ? sizeof(float) : sizeof(double);
	cl->comm = comm;
	cl->root = cfg->root;
	cl->inplace = cfg->kind == STRATA_COLL_BROADCAST ? 0 : cfg->inplace;
	cl->size_bytes = cfg->size_bytes;
	cl->launches = 1;
	if (MPI_Comm_rank(comm, &cl->rank) != MPI_SUCCESS ||
	    MPI_Comm_size(comm, &cl->nranks) != MPI_SUCCESS) {
		snprintf(err, err_len, "%s:%d: MPI_Comm_rank/size failed", __FILE__, __LINE__);
		return STRATA_ERROR;
	}
	strata_coll_counts_get(cl->kind, cl->size_bytes, cl->elt_bytes, cl->nranks, &cl->n);

	if (cl->kind == STRATA_COLL_BROADCAST && (cl->root < 0 || cl->root >= cl->nranks)) {
		snprintf(err, err_len, "broadcast root %d is not a rank (0..%d)", cl->root,
			 cl->nranks - 1);
		return STRATA_ERROR;
	}
	/* MPI-3 counts are int; the _c (MPI-4 large count) calls are not used. */
	if (cl->n.count > (size_t)INT32_MAX) {
		snprintf(err, err_len, "count %zu exceeds MPI's int count (size %zu bytes too large)",
			 cl->n.count, cl->size_bytes);
		return STRATA_SKIP;
	}
	int reduction = cl->kind == STRATA_COLL_ALLREDUCE || cl->kind == STRATA_COLL_REDUCE_SCATTER;
	if (reduction && cl->dtype == STRATA_COLL_FLOAT &&
	    (double)(STRATA_COLL_RED_MOD - 1) * cl->nranks >= 16777216.0) {
		snprintf(err, err_len,
			 "%d ranks: float sums of the check pattern would not be exact; use dtype double",
			 cl->nranks);
		return STRATA_SKIP;
	}

	size_t send_n = cl->n.send_count, recv_n = cl->n.recv_count;
	if (cl->inplace && cl->kind == STRATA_COLL_REDUCE_SCATTER)
		recv_n = send_n; /* MPI_IN_PLACE: the input is taken from recvbuf */
	cl->recv_alloc_count = recv_n;
	if (!cl->inplace && cl->kind != STRATA_COLL_BROADCAST) {
		cl->send = alloc_elems(send_n, cl->elt_bytes);
		if (!cl->send)
			goto out_nomem;
	}
	cl->recv = alloc_elems(recv_n, cl->elt_bytes);
	if (!cl->recv)
		goto out_nomem;
	if (reduction) {
		cl->red_sum = malloc(STRATA_COLL_RED_MOD * sizeof(*cl->red_sum));
		if (!cl->red_sum)
			goto out_nomem;
		strata_coll_red_sum_table(cl->red_sum, cl->nranks);
	}
	strata_coll_fill(cl); /* also first-touches every page outside timing */
	return STRATA_OK;

out_nomem:
	snprintf(err, err_len, "out of memory allocating %zu + %zu bytes", send_n * cl->elt_bytes,
		 recv_n * cl->elt_bytes);
	strata_coll_release(cl);
	return STRATA_ERROR;
}

void strata_coll_release(struct strata_coll *cl)
{
	free(cl->send);
	free(cl->recv);
	free(cl->red_sum);
	cl->send = cl->recv = NULL;
	cl->red_sum = NULL;
}

void strata_coll_fill(struct strata_coll *cl)
{
	const enum strata_coll_dtype t = cl->dtype;
	const size_t base = cl->n.count;
	void *in = cl->inplace ? cl->recv : cl->send;

	for (size_t i = 0; i < cl->recv_alloc_count; i++)
		put(cl->recv, t, i, STRATA_COLL_SENTINEL);

	switch (cl->kind) {
	case STRATA_COLL_ALLREDUCE:
	case STRATA_COLL_REDUCE_SCATTER: /* (count or base*n) elements */
		for (size_t g = 0; g < cl->n.send_count; g++)
			put(in, t, g, red_in(cl->rank, g));
		break;
	case STRATA_COLL_ALLGATHER: { /* in place: own block of recv */
		size_t first = (size_t)cl->rank * base;
		void *dst = cl->inplace ? (char *)cl->recv + first * cl->elt_bytes : cl->send;
		for (size_t k = 0; k < base; k++)
			put(dst, t, k, code24(first + k));
		break;
	}
	case STRATA_COLL_BROADCAST:
		if (cl->rank == cl->root)
			for (size_t i = 0; i < cl->n.count; i++)
				put(cl->recv, t, i, code24((size_t)cl->root + i));
		break;
	case STRATA_COLL_ALLTOALL:
		for (int d = 0; d < cl->nranks; d++)
			for (size_t k = 0; k < base; k++)
				put(in, t, (size_t)d * base + k, a2a_code(cl, cl->rank, d, k));
		break;
	}
	cl->runs = 0;
}

int strata_coll_run(struct strata_coll *cl, char *err, size_t err_len)
{
	const void *sbuf = cl->inplace ? MPI_IN_PLACE : cl->send;
	int count = (int)cl->n.count;
	int rc = MPI_SUCCESS;

	switch (cl->kind) {
	case STRATA_COLL_ALLREDUCE:
		rc = MPI_Allreduce(sbuf, cl->recv, count, cl->mpi_type, MPI_SUM, cl->comm);
		break;
	case STRATA_COLL_ALLGATHER:
		rc = MPI_Allgather(sbuf, count, cl->mpi_type, cl->recv, count, cl->mpi_type, cl->comm);
		break;
	case STRATA_COLL_REDUCE_SCATTER:
		rc = MPI_Reduce_scatter_block(sbuf, cl->recv, count, cl->mpi_type, MPI_SUM, cl->comm);
		break;
	case STRATA_COLL_BROADCAST:
		rc = MPI_Bcast(cl->recv, count, cl->mpi_type, cl->root, cl->comm);
		break;
	case STRATA_COLL_ALLTOALL:
		rc = MPI_Alltoall(sbuf, count, cl->mpi_type, cl->recv, count, cl->mpi_type, cl->comm);
		break;
	}
	if (rc != MPI_SUCCESS) {
		char msg[MPI_MAX_ERROR_STRING];
		int len = 0;
		MPI_Error_string(rc, msg, &len);
		snprintf(err, err_len, "%s:%d: %s failed on rank %d: %s", __FILE__, __LINE__,
			 strata_coll_kind_name(cl->kind), cl->rank, msg);
		return -1;
	}
	cl->runs++;
	return 0;
}

/* ---- validation ---------------------------------------------------------- */

/* Expected value of output element i on this rank. */
static double expected_at(const struct strata_coll *cl, size_t i)
{
	const size_t base = cl->n.count;
	switch (cl->kind) {
	case STRATA_COLL_ALLREDUCE:
		return cl->red_sum[i % STRATA_COLL_RED_MOD];
	case STRATA_COLL_REDUCE_SCATTER: /* this rank's block of the global array */
		return cl->red_sum[((size_t)cl->rank * base + i) % STRATA_COLL_RED_MOD];
	case STRATA_COLL_ALLGATHER:
		return code24(i);
	case STRATA_COLL_BROADCAST:
		return code24((size_t)cl->root + i);
	case STRATA_COLL_ALLTOALL: /* block q came from rank q */
		return a2a_code(cl, (int)(i / base), cl->rank, i % base);
	}
	return NAN;
}

int64_t strata_coll_check(const struct strata_coll *cl, char *err, size_t err_len)
{
	/* reduce_scatter in place leaves its result in the first recvcount
	 * elements of recvbuf (MPI-3.1 5.10.1), so recv_count covers every case. */
	const size_t n_out = cl->n.recv_count;
	int64_t wrong = 0;
	for (size_t i = 0; i < n_out; i++) {
		double want = expected_at(cl, i);
		double got = get(cl->recv, cl->dtype, i);
		if (got != want) {
			if (wrong == 0)
				snprintf(err, err_len,
					 "%s: rank %d: output element %zu of %zu: expected %.17g, got %.17g",
					 strata_coll_kind_name(cl->kind), cl->rank, i, n_out, want, got);
			wrong++;
		}
	}
	if (wrong > 1) {
		size_t len = strlen(err);
		if (len < err_len)
			snprintf(err + len, err_len - len, " (%lld wrong elements on this rank)",
				 (long long)wrong);
	}
	return wrong;
}

/* Does repeating the collective leave the output a function of the inputs?
 * Not in place for allreduce and reduce_scatter (each call sums the previous
 * result: values grow n-fold per call, up to inf, never into denormals, so the
 * timing is unaffected) nor for alltoall (each call transposes the blocks
 * again). */
static int repeat_is_idempotent(const struct strata_coll *cl)
{
	return !cl->inplace || cl->kind == STRATA_COLL_ALLGATHER ||
	       cl->kind == STRATA_COLL_BROADCAST;
}

int64_t strata_coll_verify(struct strata_coll *cl, char *err, size_t err_len)
{
	/* Both branches are taken alike on every rank (same kind, inplace and
	 * runs count), so the extra collective below is matched everywhere. */
	if (!(repeat_is_idempotent(cl) && cl->runs > 0)) {
		/* nccl-tests BenchTime(): initData, one startColl, CheckData. */
		strata_coll_fill(cl);
		if (strata_coll_run(cl, err, err_len) != 0)
			return -1;
	}
	return strata_coll_check(cl, err, err_len);
}

/* ---- suite glue ---------------------------------------------------------- */

/* device cuda: the counts here, the work in suites/coll_gpu.c (NCCL). */
static int coll_setup_gpu(enum strata_coll_kind kind, const struct strata_case *c, void **state)
{
	static const char *const dtypes[] = { "float", "double", "bfloat16", "half" };
	static const size_t elt[] = { 4, 8, 2, 2 };
	const struct strata_params *p = c->params;
	const struct strata_suite *s = p->suite;
	int di = 0;
	for (int i = 0; i < 4; i++)
		if (strcmp(strata_params_str(p, "dtype"), dtypes[i]) == 0)
			di = i;
	struct strata_coll *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		strata_case_errorf(c, "out of memory");
		return STRATA_ERROR;
	}
	cl->kind = kind;
	cl->dtype = di == 1 ? STRATA_COLL_DOUBLE : STRATA_COLL_FLOAT; /* unused on cuda */
	cl->elt_bytes = elt[di];
	cl->comm = c->comm;
	cl->rank = c->rank;
	cl->nranks = c->nranks;
	cl->root = strata_param_index(s, "root") >= 0 ? (int)strata_params_int(p, "root") : 0;
	cl->inplace = kind != STRATA_COLL_BROADCAST && strata_param_index(s, "inplace") >= 0
			      ? (int)strata_params_int(p, "inplace") : 0;
	cl->size_bytes = (size_t)strata_params_int(p, "size");
	strata_coll_counts_get(kind, cl->size_bytes, cl->elt_bytes, cl->nranks, &cl->n);
	if (kind == STRATA_COLL_BROADCAST && (cl->root < 0 || cl->root >= cl->nranks)) {
		strata_case_errorf(c, "broadcast root %d is not a rank (0..%d)", cl->root,
				   cl->nranks - 1);
		free(cl);
		return STRATA_ERROR;
	}
	int rc = strata_coll_gpu_setup(kind, c, &cl->n, di, cl->inplace, cl->root, &cl->gpu);
	if (rc != STRATA_OK) {
		free(cl);
		return rc;
	}
	cl->launches = strata_coll_gpu_launches(cl->gpu);
	*state = cl;
	return STRATA_OK;
}

int strata_coll_suite_setup(enum strata_coll_kind kind, const struct strata_case *c,
			    void **state)
{
	const struct strata_params *p = c->params;
	const struct strata_suite *s = p->suite;
	if (strata_param_index(s, "device") >= 0 &&
	    strcmp(strata_params_str(p, "device"), "cuda") == 0)
		return coll_setup_gpu(kind, c, state);
	const char *dtype = strata_params_str(p, "dtype");
	if (strcmp(dtype, "float") != 0 && strcmp(dtype, "double") != 0) {
		strata_case_errorf(c, "dtype %s needs device: cuda (MPI has no %s type): skipped",
				   dtype, dtype);
		return STRATA_SKIP;
	}
	struct strata_coll_config cfg = {
		.kind = kind,
		.dtype = strcmp(strata_params_str(p, "dtype"), "double") == 0 ? STRATA_COLL_DOUBLE
									    : STRATA_COLL_FLOAT,
		.size_bytes = (size_t)strata_params_int(p, "size"),
		.inplace = strata_param_index(s, "inplace") >= 0 ? (int)strata_params_int(p, "inplace")
								 : 0,
		.root = strata_param_index(s, "root") >= 0 ? (int)strata_params_int(p, "root") : 0,
	};
	struct strata_coll *cl = malloc(sizeof(*cl));
	if (!cl) {
		strata_case_errorf(c, "out of memory");
		return STRATA_ERROR;
	}
	int rc = strata_coll_init(cl, &cfg, c->comm, c->err, c->err_len);
	if (rc != STRATA_OK) {
		free(cl); /* init released its buffers */
		return rc;
	}
	*state = cl;
	return STRATA_OK;
}

int strata_coll_suite_run_once(void *state, const struct strata_case *c)
{
	struct strata_coll *cl = state;
	if (cl->gpu)
		return strata_coll_gpu_run_once(cl->gpu, c);
	return strata_coll_run(state, c->err, c->err_len) == 0 ? STRATA_OK : STRATA_ERROR;
}

int64_t strata_coll_suite_verify(void *state, const struct strata_case *c)
{
	struct strata_coll *cl = state;
	if (cl->gpu)
		return strata_coll_gpu_verify(cl->gpu, c);
	return strata_coll_verify(state, c->err, c->err_len);
}

void strata_coll_suite_teardown(void *state)
{
	struct strata_coll *cl = state;
	if (!cl)
		return;
	strata_coll_gpu_teardown(cl->gpu);
	strata_coll_release(state);
	free(state);
}

size_t strata_coll_suite_metrics(const void *state, const struct strata_case *c, double seconds,
				 struct strata_metric *out, size_t max)
{
	(void)c;
	const struct strata_coll *cl = state;
	size_t n = 0;
	/* One run_once is cl->launches collectives (NCCL batches, as nccl-tests). */
	seconds /= cl->launches > 0 ? cl->launches : 1;
	if (n < max)
		out[n++] = (struct strata_metric){ "latency", "us", seconds * 1e6, 0 };
	if (seconds <= 0)
		return n;
	double algbw = strata_coll_algbw_gbps(cl->n.bytes, seconds);
	if (n < max)
		out[n++] = (struct strata_metric){ "algbw", "GB/s", algbw, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){
			"busbw", "GB/s", algbw * strata_coll_busbw_factor(cl->kind, cl->nranks), 1
		};
	return n;
}

void strata_coll_suite_describe(const void *state, const struct strata_case *c, json_t *details)
{
	(void)c;
	const struct strata_coll *cl = state;
	int reduction = cl->kind == STRATA_COLL_ALLREDUCE || cl->kind == STRATA_COLL_REDUCE_SCATTER;
	json_object_set_new(details, "collective", json_string(strata_coll_kind_name(cl->kind)));
	json_object_set_new(details, "size_requested_bytes", json_integer((json_int_t)cl->size_bytes));
	json_object_set_new(details, "bytes", json_integer((json_int_t)cl->n.bytes));
	json_object_set_new(details, "count", json_integer((json_int_t)cl->n.count));
	json_object_set_new(details, "send_bytes",
			    json_integer((json_int_t)(cl->n.send_count * cl->elt_bytes)));
	json_object_set_new(details, "recv_bytes",
			    json_integer((json_int_t)(cl->n.recv_count * cl->elt_bytes)));
	json_object_set_new(details, "dtype",
			    json_string(cl->dtype == STRATA_COLL_FLOAT ? "float" : "double"));
	json_object_set_new(details, "typesize", json_integer((json_int_t)cl->elt_bytes));
	json_object_set_new(details, "nranks", json_integer(cl->nranks));
	json_object_set_new(details, "busbw_factor",
			    json_real(strata_coll_busbw_factor(cl->kind, cl->nranks)));
	json_object_set_new(details, "inplace", json_boolean(cl->inplace));
	if (reduction)
		json_object_set_new(details, "op", json_string("sum"));
	if (cl->kind == STRATA_COLL_BROADCAST)
		json_object_set_new(details, "root", json_integer(cl->root));
	json_object_set_new(details, "formula", json_string(strata_coll_formula(cl->kind)));
	json_object_set_new(details, "validation",
			    json_string(repeat_is_idempotent(cl)
						? "every output element of the last timed repetition "
						  "compared exactly with its known value"
						: "inputs re-initialised, one more collective, every "
						  "output element compared exactly (as nccl-tests)"));
	if (cl->gpu) { /* overrides dtype, implementation and validation */
		json_object_set_new(details, "typesize", json_integer((json_int_t)cl->elt_bytes));
		strata_coll_gpu_describe(cl->gpu, c, (double)cl->n.bytes, details);
		return;
	}
	json_object_set_new(details, "implementation",
			    json_string(cl->kind == STRATA_COLL_REDUCE_SCATTER
						? "MPI_Reduce_scatter_block"
						: cl->kind == STRATA_COLL_ALLREDUCE ? "MPI_Allreduce"
						: cl->kind == STRATA_COLL_ALLGATHER ? "MPI_Allgather"
						: cl->kind == STRATA_COLL_BROADCAST ? "MPI_Bcast"
										    : "MPI_Alltoall"));
}
