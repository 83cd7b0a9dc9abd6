/* copy_cuda.h: copy-engine bandwidth between host and device memory (membw
 * suite, device cuda, kernels h2d/d2h/d2d/bidir), as a plain C API.
 *
 * What it is: after nvbandwidth's copy-engine tests (NVIDIA/nvbandwidth,
 * host_to_device_memcpy_ce, device_to_host_memcpy_ce,
 * host_device_bidirectional_memcpy_ce, device_local_copy): cudaMemcpyAsync of
 * one buffer, repeated back to back between two CUDA events; host memory
 * pinned (NUMA-bound with hwloc, then cudaHostRegister) or pageable; every
 * byte of the destination compared with the source pattern afterwards.
 * Bytes are counted as nvbandwidth counts them: the buffer size per copy
 * (bidir: both directions, 2x); a device-to-device copy reads and writes
 * each byte but counts it once.  What it is not: a kernel-driven copy or a
 * peer-to-peer test.  The current device must be set before create.  Only
 * built with the CUDA backend.
 */
#ifndef STRATA_KERNELS_CUDA_COPY_CUDA_H
#define STRATA_KERNELS_CUDA_COPY_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum strata_copy_dir {
	STRATA_COPY_H2D = 0, /* host -> device */
	STRATA_COPY_D2H,     /* device -> host */
	STRATA_COPY_D2D,     /* device -> the same device */
	STRATA_COPY_BIDIR,   /* h2d and d2h at once, on two streams */
};

struct strata_copy_cuda_config {
	enum strata_copy_dir dir;
	size_t bytes;   /* per copy, rounded down to 8 bytes */
	int pinned;     /* 1: page-locked (cudaHostRegister); 0: pageable */
	int numa;       /* host memory bound to this NUMA node (os index); -1: unbound */
};

struct strata_copy_cuda; /* opaque */

/* Allocate and fill.  Returns 0, 1 (skip: the NUMA node does not exist; err
 * says so) or -1 with err. */
int strata_copy_cuda_create(const struct strata_copy_cuda_config *cfg,
			    struct strata_copy_cuda **out, char *err, size_t err_len);
void strata_copy_cuda_destroy(struct strata_copy_cuda *c);

/* `launches` copies (bidir: pairs) back to back between two events.
 * Returns 0 or -1 with err. */
int strata_copy_cuda_run(struct strata_copy_cuda *c, int launches, double *event_s, char *err,
			 size_t err_len);

/* Bytes counted per launch (see the top of this file). */
size_t strata_copy_cuda_bytes_per_launch(const struct strata_copy_cuda *c);

struct strata_copy_cuda_error {
	const char *buffer;  /* "host destination" or "device destination"; NULL: none */
	int64_t word;        /* its lowest wrong 8-byte word; -1: none */
	uint64_t expected, actual;
};

/* Compare every destination word with the pattern (bidir: the host
 * destination, then the device one).  Returns the number of wrong 8-byte
 * words (*first the lowest of the first buffer with any), or -1 with err. */
int64_t strata_copy_cuda_check(struct strata_copy_cuda *c, struct strata_copy_cuda_error *first,
			       char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
