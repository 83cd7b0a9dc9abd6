/* train_gpu.c: the train suite's device-cuda half (see train_gpu.h): the
 * rank's GPU, the BF16 model on it, one optimizer step with NCCL buckets,
 * and the record's GPU facts.  Plain C; the CUDA calls are compiled only
 * with STRATA_HAVE_CUDA (NCCL ones with STRATA_HAVE_NCCL), and without them
 * open skips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/timer.h"
#include "kernels/gpu/gpu_case.h"
#include "strata_config.h"
#include "suites/train_gpu.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/gpt_cuda.h"
#include "kernels/cuda/train_cuda.h"
#if STRATA_HAVE_NCCL
#include "kernels/cuda/nccl_coll.h"
#endif
#endif

struct strata_train_gpu {
	struct strata_gpu_case gc;
	int have_gc;
	MPI_Comm comm;           /* the training ranks (not owned) */
	int rank, nranks;
	int local_ranks;         /* training ranks on this host */
	size_t bucket_bytes;
	int overlap;
	int nccl_version;
	double comm_init_s;
	struct strata_gpt_config cfg;
	int B, T;
	size_t n_params;
	size_t last_buckets;
	double last_norm;        /* of the mean gradient, last step (NAN: not computed) */
	double model_bytes_estimate;
	double norm_device, norm_host; /* the norm kernel's check at creation */
#if STRATA_HAVE_CUDA
	struct strata_gpt_cuda *model;
	struct strata_train_cuda *tc;
#if STRATA_HAVE_NCCL
	struct strata_nccl_comm *nccl;
#endif
#endif
};

#if STRATA_HAVE_CUDA
static double now_s(void)
{
	return (double)strata_now_ns() * 1e-9;
}
#endif

/* Every training rank's status agreed: the worst (ERROR, then SKIP). */
static int agree(MPI_Comm comm, const struct strata_case *c, int rc)
{
	int flags[2] = { rc == STRATA_ERROR, rc == STRATA_SKIP };
	MPI_Allreduce(MPI_IN_PLACE, flags, 2, MPI_INT, MPI_MAX, comm);
	int all = flags[0] ? STRATA_ERROR : flags[1] ? STRATA_SKIP : STRATA_OK;
	if (all != STRATA_OK && rc == STRATA_OK && !c->err[0])
		strata_case_errorf(c, "train: device cuda: another training rank could not go on");
	return all;
}

/* ---- device memory ------------------------------------------------------------ */

double strata_train_gpu_model_bytes(const struct strata_gpt_config *cfg, int B, int T)
{
#if STRATA_HAVE_CUDA
	/* What kernels/cuda/gpt_cuda.c allocates (alloc_buffers, the cuBLASLt
	 * workspace, AdamW's moments), in bytes; the mock test compares it
	 * with strata_gpt_cuda_memory's model_bytes, so a change there shows. */
	const double P = (double)strata_gpt_param_count(cfg);
	const double L = cfg->layers, C = cfg->d_model, NH = cfg->heads;
	const double N = (double)B * T, TT = (double)B * NH * T * T;
	const double Vp = (double)((cfg->vocab + 63) / 64 * 64);
	double bytes = P * (4 + 4 + 2 + 4 + 4);   /* params, grads, BF16 copy, m, v */
	bytes += N * (4 + 4 + 4 + 4 + 4);         /* inputs, targets, losses, lnf mean, rstd */
	bytes += (2 * L + 1) * N * C * 4;         /* residual stream */
	bytes += 4 * L * N * 4;                   /* ln1/ln2 mean and rstd */
	bytes += N * C * 2 * (2 * L + 1);         /* ln1, ln2, lnf (BF16) */
	bytes += L * N * C * 2 * (3 + 1 + 4 + 4); /* qkv, atty, fch, fch_gelu (BF16) */
	bytes += L * TT * 2;                      /* attention probabilities (BF16) */
	bytes += N * Vp * 2;                      /* logits (BF16) */
	bytes += N * C * 2 * 4;                   /* q, k, v, yh (BF16) */
	bytes += TT * (4 + 2);                    /* preatt, dpreatt */
	bytes += N * C * (2 + 4 + 2 + 4 + 4);     /* branch, dres, dres16, dln, datty */
	bytes += N * 4 * C * (4 + 2);             /* dfch, dfch16 */
	bytes += N * C * 4 * 3 + N * 3 * C * 2;   /* dq, dk, dv, dqkv */
	bytes += STRATA_GPT_CUDA_WORKSPACE_BYTES;
	return bytes;
#else
	(void)cfg;
	(void)B;
	(void)T;
	return 0;
#endif
}

