/* adamw.c: AdamW over the flat parameter array of gpt.h, and the warm-up +
 * cosine learning-rate schedule (see adamw.h).
 *
 * What it is: one fused OpenMP loop per step over params, grads and the two
 * moments.  What it is not: gradient clipping, or an optimizer that knows
 * about tensors (the decay mask is the only per-tensor fact it keeps).
 */
#include "kernels/nn/adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int strata_adamw_init(struct strata_adamw *o, const struct strata_gpt *g, float beta1,
                      float beta2, float eps, float weight_decay)
{
	memset(o, 0, sizeof(*o));
	o->beta1 = beta1;
	o->beta2 = beta2;
	o->eps = eps;
	o->weight_decay = weight_decay;
	o->n = g->n_params;
	o->m = calloc(o->n ? o->n : 1, sizeof(float));
	o->v = calloc(o->n ? o->n : 1, sizeof(float));
	o->decay = calloc(o->n ? o->n : 1, 1);
	if (!o->m || !o->v || !o->decay) {
		strata_adamw_release(o);
		return -1;
	}
	for (size_t i = 0; i < g->n_tensors; i++) {
		const struct strata_gpt_tensor *t = &g->tensors[i];
		if (t->decay)
			memset(o->decay + t->offset, 1, t->count);
	}
	return 0;
}

void strata_adamw_release(struct strata_adamw *o)
{
	free(o->m);
	free(o->v);
	free(o->decay);
	memset(o, 0, sizeof(*o));
}

/* Step t (1-based), per parameter p with gradient g (Loshchilov & Hutter
 * 2019, algorithm 2, with the schedule multiplier folded into lr as PyTorch's
 * torch.optim.AdamW and llm.c's adamw_update write it):
 *   m = b1 m + (1 - b1) g          v = b2 v + (1 - b2) g^2
 *   mhat = m / (1 - b1^t)          vhat = v / (1 - b2^t)
 *   p -= lr (mhat / (sqrt(vhat) + eps) + wd decay p)
 * The decay mask multiplies rather than branches, so the loop vectorises. */
void strata_adamw_step(struct strata_adamw *o, float *params, const float *grads, float lr)
{
	o->step++;
	const float b1 = o->beta1, b2 = o->beta2, eps = o->eps, wd = o->weight_decay;
	const float c1 = 1.0f / (1.0f - (float)pow(b1, (double)o->step));
	const float c2 = 1.0f / (1.0f - (float)pow(b2, (double)o->step));
	float *m = o->m, *v = o->v;
	const unsigned char *decay = o->decay;
	const long n = (long)o->n;
#pragma omp parallel for simd schedule(static) if (n >= 65536)
	for (long i = 0; i < n; i++) {
		const float g = grads[i];
		const float mi = b1 * m[i] + (1.0f - b1) * g;
		const float vi = b2 * v[i] + (1.0f - b2) * g * g;
		m[i] = mi;
		v[i] = vi;
		const float update = (mi * c1) / (sqrtf(vi * c2) + eps);
		params[i] -= lr * (update + wd * (float)decay[i] * params[i]);
	}
}

/* Linear warm-up then cosine decay (Brown et al. 2020, "Language Models are
 * Few-Shot Learners", appendix B: "cosine decay ... warmup over the first
 * 375 million tokens"; written as nanoGPT's get_lr):
 *   step < W:       max_lr (step + 1) / W
 *   W <= step < S:  min_lr + (max_lr - min_lr) (1 + cos(pi (step - W) / (S - W))) / 2
 *   step >= S:      min_lr */
double strata_lr_at(int64_t step, int64_t warmup_steps, int64_t total_steps, double max_lr,
                    double min_lr)
{
	if (step < warmup_steps)
		return max_lr * (double)(step + 1) / (double)warmup_steps;
	if (step >= total_steps)
		return min_lr;
	const double progress = (double)(step - warmup_steps) / (double)(total_steps - warmup_steps);
	return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + cos(M_PI * progress));
}
