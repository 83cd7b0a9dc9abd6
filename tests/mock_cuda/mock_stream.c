/* mock_stream.c: C copies of kernels/cuda/stream_cuda.cu's launchers
 * (strata_streamk_*, every one: the archive member would otherwise be pulled
 * in and collide), for strata_mock_cuda, so that stream_cuda.c's host code
 * (grid, batches, events, the check and the dot's sum) runs unchanged.
 *
 * What it is: the kernels' arithmetic on "device" memory that is host memory
 * (mock_cuda.c's cudaMalloc, NaN-filled): arrays initialised from
 * kernels/gpu/stream_gpu_pattern.h, the five kernels on double pairs, dot's
 * per-block partial sums as the grid-stride loop assigns pairs to blocks,
 * the every-element check (count, least index * 4 + array).  The occupancy
 * is that of a 256-thread block with no limit but threads per SM.  Fault
 * injection (tests only):
 *   MOCK_STREAM_CORRUPT=1  after every launch, the element n/2 + 1 of the
 *                          array the kernel writes (dot: a, its input) is
 *                          made wrong by +1, so the check must name it.
 *   MOCK_STREAM_CORRUPT=2  dot only: block 0's partial sum is doubled, the
 *                          arrays stay right, so only the dot is wrong.
 * What it is not: a model of a GPU's speed, or of its summation order within
 * a block.
 */
#include <stdlib.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/stream_cuda.h"
#include "kernels/gpu/stream_gpu_pattern.h"

static const int threads = STRATA_STREAM_CUDA_THREADS;

int strata_streamk_blocks_per_sm(int *per_sm)
{
	int dev = 0, per_sm_threads = 0;
	cudaError_t e = cudaGetDevice(&dev);
	if (e == cudaSuccess)
		e = cudaDeviceGetAttribute(&per_sm_threads, cudaDevAttrMaxThreadsPerMultiProcessor,
					   dev);
	*per_sm = per_sm_threads / threads;
	return (int)e;
}

int strata_streamk_init(double *a, double *b, double *c, size_t n, int blocks, void *stream)
{
	(void)blocks;
	(void)stream;
	for (size_t j = 0; j < n; j++) {
		a[j] = strata_stream_gpu_initial(0, j);
		b[j] = strata_stream_gpu_initial(1, j);
		c[j] = strata_stream_gpu_initial(2, j);
	}
	return (int)cudaSuccess;
}

int strata_streamk_launch(int kernel, double *restrict a, double *restrict b, double *restrict c,
			  double *partial, size_t n, int blocks, void *stream)
{
	(void)stream;
	const double q = STRATA_STREAM_GPU_SCALAR;
	switch (kernel) {
	case STRATA_STREAM_GPU_COPY:
		for (size_t j = 0; j < n; j++)
			c[j] = a[j];
		break;
	case STRATA_STREAM_GPU_SCALE:
		for (size_t j = 0; j < n; j++)
			b[j] = q * c[j];
		break;
	case STRATA_STREAM_GPU_ADD:
		for (size_t j = 0; j < n; j++)
			c[j] = a[j] + b[j];
		break;
	case STRATA_STREAM_GPU_TRIAD:
		for (size_t j = 0; j < n; j++)
			a[j] = b[j] + q * c[j];
		break;
	case STRATA_STREAM_GPU_DOT: {
		/* Pair j2 goes to thread j2 mod (blocks x threads), hence to
		 * block (j2 / threads) mod blocks. */
		const size_t stride = (size_t)blocks * (size_t)threads;
		for (int i = 0; i < blocks; i++)
			partial[i] = 0;
		for (size_t j2 = 0; j2 < n / 2; j2++)
			partial[(j2 % stride) / (size_t)threads] +=
				a[2 * j2] * b[2 * j2] + a[2 * j2 + 1] * b[2 * j2 + 1];
		break;
	}
	default:
		return (int)cudaErrorInvalidValue;
	}
	const char *fault = getenv("MOCK_STREAM_CORRUPT");
	if (fault && atoi(fault) == 2 && kernel == STRATA_STREAM_GPU_DOT)
		partial[0] *= 2; /* > 0: block 0 always holds pair 0 */
	if (fault && atoi(fault) == 1) {
		double *out = kernel == STRATA_STREAM_GPU_SCALE ? b
			      : kernel == STRATA_STREAM_GPU_COPY || kernel == STRATA_STREAM_GPU_ADD
				      ? c
				      : a;
		out[n / 2 + 1] = strata_stream_gpu_expected(kernel, out == a ? 0 : out == b ? 1 : 2,
							    n / 2 + 1) + 1;
	}
	return (int)cudaSuccess;
}

int strata_streamk_check(const double *a, const double *b, const double *c, size_t n, int kernel,
			 unsigned long long *count, unsigned long long *first, int blocks,
			 void *stream)
{
	(void)blocks;
	(void)stream;
	const double *arr[3] = { a, b, c };
	for (size_t j = 0; j < n; j++) {
		for (int k = 0; k < 3; k++) {
			if (strata_stream_gpu_element_ok(arr[k][j],
							 strata_stream_gpu_expected(kernel, k, j)))
				continue;
			++*count;
			if ((unsigned long long)j * 4 + (unsigned long long)k < *first)
				*first = (unsigned long long)j * 4 + (unsigned long long)k;
		}
	}
	return (int)cudaSuccess;
}