/* ---- open / close ------------------------------------------------------------- */

#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
/* The NCCL communicator over the training ranks (ncclCommInitRank with an
 * id from rank 0).  Collective; the status is agreed. */
static int open_nccl(struct strata_train_gpu *g, const struct strata_case *c)
{
	char why[1024] = "";
	unsigned char id[STRATA_NCCL_UNIQUE_ID_BYTES] = { 0 };
	int bad = g->rank == 0 && strata_nccl_unique_id(id, why, sizeof(why)) != 0;
	if (bad)
		strata_case_errorf(c, "train: ncclGetUniqueId: %s", why);
	if (agree(g->comm, c, bad ? STRATA_ERROR : STRATA_OK) != STRATA_OK)
		return STRATA_ERROR;
	MPI_Bcast(id, (int)sizeof(id), MPI_BYTE, 0, g->comm);
	double t0 = now_s();
	bad = strata_nccl_comm_init(&g->nccl, id, g->nranks, g->rank, why, sizeof(why)) != 0;
	if (bad)
		strata_case_errorf(c, "train: NCCL communicator on GPU %d: %s", g->gc.device, why);
	g->comm_init_s = now_s() - t0;
	g->nccl_version = strata_nccl_version();
	return agree(g->comm, c, bad ? STRATA_ERROR : STRATA_OK);
}
#endif

int strata_train_gpu_open(const struct strata_case *c, MPI_Comm comm, size_t bucket_bytes,
			  int overlap, struct strata_train_gpu **out)
{
	*out = NULL;
	struct strata_train_gpu *g = calloc(1, sizeof(*g));
	/* The local rank among the training ranks of this host picks the GPU
	 * (they are not all the run's ranks when the plan sets `ranks`). */
	MPI_Comm local;
	int local_rank = 0, local_size = 1;
	MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
	MPI_Comm_rank(local, &local_rank);
	MPI_Comm_size(local, &local_size);
	MPI_Comm_free(&local);
	int rc = STRATA_OK;
	if (!g) {
		strata_case_errorf(c, "train: out of memory");
		rc = STRATA_ERROR;
	} else {
		g->comm = comm;
		MPI_Comm_rank(comm, &g->rank);
		MPI_Comm_size(comm, &g->nranks);
		g->local_ranks = local_size;
		g->bucket_bytes = bucket_bytes;
		g->overlap = overlap;
		g->last_norm = NAN;
		struct strata_case cc = *c; /* the same err buffer */
		cc.local_rank = local_rank;
		cc.local_size = local_size;
		rc = strata_gpu_case_open(&g->gc, &cc, -1, "train");
		g->have_gc = rc == STRATA_OK;
	}
#if STRATA_HAVE_CUDA
	rc = strata_gpu_case_shared(g && g->have_gc ? &g->gc : NULL, c, comm, rc, "train");
#if !STRATA_HAVE_NCCL
	if (rc == STRATA_OK && g->nranks > 1) {
		strata_case_errorf(c, "train: device cuda on %d ranks: strata was built without NCCL "
				   "(nccl.h/libnccl not found): skipped", g->nranks);
		rc = STRATA_SKIP;
	}
#endif
#endif
	rc = agree(comm, c, rc);
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
	if (rc == STRATA_OK)
		rc = open_nccl(g, c);
#endif
	if (rc != STRATA_OK) {
		strata_train_gpu_close(g);
		return rc;
	}
	*out = g;
	return STRATA_OK;
}

