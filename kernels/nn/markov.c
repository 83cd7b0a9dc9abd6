/* markov.c: the seeded order-k Markov chain of markov.h: its construction,
 * its stationary distribution and entropy rate, the per-position loss floor,
 * and the sampler.
 *
 * What it is: exact arithmetic in double for everything that is reported
 * (pi, h, the loss floor); the sampler draws from a float cdf built from the
 * same double probabilities: each cdf entry is the exact running sum rounded
 * to float (within 2^-25), and a 53-bit uniform makes the sampled chain
 * exactly the float-cdf chain, whose probabilities differ from the exact ones
 * by at most 2^-24 each; the loss reached on sampled data differs from the
 * exact h by far less than any convergence margin a plan uses (the unit test
 * measures it).  What it is not: fast to build for large V^k (the dense cdf
 * is V^(k+1) floats, capped at 2^28 = 1 GiB), or a chain whose successor
 * sets mean anything.
 *
 * Context index: the last k tokens x_{t-k+1} .. x_t as a base-V number, the
 * oldest most significant: s = sum_i x_{t-k+1+i} V^(k-1-i).  Appending token
 * x gives s' = (s V + x) mod V^k.
 */
#include "kernels/nn/markov.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#define MAX_VOCAB 65536                   /* tokens are uint16 */
#define MAX_CONTEXTS ((size_t)1 << 22)    /* V^k */
#define MAX_CDF_ENTRIES ((size_t)1 << 28) /* V^(k+1) floats: 1 GiB */
#define PI_TOL_L1 1e-13                   /* power iteration stops below this change */
#define PI_MAX_ITER 100000
#define PI_MAX_WORK ((double)(1ull << 36)) /* multiply-adds over all iterations */
#define TABLE_ROW_TOL 1e-12
/* Below this many multiply-adds a parallel region costs more than it saves
 * (a small chain's power iteration is thousands of such steps). */
#define PAR_MIN_WORK ((size_t)1 << 16)

/* ---- random numbers ------------------------------------------------------- */

/* splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014; the constants of Vigna's splitmix64.c): seeds
 * the others and derives one independent stream per context. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoroshiro128+ (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", ACM TOMS 2021; parameters a=24, b=16, c=37): the generator
 * Vigna recommends for floating-point numbers, whose top 53 bits we use. */
