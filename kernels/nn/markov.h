/* markov.h: the training suite's synthetic corpus, a seeded Markov chain of
 * order k over a vocabulary of V tokens whose entropy rate is computed
 * exactly, so the best loss any model can reach is known.
 *
 * What it is: for every context (the last k tokens; V^k of them) a
 * next-token distribution: with probability 1 - floor_p one of `branch`
 * successors drawn from the seed (weights drawn from the seed too), with
 * probability floor_p uniform over all V tokens (the floor makes the chain
 * irreducible and aperiodic, so its stationary distribution is unique).
 * Sequences are drawn from the stationary stream (the first context drawn
 * from the stationary distribution), so every window is a stationary sample
 * and the per-position loss floor below is exact.
 * What it is not: natural language, or a model of one.
 *
 * Entropy rate (Cover & Thomas, "Elements of Information Theory", 2nd ed.,
 * theorem 4.2.4): h = sum_s pi(s) H(P(. | s)) over contexts s, pi the
 * stationary distribution of the context chain (found by power iteration to
 * 1e-13 in L1).  In nats, as a cross-entropy loss is.
 */
#ifndef STRATA_KERNELS_NN_MARKOV_H
#define STRATA_KERNELS_NN_MARKOV_H

#include <stddef.h>
#include <stdint.h>

struct strata_markov {
	int vocab;        /* V */
	int order;        /* k >= 1 */
	int branch;       /* successors per context, 1..V */
	double floor_p;   /* uniform mass, (0, 1) */
	size_t n_ctx;     /* V^k */
	float *cdf;       /* (n_ctx, V) cumulative next-token probabilities */
	double *pi;       /* (n_ctx) stationary distribution of contexts */
	double entropy_rate; /* h, nats per token */
};

/* Build the chain from seed; computes pi and h.  V^k must stay <= 2^22
 * contexts and the cdf, V^(k+1) floats, <= 2^28 (1 GiB): so V <= 16384 at
 * order 1, V <= 2048 at order 2.  The chain does not depend on the number of
 * OpenMP threads.  0, or -1 with a message naming the field. */
int strata_markov_init(struct strata_markov *m, int vocab, int order, int branch, double floor_p,
                       uint64_t seed, char *err, size_t err_len);
/* For tests: the chain of an explicit table P (n_ctx, V), P[s][x] = P(x | s)
 * with contexts indexed as base-V numbers, oldest token most significant.
 * branch is set to V and floor_p to 0; the table must be primitive for pi to
 * converge (an error otherwise).  0, or -1 with a message. */
int strata_markov_init_table(struct strata_markov *m, int vocab, int order, const double *P,
                             char *err, size_t err_len);
void strata_markov_release(struct strata_markov *m);

/* The least mean cross-entropy a model predicting token t+1 from tokens
 * 0..t can reach, averaged over t = 0..T-1, on stationary windows: positions
 * t >= k-1 have h; earlier ones H(X_{t+1} | X_0..X_t) = H(X_0..X_{t+1}) -
 * H(X_0..X_t), block entropies of pi's marginals.  Nats. */
double strata_markov_loss_floor(const struct strata_markov *m, int T);

/* A sampler: its own PRNG state and current context. */
struct strata_markov_stream {
	const struct strata_markov *m;
	uint64_t rng[2];
	size_t ctx;       /* index of the current context */
};
/* Start a stream from seed: the first context from pi. */
void strata_markov_stream_init(struct strata_markov_stream *s, const struct strata_markov *m,
                               uint64_t seed);
/* Emit n tokens (the stream continues across calls). */
void strata_markov_sample(struct strata_markov_stream *s, uint16_t *out, size_t n);

#endif