void strata_train_gpu_close(struct strata_train_gpu *g)
{
	if (!g)
		return;
#if STRATA_HAVE_CUDA
	strata_train_cuda_destroy(g->tc);
	strata_gpt_cuda_destroy(g->model);
#if STRATA_HAVE_NCCL
	strata_nccl_comm_destroy(g->nccl);
#endif
#endif
	if (g->have_gc)
		strata_gpu_case_close(&g->gc);
	free(g);
}

int strata_train_gpu_check_memory(struct strata_train_gpu *g, const struct strata_case *c,
				  const struct strata_gpt_config *cfg, int B, int T)
{
	g->model_bytes_estimate = strata_train_gpu_model_bytes(cfg, B, T);
	int rc = strata_gpu_case_check_memory(&g->gc, c, g->model_bytes_estimate, "train");
	return agree(g->comm, c, rc);
}

/* ---- the model ---------------------------------------------------------------- */

#if STRATA_HAVE_CUDA
/* The gradient-norm kernel against the host, once, on the initial weights
 * (the CPU reference of train_cuda_kernels.cu): both add in double, in
 * different orders, so they agree to about 1e-15 relative. */
static int check_norm(struct strata_train_gpu *g, const struct strata_gpt *init, char *err,
		      size_t err_len)
{
	double sum = 0;
	for (size_t i = 0; i < init->n_params; i++)
		sum += (double)init->params[i] * (double)init->params[i];
	g->norm_host = sqrt(sum);
	if (strata_train_cuda_l2norm(g->tc, strata_gpt_cuda_params_device(g->model), g->n_params,
				     &g->norm_device, err, err_len) != 0)
		return -1;
	if (!(fabs(g->norm_device - g->norm_host) <= 1e-9 * g->norm_host)) {
		snprintf(err, err_len,
			 "%s:%d: the gradient-norm kernel gives %.17g for the initial weights' L2 "
			 "norm, the host %.17g",
			 __FILE__, __LINE__, g->norm_device, g->norm_host);
		return -1;
	}
	return 0;
}
#endif

int strata_train_gpu_model(struct strata_train_gpu *g, const struct strata_gpt *init, int B,
			   int T, float beta1, float beta2, float eps, float weight_decay,
			   char *err, size_t err_len)
{
#if STRATA_HAVE_CUDA
	if (g->model && (memcmp(&g->cfg, &init->cfg, sizeof(g->cfg)) != 0 || g->B != B ||
			 g->T != T)) {
		strata_train_cuda_destroy(g->tc);
		strata_gpt_cuda_destroy(g->model);
		g->tc = NULL;
		g->model = NULL;
	}
	if (!g->model) {
		if (strata_gpt_cuda_create(init, B, T, &g->model, err, err_len) != 0)
			return -1;
		g->cfg = init->cfg;
		g->B = B;
		g->T = T;
		g->n_params = init->n_params;
		struct strata_nccl_comm *comm = NULL;
#if STRATA_HAVE_NCCL
		comm = g->nccl;
#endif
		if (strata_train_cuda_create(&g->tc, strata_gpt_cuda_stream(g->model), comm,
					     g->bucket_bytes, err, err_len) != 0 ||
		    check_norm(g, init, err, err_len) != 0)
			return -1;
	} else if (strata_gpt_cuda_set_params(g->model, init->params, err, err_len) != 0) {
		return -1;
	}
	if (strata_gpt_cuda_adamw_init(g->model, beta1, beta2, eps, weight_decay, err, err_len) != 0 ||
	    strata_gpt_cuda_zero_grad(g->model, err, err_len) != 0 ||
	    strata_gpt_cuda_synchronize(g->model, err, err_len) != 0)
		return -1;
	return 0;
#else
	(void)g;
	(void)init;
	(void)B;
	(void)T;
	(void)beta1;
	(void)beta2;
	(void)eps;
	(void)weight_decay;
	snprintf(err, err_len, "train: strata was built without CUDA");
	return -1;
#endif
}

