/* allreduce.c: the allreduce suite, MPI_Allreduce over MPI, timed by the
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

static const struct strata_param_def allreduce_params[] = {
	STRATA_COLL_PARAM_DEVICE,
	STRATA_COLL_PARAM_DTYPE,
	STRATA_COLL_PARAM_OP,
	{ .name = "inplace", .type = STRATA_PT_BOOL, .def = "false",
	  .help = "MPI_IN_PLACE: the input is the receive buffer (verify then "
		  "re-initialises and runs once more)" },
	STRATA_COLL_PARAM_SIZE("bytes, as nccl-tests' size: S = count*typesize; busbw = algbw * 2(n-1)/n"),
};

static int allreduce_setup(const struct strata_case *c, void **state)
{
	return strata_coll_suite_setup(STRATA_COLL_ALLREDUCE, c, state);
}

const struct strata_suite strata_suite_allreduce = {
	.name = "allreduce",
	.summary = "MPI_Allreduce / ncclAllReduce (sum) latency, algbw and busbw over a size sweep, "
		   "nccl-tests byte counts",
	.params = allreduce_params,
	.n_params = sizeof(allreduce_params) / sizeof(allreduce_params[0]),
	.setup = allreduce_setup,
	STRATA_COLL_SUITE_HOOKS,
};
