/* main.c: the strata command line.  The only place that exits.
 *
 *   strata run PLAN.yaml [-o DIR]   run a plan (under mpirun/srun, or alone as one rank)
 *   strata validate PLAN.yaml       check a plan without running it
 *   strata list [SUITE]             suites and their parameters
 *   strata topo [--policy P] ...    the topology and each local rank's binding
 *   strata trace merge RUN_DIR      one timeline of all ranks' traces, and their summary
 *   strata report RUN_DIR           RUN_DIR/summary.md and report.html from the results
 *   strata compare|check|history|estimate ...   reporting commands (reports/cli.c)
 *   strata --version                version, git commit, compiled backends
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "harness/plan.h"
#include "reports/cli.h"
#include "harness/runner.h"
#include "harness/suite.h"
#include "harness/sysinfo.h"
#include "harness/topo.h"
#include "harness/trace.h"
#include "strata_config.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: strata <command> [options]\n"
		"\n"
		"  run PLAN.yaml [-o DIR]   run a plan; results go to DIR, or to\n"
		"                           results/<UTC time>-<id>/ (see --results-base)\n"
		"      --results-base DIR   parent of generated run directories (default: results)\n"
		"  validate PLAN.yaml       parse and validate a plan, print the expanded cases\n"
		"  list [SUITE]             suites, their parameters, types, defaults and help\n"
		"  topo [--policy P] [--ranks-per-node N] [--xml FILE | --synthetic DESC] [--json]\n"
		"                           what hwloc sees, the NIC per GPU and each local rank's\n"
		"                           binding under policy P (none, core, numa, gpu-local)\n"
		"  trace merge RUN_DIR      one timeline of every rank's trace on rank 0's clock\n"
		"                           (RUN_DIR/trace/merged.json) and the trace summary\n"
		"%s"
		"  --version                version, git commit and compiled backends\n"
		"\n"
		"exit codes: 0 all cases passed; 1 a benchmark failed validation; 2 bad input;\n"
		"            3 runtime/infrastructure error, interrupted or timed out; 4 a\n"
		"            performance threshold was not met\n",
		strata_cli_usage);
}

static void print_version(void)
{
	printf("strata %s (git %s, %s build)\nbackends: %s\n", STRATA_VERSION, STRATA_GIT_COMMIT,
	       STRATA_BUILD_TYPE, strata_sysinfo_backends());
	if (STRATA_HAVE_CUDA)
		printf("cuda toolkit at build time: %s\n", STRATA_CUDA_VERSION);
}

static void list_suite(const struct strata_suite *s)
{
	printf("%s: %s\n", s->name, s->summary ? s->summary : "");
	for (size_t i = 0; i < s->n_params; i++) {
		const struct strata_param_def *d = &s->params[i];
		char type[160];
		if (d->type == STRATA_PT_ENUM)
			snprintf(type, sizeof(type), "enum %s", d->choices);
		else if (d->min <= d->max && d->type != STRATA_PT_BOOL && d->type != STRATA_PT_STRING)
			snprintf(type, sizeof(type), d->type == STRATA_PT_DOUBLE ? "%s [%.6g, %.6g]"
									: "%s [%.15g, %.15g]",
				 strata_ptype_name(d->type), d->min, d->max); /* ints in full */
		else
			snprintf(type, sizeof(type), "%s", strata_ptype_name(d->type));
		printf("  %-14s %-34s default %-26s %s\n", d->name, type, d->def ? d->def : "-",
		       d->help ? d->help : "");
	}
}

static int cmd_list(int argc, char **argv)
{
	if (argc > 2) {
		const struct strata_suite *s = strata_suite_find(argv[2]);
		if (!s) {
			fprintf(stderr, "strata list: unknown suite '%s'\n", argv[2]);
			return STRATA_EXIT_BAD_INPUT;
		}
		list_suite(s);
		return 0;
	}
	printf("Sizes: K, M, G, T (or KiB, MiB, GiB, TiB) are powers of 1024, as in nccl-tests.\n"
	       "A list value [a, b] or a range {from: A, to: B, factor: F | step: D} sweeps.\n"
	       "Every case also takes: run: {warmup: {iterations, seconds}, repetitions: {count,\n"
	       "min_seconds, max_count}, timeout_s, binding: none|core|numa|gpu-local, trace:\n"
	       "{enabled, max_repetitions}, perf_counters} and required: true|false.\n\n");
	for (size_t i = 0; i < strata_suite_count(); i++) {
		list_suite(strata_suite_at(i));
		printf("\n");
	}
	return 0;
}

static int cmd_validate(int argc, char **argv)
{
	if (argc != 3) {
		usage(stderr);
		return STRATA_EXIT_BAD_INPUT;
	}
	char err[2048], *text = NULL;
	size_t len = 0;
	struct strata_plan plan;
	if (strata_read_file(argv[2], &text, &len, err, sizeof(err)) != 0 ||
	    strata_plan_parse(text, len, argv[2], &plan, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata: %s\n", err);
		free(text);
		return STRATA_EXIT_BAD_INPUT;
	}
	printf("%s: plan '%s' is valid: %zu case(s) x %zu variant(s)\n", argv[2], plan.name,
	       plan.n_cases, plan.n_variants);
	for (size_t i = 0; i < plan.n_cases; i++) {
		char key[2048];
		strata_metric_key(&plan.cases[i].params, plan.variants[0].label, key, sizeof(key));
		printf("  %s\n", key);
	}
	strata_plan_release(&plan);
	free(text);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "results-base", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct strata_run_options opt = { .results_base = "results", .argc = argc, .argv = argv };
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			opt.out_dir = optarg;
			break;
		case 'b':
			opt.results_base = optarg;
			break;
		default:
			usage(stderr);
			return STRATA_EXIT_BAD_INPUT;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "strata run: expected exactly one plan file\n");
		usage(stderr);
		return STRATA_EXIT_BAD_INPUT;
	}
	opt.plan_path = argv[optind];

	/* Plain MPI_Init, as OSU and nccl-tests start: only the main thread ever
	 * calls MPI (OpenMP workers and the watchdog never do).  Asking Open MPI
	 * 4.1 for MPI_THREAD_FUNNELED measurably slowed every small collective
	 * (0.15 -> 0.24 us for an 8-byte allreduce here); the level granted is
	 * recorded in the manifest. */
	if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
		fprintf(stderr, "strata: MPI_Init failed\n");
		return STRATA_EXIT_RUNTIME;
	}
	int code = strata_runner_run(&opt);
	MPI_Finalize();
	return code;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return STRATA_EXIT_BAD_INPUT;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		print_version();
		return 0;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list(argc, argv);
	if (!strcmp(cmd, "validate"))
		return cmd_validate(argc, argv);
	if (!strcmp(cmd, "report"))
		return strata_cli_report(argc, argv);
	if (!strcmp(cmd, "compare"))
		return strata_cli_compare(argc, argv);
	if (!strcmp(cmd, "check"))
		return strata_cli_check(argc, argv);
	if (!strcmp(cmd, "history"))
		return strata_cli_history(argc, argv);
	if (!strcmp(cmd, "estimate"))
		return strata_cli_estimate(argc, argv);
	if (!strcmp(cmd, "topo"))
		return strata_topo_main(argc, argv);
	if (!strcmp(cmd, "trace"))
		return strata_trace_main(argc, argv);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc, argv);
	fprintf(stderr, "strata: unknown command '%s'\n", cmd);
	usage(stderr);
	return STRATA_EXIT_BAD_INPUT;
}