#if STRATA_HAVE_CUDA
static int have_model(const struct strata_train_gpu *g, char *err, size_t err_len)
{
	if (g->model)
		return 1;
	snprintf(err, err_len, "%s:%d: no model on the GPU (strata_train_gpu_model first)",
		 __FILE__, __LINE__);
	return 0;
}
#endif

int strata_train_gpu_step(struct strata_train_gpu *g, const int *inputs, const int *targets,
			  int B, int T, float lr, double grad_clip, float *loss,
			  struct strata_train_gpu_phases *ph, char *err, size_t err_len)
{
	memset(ph, 0, sizeof(*ph));
	*loss = NAN;
#if STRATA_HAVE_CUDA
	if (!have_model(g, err, err_len))
		return -1;
	struct strata_gpt_cuda *m = g->model;
	float *grads = strata_gpt_cuda_grads_device(m);
	double h2d = 0, norm = 0, waited = 0;
	const double t1 = now_s();
	if (strata_gpt_cuda_forward(m, inputs, targets, B, T, loss, err, err_len) != 0 ||
	    strata_gpt_cuda_h2d_seconds(m, &h2d, err, err_len) != 0)
		return -1;
	const double t2 = now_s();
	if (strata_gpt_cuda_zero_grad(m, err, err_len) != 0)
		return -1;
	strata_train_cuda_begin(g->tc, grads, g->n_params, g->overlap);
	if (strata_gpt_cuda_backward(m, strata_train_cuda_ready, g->tc, err, err_len) != 0 ||
	    strata_train_cuda_flush(g->tc, err, err_len) != 0 ||
	    strata_gpt_cuda_synchronize(m, err, err_len) != 0)
		return -1;
	const double t3 = now_s();
	if (strata_train_cuda_wait(g->tc, &waited, err, err_len) != 0)
		return -1;
	const double t4 = now_s();
	/* The sum over ranks is scaled to their mean in AdamW; clipping to the
	 * mean's norm, as the CPU path (train.c's clip_gradients) does. */
	double scale = 1.0 / (double)g->nranks;
	g->last_norm = NAN;
	if (grad_clip > 0) {
		if (strata_train_cuda_l2norm(g->tc, grads, g->n_params, &norm, err, err_len) != 0)
			return -1;
		norm *= scale;
		g->last_norm = norm;
		if (norm > grad_clip)
			scale *= grad_clip / norm;
	}
	if (strata_gpt_cuda_adamw_step(m, lr, (float)scale, err, err_len) != 0 ||
	    strata_gpt_cuda_synchronize(m, err, err_len) != 0)
		return -1;
	const double t5 = now_s();
	g->last_buckets = strata_train_cuda_buckets(g->tc);
	ph->h2d_s = h2d;
	ph->forward_s = t2 - t1 > h2d ? t2 - t1 - h2d : 0;
	ph->backward_s = t3 - t2;
	ph->allreduce_exposed_s = t4 - t3;
	ph->optimizer_s = t5 - t4;
	return 0;
#else
	(void)g;
	(void)inputs;
	(void)targets;
	(void)B;
	(void)T;
	(void)lr;
	(void)grad_clip;
	snprintf(err, err_len, "train: strata was built without CUDA");
	return -1;
#endif
}

