/* allreduce.c: the allreduce suite, MPI_Allreduce over MPI, timed by the
 * runner.
 *
 * Only the experiment's description lives here (its parameters and hooks);
 * buffers, inputs, the call, the exact check, byte counts and nccl-tests' bus
 * bandwidth are in kernels/cpu/mpi_coll.c, shared by every collective suite.
 * It is not NCCL: device cpu only (host memory, the MPI library's algorithms).
 * Parameters are swept with size varying fastest (last row), as nccl-tests
 * sweeps sizes for each data type.
 */
#include "harness/suite.h"
#include "kernels/cpu/mpi_coll.h"

static const struct strata_param_def allreduce_params[] = {
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu",
	  .help = "backend: cpu (host buffers, MPI)" },
	{ .name = "dtype", .type = STRATA_PT_ENUM, .def = "float", .choices = "float|double",
	  .help = "element type (MPI_FLOAT or MPI_DOUBLE); float is nccl-tests' default" },
	{ .name = "op", .type = STRATA_PT_ENUM, .def = "sum", .choices = "sum",
	  .help = "reduction operation (MPI_SUM)" },
	{ .name = "inplace", .type = STRATA_PT_BOOL, .def = "false",
	  .help = "MPI_IN_PLACE: the input is the receive buffer (verify then "
		  "re-initialises and runs once more)" },
	{ .name = "size", .type = STRATA_PT_SIZE, .def = "{from: 8, to: 64M, factor: 2}",
	  .min = 0, .max = 1099511627776.0,
	  .help = "bytes, as nccl-tests' size: S = count*typesize; busbw = algbw * 2(n-1)/n" },
};

static int allreduce_setup(const struct strata_case *c, void **state)
{
	return strata_coll_suite_setup(STRATA_COLL_ALLREDUCE, c, state);
}

const struct strata_suite strata_suite_allreduce = {
	.name = "allreduce",
	.summary = "MPI_Allreduce (sum) latency, algbw and busbw over a size sweep, "
		   "nccl-tests byte counts",
	.flags = STRATA_SUITE_COLLECTIVE,
	.params = allreduce_params,
	.n_params = sizeof(allreduce_params) / sizeof(allreduce_params[0]),
	.setup = allreduce_setup,
	.run_once = strata_coll_suite_run_once,
	.verify = strata_coll_suite_verify,
	.teardown = strata_coll_suite_teardown,
	.metrics = strata_coll_suite_metrics,
	.describe = strata_coll_suite_describe,
};
