/* allgather.c: the allgather suite, MPI_Allgather over MPI, timed by the
 * runner.
 *
 * Only the experiment's description lives here (its parameters and hooks);
 * buffers, inputs, the call, the exact check, byte counts and nccl-tests' bus
 * bandwidth are in kernels/cpu/mpi_coll.c, shared by every collective suite.
 * device cpu: MPI on host memory; device cuda: NCCL on the rank's GPU
 * (suites/coll_gpu.c, kernels/cuda/nccl_coll.c).
 * Parameters are swept with size varying fastest (last row), as nccl-tests
 * sweeps sizes for each data type.
 */
#include "harness/suite.h"
#include "kernels/cpu/mpi_coll.h"

static const struct strata_param_def allgather_params[] = {
	STRATA_COLL_PARAM_DEVICE,
	STRATA_COLL_PARAM_DTYPE,
	{ .name = "inplace", .type = STRATA_PT_BOOL, .def = "false",
	  .help = "MPI_IN_PLACE: each rank's block already sits at rank*count in the receive buffer" },
	STRATA_COLL_PARAM_SIZE("bytes, as nccl-tests' size: size is the whole output (n blocks); each "
		  "rank sends size/n rounded down to 16 bytes; busbw = algbw * (n-1)/n"),
};

static int allgather_setup(const struct strata_case *c, void **state)
{
	return strata_coll_suite_setup(STRATA_COLL_ALLGATHER, c, state);
}

const struct strata_suite strata_suite_allgather = {
	.name = "allgather",
	.summary = "MPI_Allgather / ncclAllGather latency, algbw and busbw over a size sweep, nccl-tests "
		   "byte counts",
	.params = allgather_params,
	.n_params = sizeof(allgather_params) / sizeof(allgather_params[0]),
	.setup = allgather_setup,
	STRATA_COLL_SUITE_HOOKS,
};
