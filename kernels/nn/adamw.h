/* adamw.h: the AdamW optimizer and the learning-rate schedule of the
 * training suite.
 *
 * What it is: Adam with decoupled weight decay (Loshchilov & Hutter 2019,
 * "Decoupled Weight Decay Regularization", algorithm 2) with bias
 * correction, decay applied only to the tensors gpt.h marks (2-D weights, as
 * GPT-2/nanoGPT), and a schedule of linear warm-up then cosine decay to a
 * floor (as GPT-3's, Brown et al. 2020, section B).  What it is not: a
 * general optimizer framework or mixed precision.
 */
#ifndef STRATA_KERNELS_NN_ADAMW_H
#define STRATA_KERNELS_NN_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/nn/gpt.h"

struct strata_adamw {
	float beta1, beta2, eps, weight_decay;
	size_t n;
	float *m, *v; /* (n) first and second moments */
	int64_t step; /* steps taken */
	unsigned char *decay; /* (n) 1 where weight decay applies */
};

/* Allocate for model g (decay mask from g->tensors).  0 or -1 (no memory). */
int strata_adamw_init(struct strata_adamw *o, const struct strata_gpt *g, float beta1,
                      float beta2, float eps, float weight_decay);
void strata_adamw_release(struct strata_adamw *o);
/* One step at learning rate lr over params[0..n) with grads. */
void strata_adamw_step(struct strata_adamw *o, float *params, const float *grads, float lr);

/* Learning rate at step (0-based): max_lr * (step+1) / warmup_steps for the
 * first warmup_steps, then cosine from max_lr down to min_lr at total_steps,
 * min_lr after. */
double strata_lr_at(int64_t step, int64_t warmup_steps, int64_t total_steps, double max_lr,
                    double min_lr);

#endif
