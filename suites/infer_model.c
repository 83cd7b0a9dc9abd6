/* infer_model.c: the replica the infer suite (suites/infer.c) serves from:
 * the GPT model (a checkpoint, or a preset with random weights), its
 * key/value-cache backends on the case's device (cpu: gpt_infer.h; cuda:
 * kernels/cuda/gpt_cuda.h, the rank's GPU), and setup's output check
 * (greedy tokens at batch size 1 against a full batch, with the device's
 * tolerances).  Not the traffic (kernels/nn/loadgen.h), the serving loop
 * (kernels/nn/infer_sut.h) or what is reported (infer_report.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites/gpt_shape.h"
#include "suites/infer_internal.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/cuda_device.h"
#endif

/* Output check tolerances (strata_infer_batch_check): a differing token is a
 * near-tie when the batch-1 run scored both within TIE_TOL; the logits of the
 * two runs, while they agree, may differ by at most LOGIT_TOL.  FP32 on the
 * CPU: the two paths differ by float rounding only (~1e-7 seen).  BF16 on the
 * GPU: logits carry 8 bits of mantissa (2^-8 relative, ~0.01 at |logit| 2),
 * and batched and single-row GEMMs may take other algorithms. */
#define CPU_TIE_TOL 1e-4
#define CPU_LOGIT_TOL 1e-3
#define CUDA_TIE_TOL 0.1
#define CUDA_LOGIT_TOL 0.5

/* ---- device cuda: kernels/cuda/gpt_cuda.h's cache as an infer_sut backend ---- */

#if STRATA_HAVE_CUDA
static int cuda_reset(void *ctx, int slot, char *err, size_t err_len)
{
	return strata_gpt_cuda_kv_reset(ctx, slot, err, err_len);
}

static int cuda_prefill(void *ctx, int slot, const int *tokens, int n, float *logits, char *err,
                        size_t err_len)
{
	return strata_gpt_cuda_kv_prefill(ctx, slot, tokens, n, logits, err, err_len);
}

static int cuda_decode(void *ctx, const int *slots, const int *tokens, int n, float *logits,
                       char *err, size_t err_len)
{
	return strata_gpt_cuda_kv_decode(ctx, slots, tokens, n, logits, err, err_len);
}

static int cuda_backend(struct infer_state *s, struct strata_gpt_cuda_kv **kv, int slots,
                        int max_len, struct strata_infer_backend *be, char *err, size_t err_len)
{
	if (strata_gpt_cuda_kv_create(s->cg, slots, max_len, kv, err, err_len) != 0)
		return -1;
	*be = (struct strata_infer_backend){.ctx = *kv,
	                                    .slots = slots,
	                                    .max_len = max_len,
	                                    .vocab = s->g.cfg.vocab,
	                                    .reset = cuda_reset,
	                                    .prefill = cuda_prefill,
	                                    .decode = cuda_decode};
	return 0;
}
#endif

/* The GPU of this rank (local rank modulo the devices), or the skip reason. */
int strata_infer_suite_cuda_open(struct infer_state *s, const struct strata_case *c)
{
#if STRATA_HAVE_CUDA
	int count = 0;
	char why[256] = "";
	if (strata_cuda_device_count(&count, why, sizeof(why)) != 0 || count == 0) {
		strata_case_errorf(c, "infer: %s", why[0] ? why : "no CUDA device: skipped");
		return STRATA_SKIP;
	}
	struct strata_cuda_device dev;
	if (strata_cuda_device_use(c->local_rank % count, &dev, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "infer: %s", why);
		return STRATA_ERROR;
	}
	snprintf(s->device_name, sizeof(s->device_name), "%s (CUDA %d, %s)", dev.name, dev.index,
	         dev.pci_bus_id);
	return STRATA_OK;
#else
	(void)s;
	strata_case_errorf(c, "infer: no CUDA device: skipped (strata was built without CUDA)");
	return STRATA_SKIP;
#endif
}