static inline uint64_t xoroshiro128p(uint64_t s[2])
{
	uint64_t s0 = s[0], s1 = s[1];
	uint64_t r = s0 + s1;
	s1 ^= s0;
	s[0] = rotl64(s0, 24) ^ s1 ^ (s1 << 16);
	s[1] = rotl64(s1, 37);
	return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double unit_double(uint64_t r)
{
	return (double)(r >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n) by multiply-shift (Lemire, "Fast random integer
 * generation in an interval", ACM TOMACS 2019, without the rejection step:
 * the bias is below n / 2^64, far under anything measured here). */
static inline uint32_t below(uint64_t r, uint32_t n)
{
	return (uint32_t)(((unsigned __int128)r * n) >> 64);
}

/* ---- the chain in sparse form ---------------------------------------------- */

/* P(x | s) = floor_add + q[s][j] where x = succ[s][j], floor_add elsewhere.
 * Seeded chains: floor_add = floor_p / V, q = (1 - floor_p) w, nb = branch.
 * A table: floor_add = 0, nb = V, succ[s][j] = j. */
struct sparse {
	size_t n_ctx;
	int V, nb;
	double floor_add;
	uint16_t *succ; /* (n_ctx, nb) */
	double *q;      /* (n_ctx, nb) */
	double *H;      /* (n_ctx) entropy of each row, nats */
};

static void sparse_free(struct sparse *sp)
{
	free(sp->succ);
	free(sp->q);
	free(sp->H);
	memset(sp, 0, sizeof(*sp));
}

static int sparse_alloc(struct sparse *sp, size_t n_ctx, int V, int nb)
{
	memset(sp, 0, sizeof(*sp));
	sp->n_ctx = n_ctx;
	sp->V = V;
	sp->nb = nb;
	sp->succ = malloc(n_ctx * (size_t)nb * sizeof(*sp->succ));
	sp->q = malloc(n_ctx * (size_t)nb * sizeof(*sp->q));
	sp->H = malloc(n_ctx * sizeof(*sp->H));
	if (!sp->succ || !sp->q || !sp->H) {
		sparse_free(sp);
		return -1;
	}
	return 0;
}

/* Row s of the cdf from the sparse row, and the row's entropy
 * H = -sum_x p log p (Cover & Thomas eq. 2.1), in nats.  row_p is scratch
 * of V doubles. */
static void row_finish(struct sparse *sp, size_t s, float *cdf_row, double *row_p)
{
	const int V = sp->V, nb = sp->nb;
	const uint16_t *succ = sp->succ + s * (size_t)nb;
	const double *q = sp->q + s * (size_t)nb;
	for (int x = 0; x < V; x++)
		row_p[x] = sp->floor_add;
	for (int j = 0; j < nb; j++)
		row_p[succ[j]] += q[j];
	double c = 0.0, H = 0.0;
	for (int x = 0; x < V; x++) {
		double p = row_p[x];
		if (p > 0.0)
			H -= p * log(p);
		c += p;
		cdf_row[x] = (float)c;
	}
	cdf_row[V - 1] = 1.0f; /* the search never runs off the row */
	sp->H[s] = H;
}

/* The seeded successors and weights of every context, the cdf and the row
 * entropies.  Context s draws from its own splitmix64 stream (seed, s), so the
 * chain does not depend on the number of threads. */
static int build_seeded(struct strata_markov *m, struct sparse *sp, uint64_t seed)
{
	const int V = m->vocab, nb = m->branch;
	const double f = m->floor_p;
	sp->floor_add = f / V;
	int failed = 0;
#pragma omp parallel reduction(| : failed) if (m->n_ctx * (size_t)V >= PAR_MIN_WORK)
	{
		double *row_p = malloc((size_t)V * sizeof(*row_p));
		unsigned char *mark = calloc((size_t)V, 1);
		double *e = malloc((size_t)nb * sizeof(*e));
		if (!row_p || !mark || !e)
			failed = 1;
#pragma omp for schedule(static)
		for (size_t s = 0; s < m->n_ctx; s++) {
			if (failed)
				continue;
			uint64_t st = seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(s + 1));
			uint16_t *succ = sp->succ + s * (size_t)nb;
			double *q = sp->q + s * (size_t)nb;
			/* nb distinct successors: Floyd's algorithm (Bentley & Floyd,
			 * "A sample of brilliance", CACM 30(9), 1987). */
			for (int i = 0, j = V - nb; j < V; j++, i++) {
				uint32_t t = below(splitmix64(&st), (uint32_t)j + 1);
				if (mark[t])
					t = (uint32_t)j;
				mark[t] = 1;
				succ[i] = (uint16_t)t;
			}
			/* Weights: a flat Dirichlet(1, .., 1), normalised unit
			 * exponentials (Devroye, "Non-Uniform Random Variate
			 * Generation", 1986, ch. XI.4). */
			double sum = 0.0;
			for (int j = 0; j < nb; j++) {
				e[j] = -log1p(-unit_double(splitmix64(&st))); /* -log(1-u), u < 1 */
				sum += e[j];
			}
			for (int j = 0; j < nb; j++) {
				/* all e[j] == 0 has probability ~2^-53nb; then equal weights */
				q[j] = (1.0 - f) * (sum > 0.0 ? e[j] / sum : 1.0 / nb);
				mark[succ[j]] = 0;
			}
			row_finish(sp, s, m->cdf + s * (size_t)V, row_p);
		}
		free(row_p);
		free(mark);
		free(e);
	}
	return failed ? -1 : 0;
}

/* ---- stationary distribution --------------------------------------------------- */

/* pi by power iteration, pi_{t+1} = pi_t P, from the uniform distribution,
 * until ||pi_{t+1} - pi_t||_1 < 1e-13.
 *
 * Why it converges: the uniform floor makes every entry of P^k at least
 * (floor_p / V)^k > 0 (any k tokens, each drawn from the floor, lead from any
 * context to any other), so P is primitive (irreducible and aperiodic) and,
 * by the Perron-Frobenius theorem, has one stationary distribution to which
 * pi_0 P^t converges from any pi_0, geometrically: a Doeblin bound
 * P^k >= floor_p^k U with U uniform gives ||pi_t - pi||_TV <= (1 -
 * floor_p^k)^floor(t/k) (Levin, Peres & Wilmer, "Markov Chains and Mixing
 * Times", 2nd ed., theorem 4.9 and its proof).  In practice the successors
 * mix much faster than that bound.  A table without a floor need not be
 * primitive; then the iteration may stop at the cap with an error.
 *
 * One step in gather form: context s' = (p, x) with p its first k-1 tokens
 * has the V predecessors s = (y, p), so
 *   pi'(p V + x) = floor_add m(p) + sum_y pi(y V^(k-1) + p) q(x | y, p),
 * m(p) = sum_y pi(y V^(k-1) + p); each p writes only its own V entries, so
 * the loop over p runs in parallel.  Costs n_ctx (nb + 1) per step. */
static int stationary(struct strata_markov *m, const struct sparse *sp, char *err, size_t err_len)
{
	const size_t n_ctx = m->n_ctx, V = (size_t)m->vocab, P1 = n_ctx / V;
	const int nb = sp->nb;
	double *pi = m->pi;
	double *next = malloc(n_ctx * sizeof(*next));
	if (!next) {
		snprintf(err, err_len, "markov: out of memory for %zu contexts", n_ctx);
		return -1;
	}
	for (size_t s = 0; s < n_ctx; s++)
		pi[s] = 1.0 / (double)n_ctx;
	double work_per_iter = (double)n_ctx * (nb + 1);
	long max_iter = (long)fmin(PI_MAX_ITER, fmax(1000.0, PI_MAX_WORK / work_per_iter));
	double change = INFINITY;
	long it;
	for (it = 0; it < max_iter && !(change < PI_TOL_L1); it++) {
#pragma omp parallel for schedule(static) if (work_per_iter >= PAR_MIN_WORK)
		for (size_t p = 0; p < P1; p++) {
			double *out = next + p * V;
			double mp = 0.0;
			for (size_t y = 0; y < V; y++)
				mp += pi[y * P1 + p];
			for (size_t x = 0; x < V; x++)
				out[x] = sp->floor_add * mp;
			for (size_t y = 0; y < V; y++) {
				size_t s = y * P1 + p;
				const uint16_t *succ = sp->succ + s * (size_t)nb;
				const double *q = sp->q + s * (size_t)nb;
				double ps = pi[s];
				for (int j = 0; j < nb; j++)
					out[succ[j]] += ps * q[j];
			}
		}
		/* P is stochastic, so total is 1 up to rounding; dividing keeps
		 * rounding from accumulating over many steps.  The sums run in one
		 * order (not an OpenMP reduction) so that pi and h come out
		 * bit-identical whatever the thread count. */
		double total = 0.0, d = 0.0;
		for (size_t s = 0; s < n_ctx; s++)
			total += next[s];
		for (size_t s = 0; s < n_ctx; s++) {
			next[s] /= total;
			d += fabs(next[s] - pi[s]);
		}
		memcpy(pi, next, n_ctx * sizeof(*pi));
		change = d;
	}
	free(next);
	if (!(change < PI_TOL_L1)) {
		snprintf(err, err_len,
		         "markov: floor_p: the stationary distribution did not converge to %.0e "
		         "(L1) in %ld power iterations (last change %.3g); raise floor_p or lower "
		         "order",
		         PI_TOL_L1, it, change);
		return -1;
	}
	return 0;
}

/* ---- init -------------------------------------------------------------------------- */

static int check_shape(int vocab, int order, size_t *n_ctx, char *err, size_t err_len)
{
	if (vocab < 2 || vocab > MAX_VOCAB) {
		snprintf(err, err_len, "markov: vocab: %d must be in 2..%d (tokens are uint16)",
		         vocab, MAX_VOCAB);
		return -1;
	}
	if (order < 1) {
		snprintf(err, err_len, "markov: order: %d must be >= 1", order);
		return -1;
	}
	size_t n = 1;
	for (int i = 0; i < order; i++) {
		n *= (size_t)vocab;
		if (n > MAX_CONTEXTS) {
			snprintf(err, err_len,
			         "markov: vocab^order: %d^%d contexts exceed 2^22; lower vocab or "
			         "order",
			         vocab, order);
			return -1;
		}
	}
	if (n * (size_t)vocab > MAX_CDF_ENTRIES) {
		snprintf(err, err_len,
		         "markov: vocab^(order+1): the cdf of %d^%d entries exceeds 2^28 floats "
		         "(1 GiB); lower vocab or order",
		         vocab, order + 1);
		return -1;
	}
	*n_ctx = n;
	return 0;
}

static int alloc_chain(struct strata_markov *m, char *err, size_t err_len)
{
	m->cdf = malloc(m->n_ctx * (size_t)m->vocab * sizeof(*m->cdf));
	m->pi = malloc(m->n_ctx * sizeof(*m->pi));
	if (!m->cdf || !m->pi) {
		snprintf(err, err_len, "markov: out of memory for %zu x %d cdf entries", m->n_ctx,
		         m->vocab);
		strata_markov_release(m);
		return -1;
	}
	return 0;
}

/* pi, then h = sum_s pi(s) H(P(. | s)) (Cover & Thomas, theorem 4.2.4). */
static int finish(struct strata_markov *m, struct sparse *sp, char *err, size_t err_len)
{
	if (stationary(m, sp, err, err_len) != 0) {
		sparse_free(sp);
		strata_markov_release(m);
		return -1;
	}
	double h = 0.0;
	for (size_t s = 0; s < m->n_ctx; s++)
		h += m->pi[s] * sp->H[s];
	m->entropy_rate = h;
	sparse_free(sp);
	return 0;
}

int strata_markov_init(struct strata_markov *m, int vocab, int order, int branch, double floor_p,
                       uint64_t seed, char *err, size_t err_len)
{
	memset(m, 0, sizeof(*m));
	size_t n_ctx;
	if (check_shape(vocab, order, &n_ctx, err, err_len) != 0)
		return -1;
	if (branch < 1 || branch > vocab) {
		snprintf(err, err_len, "markov: branch: %d must be in 1..vocab (%d)", branch,
		         vocab);
		return -1;
	}
	if (!(floor_p > 0.0 && floor_p < 1.0)) {
		snprintf(err, err_len,
		         "markov: floor_p: %g must be in (0, 1) (the floor makes the chain "
		         "irreducible and aperiodic)",
		         floor_p);
		return -1;
	}
	*m = (struct strata_markov){
	    .vocab = vocab,
	    .order = order,
	    .branch = branch,
	    .floor_p = floor_p,
	    .n_ctx = n_ctx,
	};
	if (alloc_chain(m, err, err_len) != 0)
		return -1;
	struct sparse sp;
	if (sparse_alloc(&sp, n_ctx, vocab, branch) != 0 || build_seeded(m, &sp, seed) != 0) {
		snprintf(err, err_len, "markov: out of memory building %zu contexts", n_ctx);
		sparse_free(&sp);
		strata_markov_release(m);
		return -1;
	}
	return finish(m, &sp, err, err_len);
}

int strata_markov_init_table(struct strata_markov *m, int vocab, int order, const double *P,
                             char *err, size_t err_len)
{
	memset(m, 0, sizeof(*m));
	size_t n_ctx;
	if (check_shape(vocab, order, &n_ctx, err, err_len) != 0)
		return -1;
	for (size_t s = 0; s < n_ctx; s++) {
		double sum = 0.0;
		for (int x = 0; x < vocab; x++) {
			double p = P[s * (size_t)vocab + (size_t)x];
			if (!(p >= 0.0 && p <= 1.0)) {
				snprintf(err, err_len,
				         "markov: table: P[%zu][%d] = %g is not in [0, 1]", s, x,
				         p);
				return -1;
			}
			sum += p;
		}
		if (fabs(sum - 1.0) > TABLE_ROW_TOL) {
			snprintf(err, err_len, "markov: table: row %zu sums to %.17g, not 1", s,
			         sum);
			return -1;
		}
	}
	*m = (struct strata_markov){
	    .vocab = vocab,
	    .order = order,
	    .branch = vocab,
	    .floor_p = 0.0,
	    .n_ctx = n_ctx,
	};
	if (alloc_chain(m, err, err_len) != 0)
		return -1;
	struct sparse sp;
	double *row_p = malloc((size_t)vocab * sizeof(*row_p));
	if (!row_p || sparse_alloc(&sp, n_ctx, vocab, vocab) != 0) {
		free(row_p);
		snprintf(err, err_len, "markov: out of memory building %zu contexts", n_ctx);
		strata_markov_release(m);
		return -1;
	}
	sp.floor_add = 0.0;
	for (size_t s = 0; s < n_ctx; s++) {
		for (int x = 0; x < vocab; x++) {
			sp.succ[s * (size_t)vocab + (size_t)x] = (uint16_t)x;
			sp.q[s * (size_t)vocab + (size_t)x] = P[s * (size_t)vocab + (size_t)x];
		}
		row_finish(&sp, s, m->cdf + s * (size_t)vocab, row_p);
	}
	free(row_p);
	return finish(m, &sp, err, err_len);
}

void strata_markov_release(struct strata_markov *m)
{
	if (!m)
		return;
	free(m->cdf);
	free(m->pi);
	m->cdf = NULL;
	m->pi = NULL;
}

/* ---- loss floor ------------------------------------------------------------------------ */

double strata_markov_loss_floor(const struct strata_markov *m, int T)
{
	if (T < 1 || !m->pi)
		return NAN;
	const int k = m->order;
	/* Positions t < k-1 see only t+1 tokens.  H(X_{t+1} | X_0..X_t) =
	 * H_{t+2} - H_{t+1} (chain rule, Cover & Thomas theorem 2.5.1), H_n the
	 * entropy of n consecutive tokens: for n <= k the marginal of pi over its
	 * last n tokens (stationarity makes every n-window alike). */
	int n_short = k - 1 < T ? k - 1 : T; /* positions t = 0 .. n_short-1 */
	double sum = (double)(T - n_short) * m->entropy_rate;
	if (n_short > 0) {
		size_t V = (size_t)m->vocab, len = m->n_ctx;
		double *a = malloc(len * sizeof(*a));
		if (!a)
			return NAN;
		memcpy(a, m->pi, len * sizeof(*a));
		/* Hn[n] for n = k down to 1: a holds the n-block marginal, indexed
		 * by its n tokens; summing out the oldest token gives n-1, in
		 * place (entry r is only read and written for suffix r). */
		double Hn[k + 1];
		for (int n = k; n >= 1; n--) {
			double H = 0.0;
			for (size_t r = 0; r < len; r++)
				if (a[r] > 0.0)
					H -= a[r] * log(a[r]);
			Hn[n] = H;
			size_t sub = len / V;
			for (size_t r = 0; r < sub; r++) {
				double acc = 0.0;
				for (size_t y = 0; y < V; y++)
					acc += a[y * sub + r];
				a[r] = acc;
			}
			len = sub;
		}
		free(a);
		for (int t = 0; t < n_short; t++)
			sum += Hn[t + 2] - Hn[t + 1];
	}
	return sum / T;
}

/* ---- sampler ----------------------------------------------------------------------------- */

void strata_markov_stream_init(struct strata_markov_stream *s, const struct strata_markov *m,
                               uint64_t seed)
{
	uint64_t x = seed;
	s->m = m;
	s->rng[0] = splitmix64(&x);
	s->rng[1] = splitmix64(&x);
	if (!s->rng[0] && !s->rng[1]) /* the one state xoroshiro cannot leave */
		s->rng[1] = 1;
	/* First context from pi, by inversion on its running sum. */
	double u = unit_double(xoroshiro128p(s->rng)), c = 0.0;
	size_t ctx = m->n_ctx - 1;
	for (size_t i = 0; i < m->n_ctx; i++) {
		c += m->pi[i];
		if (u < c) {
			ctx = i;
			break;
		}
	}
	s->ctx = ctx;
}

void strata_markov_sample(struct strata_markov_stream *s, uint16_t *out, size_t n)
{
	const struct strata_markov *m = s->m;
	const size_t V = (size_t)m->vocab, n_ctx = m->n_ctx;
	size_t ctx = s->ctx;
	uint64_t rng[2] = {s->rng[0], s->rng[1]};
	for (size_t i = 0; i < n; i++) {
		const float *row = m->cdf + ctx * V;
		/* Inversion: the token is the first x with cdf[x] > u, u uniform
		 * in [0, 1) (53 bits, so every float step of the cdf counts);
		 * cdf[V-1] = 1 > u ends the search. */
		double u = unit_double(xoroshiro128p(rng));
		size_t lo = 0, hi = V - 1;
		while (lo < hi) {
			size_t mid = (lo + hi) >> 1;
			if ((double)row[mid] > u)
				hi = mid;
			else
				lo = mid + 1;
		}
		out[i] = (uint16_t)lo;
		ctx = (ctx * V + lo) % n_ctx;
	}
	s->ctx = ctx;
	s->rng[0] = rng[0];
	s->rng[1] = rng[1];
}
