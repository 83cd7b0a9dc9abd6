/* loadgen_arrivals.c: what the LoadGen-style driver (loadgen.h) issues and
 * when: the seeded random numbers (SplitMix64), the Server scenario's
 * Poisson arrival times, and the prompt and output lengths of requests
 * (their parsing, mean and draws).  Not the run that issues them
 * (loadgen.c) or the clock it waits on (loadgen_clock.c).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/nn/loadgen_internal.h"

/* ---- random numbers --------------------------------------------------------------- */

/* SplitMix64's output function (Steele, Lea & Flood 2014): Stafford's
 * "Mix13" finaliser over a Weyl sequence of step 0x9E3779B97F4A7C15. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void strata_loadgen_rng_seed(struct strata_loadgen_rng *r, uint64_t seed, uint64_t stream)
{
	r->state = mix64(seed ^ mix64(stream + 0x9E3779B97F4A7C15ULL));
}

uint64_t strata_loadgen_rng_u64(struct strata_loadgen_rng *r)
{
	r->state += 0x9E3779B97F4A7C15ULL;
	return mix64(r->state);
}

double strata_loadgen_rng_uniform(struct strata_loadgen_rng *r)
{
	return (double)(strata_loadgen_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double strata_loadgen_rng_exp1(struct strata_loadgen_rng *r)
{
	return -log1p(-strata_loadgen_rng_uniform(r)); /* 1 - U in (0, 1] */
}

void strata_loadgen_arrivals_init(struct strata_loadgen_arrivals *a, uint64_t seed, double rate_qps)
{
	strata_loadgen_rng_seed(&a->rng, seed, 1);
	a->rate_qps = rate_qps;
	a->next_s = 0;
	a->n = 0;
}

double strata_loadgen_arrivals_next(struct strata_loadgen_arrivals *a)
{
	double t = a->next_s;
	a->next_s += strata_loadgen_rng_exp1(&a->rng) / a->rate_qps;
	a->n++;
	return t;
}

/* ---- request sizes ------------------------------------------------------------- */

#define MAX_LENGTH (1 << 24)

static int parse_int(const char *p, const char **end, int *out)
{
	char *e;
	errno = 0;
	long v = strtol(p, &e, 10);
	if (e == p || errno || v < 1 || v > MAX_LENGTH)
		return -1;
	*out = (int)v;
	*end = e;
	return 0;
}

int strata_loadgen_lengths_parse(const char *text, struct strata_loadgen_lengths *out, char *err,
                                 size_t err_len)
{
	memset(out, 0, sizeof(*out));
	const char *p = text;
	while (*p == ' ')
		p++;
	const char *form = "N, N,N,..., uniform:N,N,... or LO..HI (integers >= 1)";
	if (strncmp(p, "uniform:", 8) == 0) {
		out->kind = STRATA_LOADGEN_LEN_UNIFORM;
		p += 8;
	} else if (strstr(p, "..")) {
		const char *e;
		out->kind = STRATA_LOADGEN_LEN_RANGE;
		if (parse_int(p, &e, &out->lo) != 0 || strncmp(e, "..", 2) != 0 ||
		    parse_int(e + 2, &e, &out->hi) != 0 || *e != '\0' || out->hi < out->lo) {
			strata_loadgen_errorf(err, err_len, "length '%s': expected %s", text, form);
			return -1;
		}
		return 0;
	} else {
		out->kind = STRATA_LOADGEN_LEN_CYCLE;
	}
	for (;;) {
		const char *e;
		int v;
		while (*p == ' ')
			p++;
		if (parse_int(p, &e, &v) != 0) {
			strata_loadgen_errorf(err, err_len, "length '%s': expected %s", text, form);
			return -1;
		}
		if (out->n == STRATA_LOADGEN_MAX_LENGTHS) {
			strata_loadgen_errorf(err, err_len, "length '%s': more than %d values",
			                      text, STRATA_LOADGEN_MAX_LENGTHS);
			return -1;
		}
		out->values[out->n++] = v;
		out->lo = out->n == 1 || v < out->lo ? v : out->lo;
		out->hi = out->n == 1 || v > out->hi ? v : out->hi;
		p = e;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			strata_loadgen_errorf(err, err_len, "length '%s': expected %s", text, form);
			return -1;
		}
		p++;
	}
}

double strata_loadgen_lengths_mean(const struct strata_loadgen_lengths *l)
{
	if (l->kind == STRATA_LOADGEN_LEN_RANGE)
		return 0.5 * ((double)l->lo + (double)l->hi);
	double sum = 0;
	for (int i = 0; i < l->n; i++)
		sum += l->values[i];
	return l->n ? sum / l->n : 0;
}

int strata_loadgen_lengths_draw(const struct strata_loadgen_lengths *l, int64_t index,
                                struct strata_loadgen_rng *rng)
{
	switch (l->kind) {
	case STRATA_LOADGEN_LEN_CYCLE:
		return l->values[index % l->n];
	case STRATA_LOADGEN_LEN_UNIFORM:
		return l->values[strata_loadgen_rng_u64(rng) % (uint64_t)l->n];
	case STRATA_LOADGEN_LEN_RANGE:
		return l->lo + (int)(strata_loadgen_rng_u64(rng) % (uint64_t)(l->hi - l->lo + 1));
	}
	return 1;
}
