/* mock_train.c: what the train suite's cuda path needs beyond mock_cuda.c,
 * mock_device.c and mock_nccl.c (NCCL's communicator and all-reduce over
 * MPI) to run on a machine without a GPU: a C copy of train_cuda_kernels.cu's
 * sum of squares.
 *
 * What it is: linked with harness/main.c, the other mock_*.c and strata_core into
 * strata_mock_cuda (tests/CMakeLists.txt); definitions here and in
 * the other mock_*.c take the place of the CUDA and NCCL libraries' (which are still
 * linked, for the backends this test never runs).  The binary runs `strata
 * run` with device cuda for real: suites/train_gpu.c, kernels/cuda/
 * gpt_cuda.c and train_cuda.c unchanged, on "device" buffers in host memory.
 * ncclAllReduce (mock_nccl.c) sums over MPI on a communicator of 1 rank or
 * of every rank: enough for `ranks: 1` and `ranks: 0` cases.
 * MOCK_CUDA_DEVICES (mock_device.c) sets the devices each process sees.
 * What it is not: a test of concurrency between the model's and the
 * communication streams (here everything runs in enqueue order), of the CUDA
 * kernels, or of NCCL.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/train_cuda.h"

/* ---- train_cuda_kernels.cu ------------------------------------------------- */

/* The same order as the GPU: thread j of block b adds the squares of
 * elements b*THREADS + j + k*BLOCKS*THREADS, then both tree reductions. */
static double tree(double *v, int n)
{
	for (int s = n / 2; s > 0; s >>= 1)
		for (int i = 0; i < s; i++)
			v[i] += v[i + s];
	return v[0];
}
int strata_traink_sumsq(const float *x, size_t n, double *partial, double *out, void *stream)
{
	(void)stream;
	const size_t B = STRATA_TRAINK_SUMSQ_BLOCKS, TH = STRATA_TRAINK_SUMSQ_THREADS;
	double acc[STRATA_TRAINK_SUMSQ_THREADS];
	for (size_t b = 0; b < B; b++) {
		for (size_t j = 0; j < TH; j++) {
			acc[j] = 0.0;
			for (size_t i = b * TH + j; i < n; i += B * TH)
				acc[j] += (double)x[i] * (double)x[i];
		}
		partial[b] = tree(acc, (int)TH);
	}
	out[0] = tree(partial, (int)B);
	return 0;
}