int strata_train_gpu_loss(struct strata_train_gpu *g, const int *inputs, const int *targets,
			  int B, int T, float *loss, char *err, size_t err_len)
{
	*loss = NAN;
#if STRATA_HAVE_CUDA
	if (!have_model(g, err, err_len))
		return -1;
	return strata_gpt_cuda_forward(g->model, inputs, targets, B, T, loss, err, err_len);
#else
	(void)g;
	(void)inputs;
	(void)targets;
	(void)B;
	(void)T;
	snprintf(err, err_len, "train: strata was built without CUDA");
	return -1;
#endif
}

int strata_train_gpu_get_params(struct strata_train_gpu *g, float *params, char *err,
				size_t err_len)
{
#if STRATA_HAVE_CUDA
	if (!have_model(g, err, err_len))
		return -1;
	return strata_gpt_cuda_get_params(g->model, params, err, err_len);
#else
	(void)g;
	(void)params;
	snprintf(err, err_len, "train: strata was built without CUDA");
	return -1;
#endif
}

int strata_train_gpu_set_params(struct strata_train_gpu *g, const float *params, char *err,
				size_t err_len)
{
#if STRATA_HAVE_CUDA
	if (!have_model(g, err, err_len))
		return -1;
	return strata_gpt_cuda_set_params(g->model, params, err, err_len);
#else
	(void)g;
	(void)params;
	snprintf(err, err_len, "train: strata was built without CUDA");
	return -1;
#endif
}

int strata_train_gpu_allreduce_all(struct strata_train_gpu *g, double *seconds, char *err,
				   size_t err_len)
{
	*seconds = 0;
#if STRATA_HAVE_CUDA
	if (!have_model(g, err, err_len))
		return -1;
	double waited;
	float *grads = strata_gpt_cuda_grads_device(g->model);
	if (strata_gpt_cuda_zero_grad(g->model, err, err_len) != 0 ||
	    strata_gpt_cuda_synchronize(g->model, err, err_len) != 0)
		return -1;
	MPI_Barrier(g->comm);
	const double t0 = now_s();
	strata_train_cuda_begin(g->tc, grads, g->n_params, 0);
	if (strata_train_cuda_flush(g->tc, err, err_len) != 0 ||
	    strata_train_cuda_wait(g->tc, &waited, err, err_len) != 0 ||
	    strata_gpt_cuda_synchronize(g->model, err, err_len) != 0)
		return -1;
	*seconds = now_s() - t0;
	return 0;
#else
	(void)g;
	snprintf(err, err_len, "train: strata was built without CUDA");
	return -1;
#endif
}

size_t strata_train_gpu_buckets(const struct strata_train_gpu *g)
{
	return g->last_buckets;
}

void strata_train_gpu_memory(const struct strata_train_gpu *g, double *model_bytes,
			     double *device_peak_bytes)
{
	*model_bytes = *device_peak_bytes = 0;
#if STRATA_HAVE_CUDA
	if (g->model) {
		struct strata_gpt_cuda_memory mem;
		strata_gpt_cuda_memory(g->model, &mem);
		*model_bytes = (double)mem.model_bytes;
		*device_peak_bytes = (double)mem.device_used_peak_bytes;
	}
#else
	(void)g;
#endif
}

/* ---- MFU peak ----------------------------------------------------------------- */

