/* reduce_scatter.c: the reduce_scatter suite, MPI_Reduce_scatter_block over MPI, timed by the
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

static const struct strata_param_def reduce_scatter_params[] = {
	STRATA_COLL_PARAM_DEVICE,
	STRATA_COLL_PARAM_DTYPE,
	STRATA_COLL_PARAM_OP,
	{ .name = "inplace", .type = STRATA_PT_BOOL, .def = "false",
	  .help = "MPI_IN_PLACE: the input is the receive buffer (n blocks), the result "
		  "lands in its first block (MPI), not at rank*count as in NCCL" },
	STRATA_COLL_PARAM_SIZE("bytes, as nccl-tests' size: size is the whole input (n blocks); each "
		  "rank receives size/n rounded down to 16 bytes; busbw = algbw * (n-1)/n"),
};

static int reduce_scatter_setup(const struct strata_case *c, void **state)
{
	return strata_coll_suite_setup(STRATA_COLL_REDUCE_SCATTER, c, state);
}

const struct strata_suite strata_suite_reduce_scatter = {
	.name = "reduce_scatter",
	.summary = "MPI_Reduce_scatter_block / ncclReduceScatter (sum) latency, algbw and busbw over a size "
		   "sweep, nccl-tests byte counts",
	.params = reduce_scatter_params,
	.n_params = sizeof(reduce_scatter_params) / sizeof(reduce_scatter_params[0]),
	.setup = reduce_scatter_setup,
	STRATA_COLL_SUITE_HOOKS,
};
