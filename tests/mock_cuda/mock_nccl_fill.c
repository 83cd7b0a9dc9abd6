/* mock_nccl_fill.c: C copies of kernels/cuda/nccl_fill.cu's launchers
 * (strata_nccl_fill, strata_nccl_check) for the host stand-in, so that
 * kernels/cuda/nccl_coll.c and suites/coll_gpu.c run unchanged.
 *
 * What it is: the same loops as the kernels, one host thread, on "device"
 * buffers that are host memory, over the same rules (kernels/cuda/
 * nccl_pattern.h, which nvcc compiles into the kernels).  Elements are
 * converted as the CUDA intrinsics do: __double2half/__double2bfloat16 round
 * to nearest even (mock_nccl.c's helpers), __half2float/__bfloat162float are
 * exact.  What it is not: a test of the kernels' grid-stride indexing or of
 * their atomics (a GPU run checks those).
 */
#include <stdint.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/nccl_coll.h"
#include "kernels/cuda/nccl_pattern.h"
#include "kernels/gpu/gemm_gpu.h" /* strata_half_to_double, strata_bf16_to_double */

/* mock_nccl.c: float to IEEE half / bfloat16, round to nearest even. */
uint16_t mock_nccl_half_from_float(float f);
uint16_t mock_nccl_bf16_from_float(float f);

static void put_value(void *x, int dtype, size_t i, double v)
{
	switch (dtype) {
	case STRATA_NCCL_FLOAT: ((float *)x)[i] = (float)v; break;
	case STRATA_NCCL_DOUBLE: ((double *)x)[i] = v; break;
	/* Via float: exact for the pattern's small integers and the -1 sentinel. */
	case STRATA_NCCL_BFLOAT16: ((uint16_t *)x)[i] = mock_nccl_bf16_from_float((float)v); break;
	case STRATA_NCCL_HALF: ((uint16_t *)x)[i] = mock_nccl_half_from_float((float)v); break;
	}
}

static double get_value(const void *x, int dtype, size_t i)
{
	switch (dtype) {
	case STRATA_NCCL_FLOAT: return ((const float *)x)[i];
	case STRATA_NCCL_DOUBLE: return ((const double *)x)[i];
	case STRATA_NCCL_BFLOAT16: return strata_bf16_to_double(((const uint16_t *)x)[i]);
	default: return strata_half_to_double(((const uint16_t *)x)[i]);
	}
}

static void put_bits(void *x, int dtype, size_t i, uint64_t b)
{
	switch (strata_nccl_elt_bytes(dtype)) {
	case 8: ((uint64_t *)x)[i] = b; break;
	case 4: ((uint32_t *)x)[i] = (uint32_t)b; break;
	default: ((uint16_t *)x)[i] = (uint16_t)b; break;
	}
}

static uint64_t get_bits(const void *x, int dtype, size_t i)
{
	switch (strata_nccl_elt_bytes(dtype)) {
	case 8: return ((const uint64_t *)x)[i];
	case 4: return ((const uint32_t *)x)[i];
	default: return ((const uint16_t *)x)[i];
	}
}

int strata_nccl_fill(void *in, void *out_region, const struct strata_nccl_config *cfg,
		     size_t out_n, int mod, uint64_t salt, void *stream)
{
	(void)stream;
	/* sentinel_kernel */
	for (size_t i = 0; i < out_n; i++) {
		if (strata_nccl_is_reduction(cfg->kind))
			put_value(out_region, cfg->dtype, i, -1.0);
		else
			put_bits(out_region, cfg->dtype, i, ~0ull);
	}
	/* input_kernel */
	switch (cfg->kind) {
	case STRATA_NCCL_ALLREDUCE:
	case STRATA_NCCL_REDUCE_SCATTER:
		for (size_t g = 0; g < cfg->send_count; g++)
			put_value(in, cfg->dtype, g, strata_nccl_input_value(cfg, g, mod));
		break;
	case STRATA_NCCL_ALLGATHER:
		for (size_t k = 0; k < cfg->count; k++)
			put_bits(in, cfg->dtype, k, strata_nccl_input_code(cfg, k, salt));
		break;
	case STRATA_NCCL_BROADCAST:
		if (cfg->rank == cfg->root)
			for (size_t i = 0; i < cfg->count; i++)
				put_bits(in, cfg->dtype, i, strata_nccl_input_code(cfg, i, salt));
		break;
	case STRATA_NCCL_ALLTOALL:
		for (size_t j = 0; j < cfg->send_count; j++)
			put_bits(in, cfg->dtype, j, strata_nccl_input_code(cfg, j, salt));
		break;
	}
	return cudaSuccess;
}

int strata_nccl_check(const void *out, size_t out_n, const struct strata_nccl_config *cfg,
		      int mod, const double *d_table, uint64_t salt, unsigned long long *d_count,
		      unsigned long long *d_first, void *stream)
{
	(void)stream;
	for (size_t i = 0; i < out_n; i++) {
		int bad = strata_nccl_is_reduction(cfg->kind)
				  ? get_value(out, cfg->dtype, i) !=
					    strata_nccl_expected_value(cfg, i, mod, d_table)
				  : get_bits(out, cfg->dtype, i) != strata_nccl_expected_code(cfg, i, salt);
		if (bad) {
			++*d_count; /* atomicAdd */
			if (i < *d_first) /* atomicMin */
				*d_first = i;
		}
	}
	return cudaSuccess;
}
