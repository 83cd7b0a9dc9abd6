/* nccl_coll.h: NCCL collectives on device buffers (the collective suites with
 * device cuda), as a plain C API with no MPI and no CUDA types.
 *
 * What it is: a communicator from a unique id (the suite broadcasts the id
 * over MPI), and one configured collective: device send/receive buffers
 * sized by nccl-tests' counts (the suite computes them with
 * strata_coll_counts_get), inputs written on the device so that every output
 * element has one known value, batches of back-to-back calls on one stream,
 * and an every-element check on the device.  The calls: ncclAllReduce (sum),
 * ncclAllGather, ncclReduceScatter (sum), ncclBroadcast (in place, one buffer,
 * as MPI_Bcast), and all-to-all as grouped ncclSend/ncclRecv to every peer
 * (nccl-tests src/alltoall.cu).  What it is not: a timer or an MPI user.
 * Only built with the CUDA backend and NCCL (STRATA_HAVE_NCCL).
 *
 * Inputs (g is an element's index in the rank's whole send array, base the
 * per-rank block, M the reduction modulus):
 *   allreduce, reduce_scatter: in(r, g) = (r + g) mod M; out = sum over ranks,
 *     an integer below (M-1) n, exact in the type: M = min(251, L/n + 1) where
 *     L is the largest integer range the type holds exactly (float 2^24,
 *     double 2^53, bf16 2^8, half 2^11).
 *   allgather, broadcast, alltoall: pure copies; every element is a hashed
 *     bit pattern of its global position, compared bit for bit.
 */
#ifndef STRATA_KERNELS_CUDA_NCCL_COLL_H
#define STRATA_KERNELS_CUDA_NCCL_COLL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_NCCL_UNIQUE_ID_BYTES 128 /* NCCL_UNIQUE_ID_BYTES */

/* Kinds: the values of enum strata_coll_kind (kernels/cpu/mpi_coll.h). */
enum strata_nccl_kind {
	STRATA_NCCL_ALLREDUCE = 0,
	STRATA_NCCL_ALLGATHER,
	STRATA_NCCL_REDUCE_SCATTER,
	STRATA_NCCL_BROADCAST,
	STRATA_NCCL_ALLTOALL,
};

enum strata_nccl_dtype {
	STRATA_NCCL_FLOAT = 0, /* ncclFloat32 */
	STRATA_NCCL_DOUBLE,    /* ncclFloat64 */
	STRATA_NCCL_BFLOAT16,  /* ncclBfloat16 */
	STRATA_NCCL_HALF,      /* ncclFloat16 */
};

/* Bytes per element; the largest L such that every integer 0..L is exact in
 * the type; and the reduction modulus for n ranks (0 when n > L: sums of the
 * pattern would not be exact). */
size_t strata_nccl_dtype_bytes(enum strata_nccl_dtype t);
double strata_nccl_exact_limit(enum strata_nccl_dtype t);
int strata_nccl_red_mod(enum strata_nccl_dtype t, int nranks);
/* table[t] = sum over r < nranks of (r + t) mod m, t < m. */
void strata_nccl_red_table(double *table, int m, int nranks);

/* NCCL's version (ncclGetVersion), 0 when unavailable. */
int strata_nccl_version(void);

struct strata_nccl_comm; /* opaque: ncclComm_t */
int strata_nccl_unique_id(unsigned char id[STRATA_NCCL_UNIQUE_ID_BYTES], char *err,
			  size_t err_len);
/* ncclCommInitRank on the current device: collective over the nranks ranks
 * that hold the same id. */
int strata_nccl_comm_init(struct strata_nccl_comm **out,
			  const unsigned char id[STRATA_NCCL_UNIQUE_ID_BYTES], int nranks, int rank,
			  char *err, size_t err_len);
void strata_nccl_comm_destroy(struct strata_nccl_comm *c);
/* The ncclComm_t inside c, as a void * (for kernels/cuda code that makes its
 * own NCCL calls: train_cuda.c). */
void *strata_nccl_comm_handle(struct strata_nccl_comm *c);

struct strata_nccl_config {
	enum strata_nccl_kind kind;
	enum strata_nccl_dtype dtype;
	size_t count;      /* the count argument (nccl-tests' "count") */
	size_t send_count; /* elements in the send buffer */
	size_t recv_count; /* elements in the receive buffer */
	int inplace;
	int root;          /* broadcast */
	int rank, nranks;
};

struct strata_nccl_coll; /* opaque */

/* Allocate and fill.  Returns 0, 1 (skip: this combination cannot be
 * checked exactly or is not supported; err says why) or -1 with err. */
int strata_nccl_coll_create(const struct strata_nccl_config *cfg, struct strata_nccl_comm *comm,
			    struct strata_nccl_coll **out, char *err, size_t err_len);
void strata_nccl_coll_destroy(struct strata_nccl_coll *c);
/* Device bytes the buffers take. */
size_t strata_nccl_coll_bytes(const struct strata_nccl_coll *c);

/* `launches` collectives back to back on the collective's stream, then
 * cudaStreamSynchronize (as nccl-tests times); *event_s gets the CUDA-event
 * time of the batch as a cross-check.  Collective.  Returns 0 or -1 with err
 * (including NCCL's asynchronous errors). */
int strata_nccl_coll_run(struct strata_nccl_coll *c, int launches, double *event_s, char *err,
			 size_t err_len);

/* The check after the timed runs: when repeating the call leaves the output a
 * function of the inputs (out of place; in-place allgather; broadcast) the
 * output is checked as it is; otherwise the inputs are refilled and one more
 * collective runs first (as nccl-tests).  Collective.  Returns the wrong
 * elements on this rank (first index, expected and actual in *first_*), or
 * -1 with err. */
int64_t strata_nccl_coll_verify(struct strata_nccl_coll *c, int64_t *first_index,
				double *first_expected, double *first_actual, char *err,
				size_t err_len);
/* Whether verify re-runs (for describe). */
int strata_nccl_coll_verify_reruns(const struct strata_nccl_coll *c);

/* Device launchers (nccl_fill.cu). */
int strata_nccl_fill(void *in, void *out_region, const struct strata_nccl_config *cfg,
		     size_t out_n, int mod, uint64_t salt, void *stream);
int strata_nccl_check(const void *out, size_t out_n, const struct strata_nccl_config *cfg,
		      int mod, const double *d_table, uint64_t salt, unsigned long long *d_count,
		      unsigned long long *d_first, void *stream);
/* The expected value of output element i (the host side of nccl_pattern.h's
 * rule, in nccl_coll.c), as a double for messages (copy collectives: the bit
 * pattern as an integer). */
double strata_nccl_expected_host(const struct strata_nccl_config *cfg, size_t i, int mod,
				 const double *table, uint64_t salt);

#ifdef __cplusplus
}
#endif

#endif
