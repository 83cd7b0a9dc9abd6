/* train_cuda_kernels.cu: the sum of squares behind the training suite's
 * gradient-norm clipping (train_cuda.h's l2norm), deterministic.
 *
 * What it is: two kernels with a fixed shape whatever the GPU:
 * STRATA_TRAINK_SUMSQ_BLOCKS blocks of STRATA_TRAINK_SUMSQ_THREADS threads
 * each add x[i]^2 in double over a grid-stride loop (thread j of block b
 * takes i = b*THREADS + j, then + BLOCKS*THREADS, ...), reduce their block
 * in shared memory as a fixed tree, and write one partial sum; one block of
 * BLOCKS threads then adds the partials as a fixed tree.  No atomics, so the
 * same input gives the same bits on every rank (the ranks' clipping, hence
 * their weights, stay identical).  Double accumulation: 124M squares in
 * FP32 would lose about log2(124M) bits of the sum.  What it is not: fast
 * beyond memory bandwidth (one read of the gradient, about 0.2 ms for GPT-2
 * 124M on an H100), or a general reduction.
 */
#include <cuda_runtime.h>

#include "kernels/cuda/train_cuda.h"

namespace {

template <int THREADS>
__device__ double block_tree_sum(double v, double *buf)
{
	buf[threadIdx.x] = v;
	__syncthreads();
	for (int s = THREADS / 2; s > 0; s >>= 1) {
		if ((int)threadIdx.x < s)
			buf[threadIdx.x] += buf[threadIdx.x + s];
		__syncthreads();
	}
	return buf[0];
}

__global__ void sumsq_partial_kernel(const float *x, size_t n, double *partial)
{
	__shared__ double buf[STRATA_TRAINK_SUMSQ_THREADS];
	double acc = 0.0;
	const size_t stride = (size_t)STRATA_TRAINK_SUMSQ_BLOCKS * STRATA_TRAINK_SUMSQ_THREADS;
	for (size_t i = (size_t)blockIdx.x * STRATA_TRAINK_SUMSQ_THREADS + threadIdx.x; i < n;
	     i += stride) {
		const double v = (double)x[i];
		acc += v * v;
	}
	const double sum = block_tree_sum<STRATA_TRAINK_SUMSQ_THREADS>(acc, buf);
	if (threadIdx.x == 0)
		partial[blockIdx.x] = sum;
}

__global__ void sum_partials_kernel(const double *partial, double *out)
{
	__shared__ double buf[STRATA_TRAINK_SUMSQ_BLOCKS];
	const double sum = block_tree_sum<STRATA_TRAINK_SUMSQ_BLOCKS>(partial[threadIdx.x], buf);
	if (threadIdx.x == 0)
		out[0] = sum;
}

} // namespace

extern "C" int strata_traink_sumsq(const float *x, size_t n, double *partial, double *out,
				   void *stream)
{
	cudaStream_t st = (cudaStream_t)stream;
	sumsq_partial_kernel<<<STRATA_TRAINK_SUMSQ_BLOCKS, STRATA_TRAINK_SUMSQ_THREADS, 0, st>>>(
		x, n, partial);
	cudaError_t e = cudaGetLastError();
	if (e != cudaSuccess)
		return (int)e;
	sum_partials_kernel<<<1, STRATA_TRAINK_SUMSQ_BLOCKS, 0, st>>>(partial, out);
	return (int)cudaGetLastError();
}
