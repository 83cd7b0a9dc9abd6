/* nccl_fill.cu: device kernels that write the NCCL collectives' inputs and
 * check every output element (rules in nccl_coll.h, code in nccl_pattern.h,
 * whose host side nccl_coll.c uses for messages).  Only kernels and launchers.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/nccl_coll.h"
#include "kernels/cuda/nccl_pattern.h" /* the rules, shared with the host */

namespace {

const int kThreads = 256;

__device__ void put_value(void *x, int dtype, size_t i, double v)
{
	switch (dtype) {
	case STRATA_NCCL_FLOAT: static_cast<float *>(x)[i] = (float)v; break;
	case STRATA_NCCL_DOUBLE: static_cast<double *>(x)[i] = v; break;
	case STRATA_NCCL_BFLOAT16: static_cast<__nv_bfloat16 *>(x)[i] = __double2bfloat16(v); break;
	case STRATA_NCCL_HALF: static_cast<__half *>(x)[i] = __double2half(v); break;
	}
}

__device__ double get_value(const void *x, int dtype, size_t i)
{
	switch (dtype) {
	case STRATA_NCCL_FLOAT: return static_cast<const float *>(x)[i];
	case STRATA_NCCL_DOUBLE: return static_cast<const double *>(x)[i];
	case STRATA_NCCL_BFLOAT16:
		return __bfloat162float(static_cast<const __nv_bfloat16 *>(x)[i]);
	default: return __half2float(static_cast<const __half *>(x)[i]);
	}
}

__device__ void put_bits(void *x, int dtype, size_t i, uint64_t b)
{
	switch (strata_nccl_elt_bytes(dtype)) {
	case 8: static_cast<uint64_t *>(x)[i] = b; break;
	case 4: static_cast<uint32_t *>(x)[i] = (uint32_t)b; break;
	default: static_cast<uint16_t *>(x)[i] = (uint16_t)b; break;
	}
}

__device__ uint64_t get_bits(const void *x, int dtype, size_t i)
{
	switch (strata_nccl_elt_bytes(dtype)) {
	case 8: return static_cast<const uint64_t *>(x)[i];
	case 4: return static_cast<const uint32_t *>(x)[i];
	default: return static_cast<const uint16_t *>(x)[i];
	}
}

#define GRID_STRIDE(i, n)                                                                \
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);          \
	     i += (size_t)gridDim.x * blockDim.x)

/* Every output element to the sentinel: -1 (reductions; no sum is negative)
 * or all ones (copies). */
__global__ void sentinel_kernel(void *out, size_t n, strata_nccl_config cfg)
{
	GRID_STRIDE(i, n)
	{
		if (strata_nccl_is_reduction(cfg.kind))
			put_value(out, cfg.dtype, i, -1.0);
		else
			put_bits(out, cfg.dtype, i, ~0ull);
	}
}

__global__ void input_kernel(void *in, strata_nccl_config cfg, int mod, uint64_t salt)
{
	switch (cfg.kind) {
	case STRATA_NCCL_ALLREDUCE:
	case STRATA_NCCL_REDUCE_SCATTER:
		GRID_STRIDE(g, cfg.send_count)
		put_value(in, cfg.dtype, g, strata_nccl_input_value(&cfg, g, mod));
		break;
	case STRATA_NCCL_ALLGATHER: /* own block, at in (out of place) or recv + r*base */
		GRID_STRIDE(k, cfg.count)
		put_bits(in, cfg.dtype, k, strata_nccl_input_code(&cfg, k, salt));
		break;
	case STRATA_NCCL_BROADCAST:
		if (cfg.rank == cfg.root) {
			GRID_STRIDE(i, cfg.count)
			put_bits(in, cfg.dtype, i, strata_nccl_input_code(&cfg, i, salt));
		}
		break;
	case STRATA_NCCL_ALLTOALL:
		GRID_STRIDE(j, cfg.send_count)
		put_bits(in, cfg.dtype, j, strata_nccl_input_code(&cfg, j, salt));
		break;
	}
}

__global__ void check_kernel(const void *out, size_t n_out, strata_nccl_config cfg, int mod,
			     const double *table, uint64_t salt, unsigned long long *count,
			     unsigned long long *first)
{
	unsigned long long mine = 0;
	GRID_STRIDE(i, n_out)
	{
		bool bad = strata_nccl_is_reduction(cfg.kind)
				   ? get_value(out, cfg.dtype, i) !=
					     strata_nccl_expected_value(&cfg, i, mod, table)
				   : get_bits(out, cfg.dtype, i) != strata_nccl_expected_code(&cfg, i, salt);
		if (bad) {
			mine++;
			atomicMin(first, (unsigned long long)i);
		}
	}
	if (mine)
		atomicAdd(count, mine);
}

int blocks_for(size_t n)
{
	size_t b = (n + kThreads - 1) / kThreads;
	return (int)(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

} // namespace

extern "C" int strata_nccl_fill(void *in, void *out_region, const struct strata_nccl_config *cfg,
				size_t out_n, int mod, uint64_t salt, void *stream)
{
	cudaStream_t s = static_cast<cudaStream_t>(stream);
	sentinel_kernel<<<blocks_for(out_n), kThreads, 0, s>>>(out_region, out_n, *cfg);
	cudaError_t e = cudaGetLastError();
	if (e != cudaSuccess)
		return (int)e;
	input_kernel<<<blocks_for(cfg->send_count > cfg->count ? cfg->send_count : cfg->count),
		       kThreads, 0, s>>>(in, *cfg, mod, salt);
	return (int)cudaGetLastError();
}

extern "C" int strata_nccl_check(const void *out, size_t out_n,
				 const struct strata_nccl_config *cfg, int mod,
				 const double *d_table, uint64_t salt, unsigned long long *d_count,
				 unsigned long long *d_first, void *stream)
{
	check_kernel<<<blocks_for(out_n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
		out, out_n, *cfg, mod, d_table, salt, d_count, d_first);
	return (int)cudaGetLastError();
}
