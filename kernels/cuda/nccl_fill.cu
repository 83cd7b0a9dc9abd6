/* nccl_fill.cu: device kernels that write the NCCL collectives' inputs and
 * check every output element (rules in nccl_coll.h), and the host copy of
 * the same expected-value rule for messages.  Only kernels and launchers.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/nccl_coll.h"
#include "kernels/gpu/gemm_gpu_input.h" /* strata_gemm_gpu_mix64 */

namespace {

const int kThreads = 256;

__host__ __device__ bool is_reduction(int kind)
{
	return kind == STRATA_NCCL_ALLREDUCE || kind == STRATA_NCCL_REDUCE_SCATTER;
}

__host__ __device__ int elt_bytes(int dtype)
{
	return dtype == STRATA_NCCL_DOUBLE ? 8 : dtype == STRATA_NCCL_FLOAT ? 4 : 2;
}

/* A hashed bit pattern as wide as the element. */
__host__ __device__ uint64_t code(uint64_t key, uint64_t salt, int dtype)
{
	uint64_t h = strata_gemm_gpu_mix64(key ^ salt);
	int bits = 8 * elt_bytes(dtype);
	return bits == 64 ? h : (h & ((1ull << bits) - 1));
}

/* The expected output: a value (reductions) or a bit pattern (copies). */
__host__ __device__ uint64_t expected_code(const strata_nccl_config &cfg, size_t i, uint64_t salt)
{
	const size_t base = cfg.count, n = (size_t)cfg.nranks, r = (size_t)cfg.rank;
	switch (cfg.kind) {
	case STRATA_NCCL_ALLTOALL:
		return code(((i / base) * n + r) * base + i % base, salt, cfg.dtype);
	default: /* allgather: global index; broadcast: index */
		return code(i, salt, cfg.dtype);
	}
}

__host__ __device__ double expected_value(const strata_nccl_config &cfg, size_t i, int mod,
					  const double *table)
{
	size_t g = cfg.kind == STRATA_NCCL_REDUCE_SCATTER ? (size_t)cfg.rank * cfg.count + i : i;
	return table[g % (size_t)mod];
}

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
	switch (elt_bytes(dtype)) {
	case 8: static_cast<uint64_t *>(x)[i] = b; break;
	case 4: static_cast<uint32_t *>(x)[i] = (uint32_t)b; break;
	default: static_cast<uint16_t *>(x)[i] = (uint16_t)b; break;
	}
}

__device__ uint64_t get_bits(const void *x, int dtype, size_t i)
{
	switch (elt_bytes(dtype)) {
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
		if (is_reduction(cfg.kind))
			put_value(out, cfg.dtype, i, -1.0);
		else
			put_bits(out, cfg.dtype, i, ~0ull);
	}
}

__global__ void input_kernel(void *in, strata_nccl_config cfg, int mod, uint64_t salt)
{
	const size_t base = cfg.count, n = (size_t)cfg.nranks, r = (size_t)cfg.rank;
	switch (cfg.kind) {
	case STRATA_NCCL_ALLREDUCE:
	case STRATA_NCCL_REDUCE_SCATTER:
		GRID_STRIDE(g, cfg.send_count)
		put_value(in, cfg.dtype, g, (double)((r + g) % (size_t)mod));
		break;
	case STRATA_NCCL_ALLGATHER: /* own block, at in (out of place) or recv + r*base */
		GRID_STRIDE(k, base)
		put_bits(in, cfg.dtype, k, code(r * base + k, salt, cfg.dtype));
		break;
	case STRATA_NCCL_BROADCAST:
		if ((int)r == cfg.root) {
			GRID_STRIDE(i, cfg.count)
			put_bits(in, cfg.dtype, i, code(i, salt, cfg.dtype));
		}
		break;
	case STRATA_NCCL_ALLTOALL:
		GRID_STRIDE(j, n * base)
		{
			size_t d = j / base, k = j % base;
			put_bits(in, cfg.dtype, j, code((r * n + d) * base + k, salt, cfg.dtype));
		}
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
		bool bad = is_reduction(cfg.kind)
				   ? get_value(out, cfg.dtype, i) != expected_value(cfg, i, mod, table)
				   : get_bits(out, cfg.dtype, i) != expected_code(cfg, i, salt);
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

extern "C" double strata_nccl_expected_host(const struct strata_nccl_config *cfg, size_t i,
					    int mod, const double *table, uint64_t salt)
{
	if (is_reduction(cfg->kind))
		return expected_value(*cfg, i, mod, table);
	return (double)expected_code(*cfg, i, salt);
}
