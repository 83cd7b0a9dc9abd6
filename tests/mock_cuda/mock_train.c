/* mock_train.c: what the train suite's cuda path needs beyond mock_cuda.c
 * and mock_device.c to run on a machine without a GPU: a C copy of
 * train_cuda_kernels.cu's sum of squares, and NCCL's communicator and
 * all-reduce over MPI.
 *
 * What it is: linked with harness/main.c, the other mock_*.c and strata_core into
 * strata_mock_cuda (tests/CMakeLists.txt); definitions here and in
 * the other mock_*.c take the place of the CUDA and NCCL libraries' (which are still
 * linked, for the backends this test never runs).  The binary runs `strata
 * run` with device cuda for real: suites/train_gpu.c, kernels/cuda/
 * gpt_cuda.c and train_cuda.c unchanged, on "device" buffers in host memory.
 * ncclAllReduce is MPI_Allreduce (FP32 sum, in place or not) over a
 * communicator of 1 rank (MPI_COMM_SELF) or of every rank of the run
 * (MPI_COMM_WORLD, ordered by the NCCL rank): enough for `ranks: 1` and
 * `ranks: 0` cases.  MOCK_CUDA_DEVICES (mock_device.c) sets the devices each
 * process sees.
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
#include <mpi.h>
#include <nccl.h>

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

/* ---- NCCL over MPI ---------------------------------------------------------- */

struct ncclComm {
	MPI_Comm mpi;
	int rank, nranks;
};

static char last_error[256];

ncclResult_t ncclGetVersion(int *version)
{
	*version = NCCL_VERSION_CODE;
	return ncclSuccess;
}
const char *ncclGetErrorString(ncclResult_t r)
{
	return r == ncclSuccess ? "no error" : "mock NCCL error";
}
const char *ncclGetLastError(ncclComm_t comm)
{
	(void)comm;
	return last_error;
}
ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
	static int serial;
	memset(id, 0, sizeof(*id));
	snprintf(id->internal, sizeof(id->internal), "mock-nccl-%d", ++serial);
	return ncclSuccess;
}
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
	(void)id;
	int world = 0;
	MPI_Comm_size(MPI_COMM_WORLD, &world);
	*comm = NULL;
	if (nranks != 1 && nranks != world) {
		snprintf(last_error, sizeof(last_error),
			 "the mock makes communicators of 1 rank or of all %d, not %d", world, nranks);
		return ncclInvalidUsage;
	}
	struct ncclComm *c = calloc(1, sizeof(*c));
	if (!c)
		return ncclSystemError;
	c->rank = rank;
	c->nranks = nranks;
	if (nranks == 1)
		MPI_Comm_dup(MPI_COMM_SELF, &c->mpi);
	else
		MPI_Comm_split(MPI_COMM_WORLD, 0, rank, &c->mpi);
	*comm = c;
	return ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
	if (comm) {
		MPI_Comm_free(&comm->mpi);
		free(comm);
	}
	return ncclSuccess;
}
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async)
{
	(void)comm;
	*async = ncclSuccess;
	return ncclSuccess;
}
ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type,
			   ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
	(void)stream;
	if (type != ncclFloat32 || op != ncclSum || count > (size_t)INT32_MAX) {
		snprintf(last_error, sizeof(last_error), "the mock all-reduces FP32 sums only");
		return ncclInvalidArgument;
	}
	int rc = MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, (int)count, MPI_FLOAT,
			       MPI_SUM, comm->mpi);
	return rc == MPI_SUCCESS ? ncclSuccess : ncclSystemError;
}
