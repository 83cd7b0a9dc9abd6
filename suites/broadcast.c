/* broadcast.c: the broadcast suite, MPI_Bcast over MPI, timed by the
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

static const struct strata_param_def broadcast_params[] = {
	STRATA_COLL_PARAM_DEVICE,
	STRATA_COLL_PARAM_DTYPE,
	{ .name = "root", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1 << 30,
	  .help = "rank that broadcasts (must be below the number of ranks)" },
	STRATA_COLL_PARAM_SIZE("bytes, as nccl-tests' size: S = count*typesize; busbw = algbw * 1.  "
		  "MPI_Bcast has one buffer, so there is no in-place variant"),
};

static int broadcast_setup(const struct strata_case *c, void **state)
{
	return strata_coll_suite_setup(STRATA_COLL_BROADCAST, c, state);
}

const struct strata_suite strata_suite_broadcast = {
	.name = "broadcast",
	.summary = "MPI_Bcast / ncclBroadcast latency, algbw and busbw over a size sweep, nccl-tests byte counts",
	.params = broadcast_params,
	.n_params = sizeof(broadcast_params) / sizeof(broadcast_params[0]),
	.setup = broadcast_setup,
	STRATA_COLL_SUITE_HOOKS,
};