void strata_train_gpu_find_peak(const struct strata_train_gpu *g, const struct strata_case *c,
				double *gflops, char *source, size_t source_len)
{
	double best = 0;
	size_t i;
	json_t *r;
	json_array_foreach(c->run_records, i, r) {
		json_t *pp = json_object_get(r, "params");
		if (strcmp(json_string_value(json_object_get(r, "suite")) ?: "", "gemm") ||
		    strcmp(json_string_value(json_object_get(r, "backend")) ?: "", "cuda") ||
		    strcmp(json_string_value(json_object_get(r, "outcome")) ?: "", "passed") ||
		    strcmp(json_string_value(json_object_get(pp, "dtype")) ?: "", "bfloat16"))
			continue;
		/* The best repetition: what the tensor cores can do (see train.c's
		 * find_peak for why not the median). */
		double v = json_real_value(json_object_get(
			json_object_get(json_object_get(r, "metrics"), "gflops"), "best"));
		if (v > best)
			best = v;
	}
	if (best > 0) {
		*gflops = best;
		snprintf(source, source_len,
			 "measured: the gemm suite's best BF16 GFLOP/s per GPU (cuBLASLt, best "
			 "repetition, the largest over its bfloat16 cases) earlier in this run");
		return;
	}
	const struct strata_gpu_model *pm = g->have_gc ? g->gc.model : NULL;
	if (pm && pm->tflops[STRATA_GPU_BF16] > 0) {
		*gflops = pm->tflops[STRATA_GPU_BF16] * 1e3;
		snprintf(source, source_len,
			 "datasheet: %s dense BF16 tensor-core peak %.1f TFLOP/s (%s; no gemm bfloat16 "
			 "case on cuda in this run)",
			 pm->model, pm->tflops[STRATA_GPU_BF16], pm->source);
		return;
	}
	*gflops = 0;
	snprintf(source, source_len,
		 "unknown: no gemm bfloat16 case on cuda in this run, and GPU '%s' is not in "
		 "kernels/gpu/gpu_peak.c's table (set peak_gflops)",
		 g->have_gc ? g->gc.info.name : "?");
}

/* ---- telemetry and the record ---------------------------------------------------- */

void strata_train_gpu_before_run(struct strata_train_gpu *g, const struct strata_case *c)
{
	strata_gpu_case_before_run(&g->gc, c);
}

void strata_train_gpu_after_run(struct strata_train_gpu *g, const struct strata_case *c,
				int steps)
{
	strata_gpu_case_after_run(&g->gc, c, steps);
}

void strata_train_gpu_stop(struct strata_train_gpu *g)
{
	strata_gpu_case_stop(&g->gc);
}

void strata_train_gpu_describe(const struct strata_train_gpu *g, json_t *details,
			       double gflop_per_step)
{
	strata_gpu_case_describe(&g->gc, details, gflop_per_step, "GFLOP");
	double model_bytes = 0, peak = 0, total = 0;
#if STRATA_HAVE_CUDA
	if (g->model) {
		struct strata_gpt_cuda_memory mem;
		strata_gpt_cuda_memory(g->model, &mem);
		model_bytes = (double)mem.model_bytes;
		peak = (double)mem.device_used_peak_bytes;
		total = (double)mem.device_total_bytes;
	}
#endif
	json_object_set_new(
		details, "gpu_memory",
		json_pack("{s:f,s:f,s:f,s:f,s:s}", "model_bytes", model_bytes, "model_bytes_estimate",
			  g->model_bytes_estimate, "device_used_peak_bytes_rank0", peak,
			  "device_total_bytes", total, "how",
			  "model: what the model allocated (weights, gradients, AdamW moments, "
			  "activations, workspace); device_used_peak: cudaMemGetInfo's total - free "
			  "after each phase (CUDA context, cuBLAS and NCCL included); the estimate "
			  "is the setup's memory check"));
	json_object_set_new(details, "nccl",
			    json_pack("{s:i,s:f,s:i,s:i}", "version", g->nccl_version,
				      "communicator_init_s", g->comm_init_s, "ranks", g->nranks,
				      "training_ranks_on_rank0_host", g->local_ranks));
	json_object_set_new(details, "grad_norm",
			    json_pack("{s:o,s:f,s:f,s:s}", "last_step",
				      isnan(g->last_norm) ? json_null() : json_real(g->last_norm),
				      "check_device", g->norm_device, "check_host", g->norm_host,
				      "how",
				      "last_step: L2 norm of the mean gradient before clipping (rank "
				      "0); check: the norm kernel and the host on the initial weights, "
				      "at creation (they must agree within 1e-9 relative)"));
}
