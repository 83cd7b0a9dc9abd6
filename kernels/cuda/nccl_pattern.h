/* nccl_pattern.h: the NCCL collectives' check pattern (the rules in
 * nccl_coll.h), compiled twice: by nvcc into nccl_fill.cu's fill and check
 * kernels and by the C compiler into nccl_coll.c's host copy of the expected
 * value (for messages), so the two can never disagree.  That is why these
 * few functions have bodies in a header (as kernels/gpu/gemm_gpu_input.h).
 *
 * Indices: j an element of a rank's input, i an element of its output; base
 * is cfg->count (allgather, reduce_scatter, alltoall: the per-rank block),
 * n the ranks, r this rank, M the reduction modulus.
 */
#ifndef STRATA_KERNELS_CUDA_NCCL_PATTERN_H
#define STRATA_KERNELS_CUDA_NCCL_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda/nccl_coll.h"
#include "kernels/gpu/gemm_gpu_input.h" /* STRATA_HD, strata_gemm_gpu_mix64 */

static inline STRATA_HD int strata_nccl_is_reduction(int kind)
{
	return kind == STRATA_NCCL_ALLREDUCE || kind == STRATA_NCCL_REDUCE_SCATTER;
}

static inline STRATA_HD int strata_nccl_elt_bytes(int dtype)
{
	return dtype == STRATA_NCCL_DOUBLE ? 8 : dtype == STRATA_NCCL_FLOAT ? 4 : 2;
}

/* A hashed bit pattern as wide as the element. */
static inline STRATA_HD uint64_t strata_nccl_code(uint64_t key, uint64_t salt, int dtype)
{
	uint64_t h = strata_gemm_gpu_mix64(key ^ salt);
	int bits = 8 * strata_nccl_elt_bytes(dtype);
	return bits == 64 ? h : (h & ((1ull << bits) - 1));
}

/* Reductions: input element g of rank r is (r + g) mod M. */
static inline STRATA_HD double strata_nccl_input_value(const struct strata_nccl_config *cfg,
						       size_t g, int mod)
{
	return (double)(((size_t)cfg->rank + g) % (size_t)mod);
}

/* Copies: input element j of rank r (allgather: its block, j < base;
 * broadcast: the root's buffer; alltoall: block d = j / base goes to rank d). */
static inline STRATA_HD uint64_t strata_nccl_input_code(const struct strata_nccl_config *cfg,
							size_t j, uint64_t salt)
{
	const size_t base = cfg->count, n = (size_t)cfg->nranks, r = (size_t)cfg->rank;
	switch (cfg->kind) {
	case STRATA_NCCL_ALLGATHER:
		return strata_nccl_code(r * base + j, salt, cfg->dtype);
	case STRATA_NCCL_ALLTOALL:
		return strata_nccl_code((r * n + j / base) * base + j % base, salt, cfg->dtype);
	default: /* broadcast */
		return strata_nccl_code(j, salt, cfg->dtype);
	}
}

/* Copies: the bit pattern output element i must hold. */
static inline STRATA_HD uint64_t strata_nccl_expected_code(const struct strata_nccl_config *cfg,
							   size_t i, uint64_t salt)
{
	const size_t base = cfg->count, n = (size_t)cfg->nranks, r = (size_t)cfg->rank;
	switch (cfg->kind) {
	case STRATA_NCCL_ALLTOALL: /* block s came from rank s, its block r */
		return strata_nccl_code(((i / base) * n + r) * base + i % base, salt, cfg->dtype);
	default: /* allgather: global index; broadcast: index */
		return strata_nccl_code(i, salt, cfg->dtype);
	}
}

/* Reductions: the sum output element i must hold (table: nccl_coll.h). */
static inline STRATA_HD double strata_nccl_expected_value(const struct strata_nccl_config *cfg,
							  size_t i, int mod, const double *table)
{
	size_t g = cfg->kind == STRATA_NCCL_REDUCE_SCATTER ? (size_t)cfg->rank * cfg->count + i : i;
	return table[g % (size_t)mod];
}

#endif