/* The SUT's backend and the output check's batch-1 one, on the case's device. */
int strata_infer_suite_make_backends(struct infer_state *s, const struct strata_case *c,
                                     int one_len)
{
	char err[512] = "";
	if (s->cuda) {
#if STRATA_HAVE_CUDA
		if (strata_gpt_cuda_create(&s->g, 1, 1, &s->cg, err, sizeof(err)) != 0 ||
		    cuda_backend(s, &s->ckv, s->max_batch, s->cache_len, &s->be, err,
		                 sizeof(err)) != 0 ||
		    cuda_backend(s, &s->ckv_one, 1, one_len, &s->be_one, err, sizeof(err)) != 0) {
			strata_case_errorf(c, "infer: %s", err);
			return STRATA_ERROR;
		}
		return STRATA_OK;
#endif
	}
	if (strata_gpt_kv_init(&s->kv, &s->g, s->max_batch, s->cache_len, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		return STRATA_ERROR;
	}
	s->have_kv = 1;
	if (strata_gpt_kv_init(&s->kv_one, &s->g, 1, one_len, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		return STRATA_ERROR;
	}
	s->have_kv_one = 1;
	strata_infer_backend_cpu(&s->be, &s->kv);
	strata_infer_backend_cpu(&s->be_one, &s->kv_one);
	return STRATA_OK;
}

/* The model: a checkpoint, or a preset with overrides and random weights.
 * The position table is lengthened to fit the longest request when the
 * preset's is shorter (as the train suite does for its seq). */
int strata_infer_suite_build_model(struct infer_state *s, const struct strata_case *c, int need_len)
{
	const struct strata_params *p = c->params;
	char err[512] = "";
	struct strata_gpt_config cfg;
	const char *ckpt = strata_params_str(p, "checkpoint");
	uint64_t seed = (uint64_t)strata_params_int(p, "seed");
	if (ckpt[0]) {
		if (strata_gpt_load_config(ckpt, &cfg, err, sizeof(err)) != 0) {
			strata_case_errorf(c, "infer: checkpoint: %s", err);
			return STRATA_ERROR;
		}
		if (need_len > cfg.max_seq) {
			strata_case_errorf(
			    c,
			    "infer: requests need %d positions (prompt + output - 1), "
			    "the checkpoint's model has max_seq %d",
			    need_len, cfg.max_seq);
			return STRATA_ERROR;
		}
		snprintf(s->source, sizeof(s->source), "checkpoint %s", ckpt);
	} else {
		if (strata_gpt_shape_from_params(p, &cfg, err, sizeof(err)) != 0) {
			strata_case_errorf(c, "infer: %s", err);
			return STRATA_ERROR;
		}
		if (need_len > cfg.max_seq)
			cfg.max_seq = need_len;
		snprintf(s->source, sizeof(s->source), "preset %s, random weights (seed %llu)",
		         strata_params_str(p, "model"), (unsigned long long)seed);
	}
	if (strata_gpt_init(&s->g, &cfg, 1, 1, seed, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: model: %s", err);
		return STRATA_ERROR;
	}
	s->have_g = 1;
	if (ckpt[0] && strata_gpt_load(&s->g, ckpt, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: checkpoint: %s", err);
		return STRATA_ERROR;
	}
	return STRATA_OK;
}

/* The check's sizes: the longest prompt and output, within the SUT's cache
 * (the batch check puts prompts of up to n_prompt + 3 tokens beside it). */
void strata_infer_suite_check_sizes(const struct infer_state *s, int *np, int *no)
{
	int p = (s->cache_len - 3) / 2;
	if (s->ls.prompt.hi < p)
		p = s->ls.prompt.hi;
	if (p < 1)
		p = 1;
	int o = s->cache_len - 3 - p;
	if (s->ls.output.hi < o)
		o = s->ls.output.hi;
	if (o > STRATA_INFER_CHECK_MAX)
		o = STRATA_INFER_CHECK_MAX;
	*np = p;
	*no = o;
}

/* Setup's output check (strata_infer_batch_check) of np prompt and no output
 * tokens with the device's tolerances; verify fails the case on what it
 * counts in check_wrong. */
int strata_infer_suite_output_check(struct infer_state *s, const struct strata_case *c, int np,
                                    int no)
{
	int *prompt = malloc((size_t)np * sizeof(int));
	if (!prompt) {
		strata_case_errorf(c, "infer: out of memory");
		return STRATA_ERROR;
	}
	uint64_t seed = (uint64_t)strata_params_int(c->params, "seed");
	strata_infer_prompt(seed, -1, np, s->g.cfg.vocab, prompt);
	char err[512] = "";
	int rc = strata_infer_batch_check(&s->be_one, &s->be, prompt, np, no, seed,
	                                  s->cuda ? CUDA_TIE_TOL : CPU_TIE_TOL, &s->check, err,
	                                  sizeof(err));
	free(prompt);
	if (rc < 0) {
		strata_case_errorf(c, "infer: output check: %s", err);
		return STRATA_ERROR;
	}
	s->logit_tol = s->cuda ? CUDA_LOGIT_TOL : CPU_LOGIT_TOL;
	s->check_wrong = s->check.mismatches + (s->check.max_logit_diff > s->logit_tol);
	return STRATA_OK;
}
