/* stream_cuda.h: STREAM on device memory (membw suite, device cuda), as a
 * plain C API.
 *
 * What it is: BabelStream's five kernels (Copy, Scale, Add, Triad, Dot; Deakin
 * et al., "GPU-STREAM v2.0", PMBS 2016) on three device arrays of doubles,
 * with 16-byte (double2) loads and stores, a grid-stride loop over a grid of
 * SMs x resident blocks per SM (cudaOccupancyMaxActiveBlocksPerMultiprocessor),
 * batches of back-to-back launches timed with CUDA events, and an
 * every-element check on the device.  Values: kernels/gpu/stream_gpu_pattern.h.
 * What it is not: a driver; the current device must be set before create.
 * Only built with the CUDA backend.
 */
#ifndef STRATA_KERNELS_CUDA_STREAM_CUDA_H
#define STRATA_KERNELS_CUDA_STREAM_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Threads per block of every kernel. */
#define STRATA_STREAM_CUDA_THREADS 256

struct strata_stream_cuda; /* opaque */

/* Allocate a, b, c of n doubles each (n even, >= 2), initialise them on the
 * device, size the grid.  Returns 0 or -1 with err. */
int strata_stream_cuda_create(size_t n, struct strata_stream_cuda **out, char *err,
			      size_t err_len);
void strata_stream_cuda_destroy(struct strata_stream_cuda *s);

/* Grid of every kernel: blocks = SMs x blocks_per_sm. */
void strata_stream_cuda_grid(const struct strata_stream_cuda *s, int *blocks, int *threads,
			     int *blocks_per_sm);

/* Launch kernel (enum strata_stream_gpu_kernel) `launches` times back to back
 * between two events; *event_s gets the events' elapsed time.  Returns 0 or
 * -1 with err. */
int strata_stream_cuda_run(struct strata_stream_cuda *s, int kernel, int launches,
			   double *event_s, char *err, size_t err_len);

struct strata_stream_cuda_error {
	int array;        /* 0 a, 1 b, 2 c, 3 the dot product */
	uint64_t index;   /* lowest wrong index */
	double expected, actual;
};

/* Check every element of a, b, c after kernel ran at least once (relative
 * tolerance 1e-13, STREAM's for double), and for dot the last sum against
 * its exact value within gamma_n(2^-53) of it.  Returns the number of wrong
 * elements (the dot counts as one), or -1 with err. */
int64_t strata_stream_cuda_check(struct strata_stream_cuda *s, int kernel,
				 struct strata_stream_cuda_error *first, char *err, size_t err_len);

/* Device launchers of stream_cuda.cu (used by stream_cuda.c): each returns
 * cudaGetLastError() as an int.  a, b, c hold n doubles (n even); the
 * kernels work on n / 2 double2 pairs with `blocks` blocks of
 * STRATA_STREAM_CUDA_THREADS threads in grid-stride loops. */
/* Resident blocks per SM of the kernels (cudaOccupancyMaxActiveBlocksPerMultiprocessor
 * of triad's; every kernel has the same shape). */
int strata_streamk_blocks_per_sm(int *per_sm);
/* a, b, c set to their initial values (stream_gpu_pattern.h). */
int strata_streamk_init(double *a, double *b, double *c, size_t n, int blocks, void *stream);
/* One launch of kernel (enum strata_stream_gpu_kernel); dot writes one
 * partial sum per block into partial. */
int strata_streamk_launch(int kernel, double *a, double *b, double *c, double *partial, size_t n,
			  int blocks, void *stream);
/* Count the wrong elements of a, b, c after kernel into *count and the least
 * index * 4 + array of a wrong one into *first (both device words, set by
 * the caller to 0 and ~0 first). */
int strata_streamk_check(const double *a, const double *b, const double *c, size_t n, int kernel,
			 unsigned long long *count, unsigned long long *first, int blocks,
			 void *stream);

#ifdef __cplusplus
}
#endif

#endif
