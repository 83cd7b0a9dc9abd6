/* alltoall.c: the alltoall suite, MPI_Alltoall over MPI, timed by the
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

static const struct strata_param_def alltoall_params[] = {
	STRATA_COLL_PARAM_DEVICE,
	STRATA_COLL_PARAM_DTYPE,
	{ .name = "inplace", .type = STRATA_PT_BOOL, .def = "false",
	  .help = "MPI_IN_PLACE: blocks are exchanged within the receive buffer (verify "
		  "then re-initialises and runs once more)" },
	STRATA_COLL_PARAM_SIZE("bytes, as nccl-tests' size: size is the whole send buffer (n blocks, "
		  "one per peer, each size/n rounded down to 16 bytes); busbw = algbw * "
		  "(n-1)/n"),
};

static int alltoall_setup(const struct strata_case *c, void **state)
{
	return strata_coll_suite_setup(STRATA_COLL_ALLTOALL, c, state);
}

const struct strata_suite strata_suite_alltoall = {
	.name = "alltoall",
	.summary = "MPI_Alltoall / NCCL grouped send-recv latency, algbw and busbw over a size sweep, nccl-tests byte counts",
	.params = alltoall_params,
	.n_params = sizeof(alltoall_params) / sizeof(alltoall_params[0]),
	.setup = alltoall_setup,
	STRATA_COLL_SUITE_HOOKS,
};
