/* cli.c: option parsing and file handling of report, compare, check,
 * history and estimate (see cli.h).  The work is done by the modules. */
#include "reports/cli.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/runner.h"
#include "reports/check.h"
#include "reports/compare.h"
#include "reports/estimate.h"
#include "reports/history.h"
#include "reports/peaks.h"
#include "reports/report.h"

const char strata_cli_usage[] =
    "  report RUN [--peaks FILE] [-o DIR]\n"
    "                           RUN/summary.md and RUN/report.html (or into DIR)\n"
    "  compare RUN_A RUN_B [...] | compare RUN   runs against the first, or a run's\n"
    "                           variants against the first; [-o DIR] [--csv F] [--html F]\n"
    "                           [--metric M,..] [--baseline LABEL] [--test bootstrap|welch]\n"
    "                           [--min-change PCT] [--fail-on-worse]\n"
    "  check RUN --against THRESHOLDS.yaml [--peaks FILE] [--junit F] [--drain F]\n"
    "                           acceptance; exit 4 when a check fails\n"
    "  history [--db FILE] ingest RUN... | list | trend --metric M | regressions |\n"
    "          export --format openmetrics|csv   (default results/history.sqlite)\n"
    "  estimate [RUN] --params N [...]   memory, step time, cost, storage (--help)\n";

static FILE *open_out(const char *path, const char *cmd)
{
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "strata %s: %s: cannot write: %s\n", cmd, path, strerror(errno));
	return f;
}

static int close_out(FILE *f, const char *path, const char *cmd)
{
	if (fclose(f) != 0) {
		fprintf(stderr, "strata %s: %s: write failed\n", cmd, path);
		return -1;
	}
	return 0;
}

/* A count with an optional K, M, B|G or T suffix (powers of 1000): 7B = 7e9. */
static int parse_count(const char *opt, const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	double mult = 1;
	if (end != text && *end && !end[1]) {
		switch (*end) {
		case 'K':
		case 'k':
			mult = 1e3;
			end++;
			break;
		case 'M':
			mult = 1e6;
			end++;
			break;
		case 'B':
		case 'G':
			mult = 1e9;
			end++;
			break;
		case 'T':
			mult = 1e12;
			end++;
			break;
		}
	}
	if (end == text || *end || errno || !isfinite(v) || v < 0) {
		fprintf(
		    stderr,
		    "strata: %s: expected a non-negative number (suffixes K, M, B, T), got '%s'\n",
		    opt, text);
		return -1;
	}
	*out = v * mult;
	return 0;
}

/* getopt over argv[first..]: argv[first - 1] plays the program name. */
static void reset_getopt(void)
{
	optind = 0; /* glibc: a full re-initialisation */
	opterr = 1;
}

/* ---- report --------------------------------------------------------------------- */

/* -o DIR: made when missing (one level, as `strata run -o` makes its
 * results directory).  Returns 0, or -1 having said why. */
static int make_out_dir(const char *dir, const char *cmd)
{
	if (!dir || mkdir(dir, 0777) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "strata %s: cannot create %s: %s\n", cmd, dir, strerror(errno));
	return -1;
}

int strata_cli_report(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"peaks", required_argument, NULL, 'p'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *peaks_file = NULL, *out_dir = NULL;
	int ch;
	reset_getopt();
	while ((ch = getopt_long(argc - 1, argv + 1, "o:", longopts, NULL)) != -1) {
		if (ch == 'p')
			peaks_file = optarg;
		else if (ch == 'o')
			out_dir = optarg;
		else
			return STRATA_EXIT_BAD_INPUT;
	}
	if (optind != argc - 2) {
		fprintf(stderr, "usage: strata report RUN [--peaks FILE] [-o DIR]\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	const char *dir = argv[1 + optind];
	char err[4096], path[4200];
	struct strata_run run;
	if (strata_run_load(dir, &run, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata report: %s\n", err);
		return STRATA_EXIT_BAD_INPUT;
	}
	if (run.warning[0])
		fprintf(stderr, "strata report: warning: %s\n", run.warning);
	struct strata_peaks peaks;
	strata_peaks_from_manifest(run.manifest, &peaks);
	if (peaks_file && strata_peaks_load_file(peaks_file, &peaks, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata report: %s\n", err);
		strata_peaks_release(&peaks);
		strata_run_release(&run);
		return STRATA_EXIT_BAD_INPUT;
	}
	struct strata_doc d;
	strata_report_build(&run, &peaks, &d);
	int rc = make_out_dir(out_dir, "report") == 0 ? 0 : STRATA_EXIT_RUNTIME;
	const char *names[2] = {"summary.md", "report.html"};
	for (int k = 0; k < 2 && rc == 0; k++) {
		snprintf(path, sizeof(path), "%s/%s", out_dir ? out_dir : dir, names[k]);
		FILE *f = open_out(path, "report");
		if (!f) {
			rc = STRATA_EXIT_RUNTIME;
			break;
		}
		if (k == 0)
			strata_doc_write_md(&d, f);
		else
			strata_doc_write_html(&d, f);
		if (close_out(f, path, "report"))
			rc = STRATA_EXIT_RUNTIME;
		else
			printf("strata report: wrote %s\n", path);
	}
	strata_doc_release(&d);
	strata_peaks_release(&peaks);
	strata_run_release(&run);
	return rc;
}

/* ---- compare -------------------------------------------------------------------- */

static int write_doc(const struct strata_doc *d, const struct strata_table *csv, const char *path,
                     int kind)
{
	FILE *f = open_out(path, "compare");
	if (!f)
		return -1;
	if (kind == 0)
		strata_doc_write_md(d, f);
	else if (kind == 1)
		strata_doc_write_html(d, f);
	else
		strata_table_write_csv(csv, f);
	if (close_out(f, path, "compare"))
		return -1;
	fprintf(stderr, "strata compare: wrote %s\n", path);
	return 0;
}

int strata_cli_compare(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},  {"md", required_argument, NULL, 'm'},
	    {"html", required_argument, NULL, 'h'},    {"csv", required_argument, NULL, 'c'},
	    {"metric", required_argument, NULL, 'M'},  {"baseline", required_argument, NULL, 'b'},
	    {"test", required_argument, NULL, 't'},    {"resamples", required_argument, NULL, 'r'},
	    {"seed", required_argument, NULL, 's'},    {"min-change", required_argument, NULL, 'x'},
	    {"fail-on-worse", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0},
	};
	struct strata_compare_options o;
	strata_compare_options_default(&o);
	const char *out_dir = NULL, *md = NULL, *html = NULL, *csv_path = NULL;
	int fail_on_worse = 0, ch;
	double v;
	reset_getopt();
	while ((ch = getopt_long(argc - 1, argv + 1, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out_dir = optarg;
			break;
		case 'm':
			md = optarg;
			break;
		case 'h':
			html = optarg;
			break;
		case 'c':
			csv_path = optarg;
			break;
		case 'M':
			o.metrics = optarg;
			break;
		case 'b':
			o.baseline = optarg;
			break;
		case 't':
			if (!strcmp(optarg, "bootstrap"))
				o.unpaired = STRATA_DIFF_BOOTSTRAP;
			else if (!strcmp(optarg, "welch"))
				o.unpaired = STRATA_DIFF_WELCH;
			else {
				fprintf(stderr, "strata compare: --test: bootstrap or welch\n");
				return STRATA_EXIT_BAD_INPUT;
			}
			break;
		case 'r':
			if (parse_count("--resamples", optarg, &v) || v < 100 || v > 1e6) {
				fprintf(stderr, "strata compare: --resamples: 100 to 1000000\n");
				return STRATA_EXIT_BAD_INPUT;
			}
			o.resamples = (size_t)v;
			break;
		case 's':
			if (parse_count("--seed", optarg, &v))
				return STRATA_EXIT_BAD_INPUT;
			o.seed = (uint64_t)v;
			break;
		case 'x':
			if (parse_count("--min-change", optarg, &v))
				return STRATA_EXIT_BAD_INPUT;
			o.min_change_pct = v;
			break;
		case 'f':
			fail_on_worse = 1;
			break;
		default:
			return STRATA_EXIT_BAD_INPUT;
		}
	}
	int n_runs = argc - 1 - optind;
	if (n_runs < 1) {
		fprintf(
		    stderr,
		    "usage: strata compare RUN_A RUN_B [...] | strata compare RUN (variants)\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	struct strata_run *runs = calloc((size_t)n_runs, sizeof(*runs));
	if (!runs)
		return STRATA_EXIT_RUNTIME;
	char err[4096];
	int rc = 0, loaded = 0;
	for (int i = 0; i < n_runs; i++, loaded++) {
		if (strata_run_load(argv[1 + optind + i], &runs[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "strata compare: %s\n", err);
			rc = STRATA_EXIT_BAD_INPUT;
			goto out;
		}
		if (runs[i].warning[0])
			fprintf(stderr, "strata compare: warning: %s\n", runs[i].warning);
	}
	struct strata_doc d;
	struct strata_table *csv = NULL;
	struct strata_compare_summary sum;
	if (strata_compare_build(runs, (size_t)n_runs, &o, &d, &csv, &sum, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata compare: %s\n", err);
		rc = STRATA_EXIT_BAD_INPUT;
	} else {
		d.html_name = "the HTML output";
		strata_doc_write_md(&d, stdout);
		if (make_out_dir(out_dir, "compare") != 0)
			rc = STRATA_EXIT_RUNTIME;
		char path[4200];
		const char *names[3] = {"compare.md", "compare.html", "compare.csv"};
		const char *given[3] = {md, html, csv_path};
		for (int k = 0; k < 3 && rc == 0; k++) {
			if (given[k])
				snprintf(path, sizeof(path), "%s", given[k]);
			else if (out_dir)
				snprintf(path, sizeof(path), "%s/%s", out_dir, names[k]);
			else
				continue;
			if (write_doc(&d, csv, path, k))
				rc = STRATA_EXIT_RUNTIME;
		}
		if (rc == 0 && fail_on_worse && sum.worse)
			rc = STRATA_EXIT_THRESHOLD;
	}
	strata_doc_release(&d);
	strata_table_free(csv);
out:
	for (int i = 0; i < loaded; i++)
		strata_run_release(&runs[i]);
	free(runs);
	return rc;
}

/* ---- check ---------------------------------------------------------------------- */

int strata_cli_check(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"against", required_argument, NULL, 'a'},
	    {"peaks", required_argument, NULL, 'p'},
	    {"junit", required_argument, NULL, 'j'},
	    {"drain", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	const char *against = NULL, *peaks_file = NULL, *junit_path = NULL, *drain_path = NULL;
	int ch;
	reset_getopt();
	while ((ch = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
		if (ch == 'a')
			against = optarg;
		else if (ch == 'p')
			peaks_file = optarg;
		else if (ch == 'j')
			junit_path = optarg;
		else if (ch == 'd')
			drain_path = optarg;
		else
			return STRATA_EXIT_BAD_INPUT;
	}
	if (optind != argc - 2 || !against) {
		fprintf(stderr, "usage: strata check RUN --against THRESHOLDS.yaml [--peaks FILE] "
		                "[--junit FILE] [--drain FILE]\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	const char *dir = argv[1 + optind];
	char err[4096], jpath[4200], dpath[4200];
	struct strata_thresholds t;
	if (strata_thresholds_load(against, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata check: %s\n", err);
		return STRATA_EXIT_BAD_INPUT;
	}
	struct strata_run run;
	if (strata_run_load(dir, &run, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata check: %s\n", err);
		strata_thresholds_release(&t);
		return STRATA_EXIT_BAD_INPUT;
	}
	if (run.warning[0])
		fprintf(stderr, "strata check: warning: %s\n", run.warning);
	struct strata_peaks peaks;
	strata_peaks_from_manifest(run.manifest, &peaks);
	int rc = 0;
	FILE *junit = NULL, *drain = NULL;
	char *dbuf = NULL;
	size_t dlen = 0;
	if (peaks_file && strata_peaks_load_file(peaks_file, &peaks, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata check: %s\n", err);
		rc = STRATA_EXIT_BAD_INPUT;
		goto out;
	}
	snprintf(jpath, sizeof(jpath), "%s", junit_path ? junit_path : "");
	if (!junit_path)
		snprintf(jpath, sizeof(jpath), "%s/junit.xml", dir);
	snprintf(dpath, sizeof(dpath), "%s", drain_path ? drain_path : "");
	if (!drain_path)
		snprintf(dpath, sizeof(dpath), "%s/drain.txt", dir);
	if (!(junit = open_out(jpath, "check"))) {
		rc = STRATA_EXIT_RUNTIME;
		goto out;
	}
	drain = open_memstream(&dbuf, &dlen);
	printf("strata check %s against %s\n", dir, against);
	struct strata_check_result res;
	strata_check_run(&run, &t, &peaks, stdout, junit, drain, &res);
	fclose(drain);
	drain = NULL;
	if (close_out(junit, jpath, "check"))
		rc = STRATA_EXIT_RUNTIME;
	junit = NULL;
	printf("\n%zu check(s): %zu passed, %zu failed, %zu skipped; JUnit XML in %s\n", res.checks,
	       res.passed, res.failed, res.skipped, jpath);
	if (dlen) {
		FILE *f = open_out(dpath, "check");
		if (!f || fwrite(dbuf, 1, dlen, f) != dlen || close_out(f, dpath, "check"))
			rc = STRATA_EXIT_RUNTIME;
		printf("\nDrain list (%zu suspect node(s), also in %s):\n%s", res.suspects, dpath,
		       dbuf);
	} else {
		remove(dpath); /* no stale list from an earlier check */
	}
	if (rc == 0 && res.failed)
		rc = STRATA_EXIT_THRESHOLD;
out:
	if (junit)
		fclose(junit);
	free(dbuf);
	strata_peaks_release(&peaks);
	strata_run_release(&run);
	strata_thresholds_release(&t);
	return rc;
}

/* ---- history -------------------------------------------------------------------- */

static void mkdir_parent(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	char *dir = dirname(buf);
	if (strcmp(dir, ".") && strcmp(dir, "/"))
		mkdir(dir, 0777); /* one level: results/ */
}

int strata_cli_history(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {"metric", required_argument, NULL, 'M'},
	    {"suite", required_argument, NULL, 'S'},
	    {"variant", required_argument, NULL, 'V'},
	    {"where", required_argument, NULL, 'W'},
	    {"html", required_argument, NULL, 'H'},
	    {"csv", required_argument, NULL, 'C'},
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'F'},
	    {"run", required_argument, NULL, 'R'},
	    {"min-change", required_argument, NULL, 'x'},
	    {"window", required_argument, NULL, 'w'},
	    {"min-size", required_argument, NULL, 'm'},
	    {"alpha", required_argument, NULL, 'a'},
	    {"permutations", required_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0},
	};
	const char *db = "results/history.sqlite", *html = NULL, *csv = NULL, *out = NULL,
	           *format = NULL, *run_id = NULL;
	struct strata_history_filter f = {0};
	struct strata_regression_options ro;
	strata_regression_options_default(&ro);
	int ch;
	double v;
	reset_getopt();
	while ((ch = getopt_long(argc - 1, argv + 1, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			db = optarg;
			break;
		case 'M':
			f.metric = optarg;
			break;
		case 'S':
			f.suite = optarg;
			break;
		case 'V':
			f.variant = optarg;
			break;
		case 'W':
			f.where = optarg;
			break;
		case 'H':
			html = optarg;
			break;
		case 'C':
			csv = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'R':
			run_id = optarg;
			break;
		case 'x':
		case 'w':
		case 'm':
		case 'a':
		case 'p':
			if (parse_count("history option", optarg, &v))
				return STRATA_EXIT_BAD_INPUT;
			if (ch == 'x')
				ro.min_change_pct = v;
			else if (ch == 'w')
				ro.window = (size_t)v;
			else if (ch == 'm')
				ro.min_size = (size_t)v < 2 ? 2 : (size_t)v;
			else if (ch == 'a')
				ro.alpha = v;
			else
				ro.permutations = (size_t)v;
			break;
		default:
			return STRATA_EXIT_BAD_INPUT;
		}
	}
	int first = 1 + optind; /* the subcommand */
	if (first >= argc) {
		fprintf(stderr,
		        "usage: strata history [--db FILE] ingest RUN... | list | trend --metric M "
		        "[--where p=v,..] [--html F] [--csv F] | regressions [--min-change PCT] | "
		        "export --format openmetrics|csv [-o FILE]\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	const char *sub = argv[first];
	char err[4096];
	struct strata_history *h;
	if (strcmp(sub, "ingest") && strcmp(sub, "list") && strcmp(sub, "trend") &&
	    strcmp(sub, "regressions") && strcmp(sub, "export")) {
		fprintf(stderr, "strata history: unknown subcommand '%s'\n", sub);
		return STRATA_EXIT_BAD_INPUT;
	}
	if (!strcmp(sub, "export") &&
	    (!format || (strcmp(format, "openmetrics") && strcmp(format, "csv")))) {
		fprintf(stderr, "strata history export: --format openmetrics or --format csv\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	if (!strcmp(sub, "trend") && !f.metric) {
		fprintf(stderr, "strata history trend: --metric NAME is required\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	if (!strcmp(sub, "ingest") && first + 1 >= argc) {
		fprintf(stderr, "strata history ingest: give one or more run directories\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	mkdir_parent(db);
	if (strata_history_open(db, STRATA_HISTORY_SCHEMA, &h, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata history: %s\n", err);
		return STRATA_EXIT_BAD_INPUT;
	}
	int rc = 0;
	if (!strcmp(sub, "ingest")) {
		for (int i = first + 1; i < argc && rc == 0; i++) {
			struct strata_run run;
			if (strata_run_load(argv[i], &run, err, sizeof(err)) != 0) {
				fprintf(stderr, "strata history: %s\n", err);
				rc = STRATA_EXIT_BAD_INPUT;
				break;
			}
			if (run.warning[0])
				fprintf(stderr, "strata history: warning: %s\n", run.warning);
			int added = strata_history_ingest(h, &run, err, sizeof(err));
			if (added < 0) {
				fprintf(stderr, "strata history: %s\n", err);
				rc = STRATA_EXIT_RUNTIME;
			} else {
				printf("strata history: %s %s (%zu record(s))\n",
				       added ? "ingested" : "already present, left alone:",
				       strata_json_str(run.manifest, "run_id"),
				       json_array_size(run.records));
			}
			strata_run_release(&run);
		}
	} else if (!strcmp(sub, "list")) {
		if (strata_history_list(h, stdout, err, sizeof(err)))
			rc = STRATA_EXIT_RUNTIME;
	} else if (!strcmp(sub, "trend")) {
		FILE *fh = html ? open_out(html, "history") : NULL,
		     *fc = csv ? open_out(csv, "history") : NULL;
		if ((html && !fh) || (csv && !fc))
			rc = STRATA_EXIT_RUNTIME;
		else if (strata_history_trend(h, &f, stdout, fh, fc, err, sizeof(err)))
			rc = STRATA_EXIT_BAD_INPUT;
		if (fh && close_out(fh, html, "history"))
			rc = STRATA_EXIT_RUNTIME;
		if (fc && close_out(fc, csv, "history"))
			rc = STRATA_EXIT_RUNTIME;
	} else if (!strcmp(sub, "regressions")) {
		int n = strata_history_regressions(h, &f, &ro, stdout, err, sizeof(err));
		rc = n < 0 ? STRATA_EXIT_RUNTIME : n > 0 ? STRATA_EXIT_THRESHOLD : 0;
	} else {
		FILE *fo = out ? open_out(out, "history") : stdout;
		if (!fo) {
			rc = STRATA_EXIT_RUNTIME;
		} else {
			int e = !strcmp(format, "csv")
			            ? strata_history_csv(h, &f, fo, err, sizeof(err))
			            : strata_history_openmetrics(h, run_id, fo, err, sizeof(err));
			if (e)
				rc = STRATA_EXIT_BAD_INPUT;
			if (out && close_out(fo, out, "history"))
				rc = STRATA_EXIT_RUNTIME;
		}
	}
	if (rc && rc != STRATA_EXIT_THRESHOLD && err[0] && strcmp(sub, "ingest"))
		fprintf(stderr, "strata history: %s\n", err);
	strata_history_close(h);
	return rc;
}

/* ---- estimate -------------------------------------------------------------------- */

static const char estimate_usage[] =
    "usage: strata estimate [RUN] --params N [options]   (N, T: suffixes K, M, B, T)\n"
    "  --precision bf16|fp16|fp32|fp8   training precision (bf16)\n"
    "  --optimizer adam|sgd|none        (adam)      --zero 0|1|2|3   ZeRO stage (0)\n"
    "  --gpus G  --gpus-per-node P      (the run's ranks; the manifest's GPUs per node)\n"
    "  --layers L --hidden H --heads A [--kv-heads K] --seq-len S [--micro-batch B]\n"
    "  --recompute none|selective|full  activation recomputation (none)\n"
    "  --global-batch SEQS  --tokens T  --price P [--currency USD]\n"
    "  --util U      fraction of the measured GEMM rate the model sustains (0.5)\n"
    "  --overlap O   fraction of compute that hides communication (0)\n"
    "  --gemm-tflops X --busbw-gbps X --storage-gbps X   override measured figures\n"
    "  --bytes-per-token B (2)  --memory-gib M   accelerator memory\n"
    "  --serve [--batch B] [--context C]        serving memory (weights + KV cache)\n"
    "  -o FILE.md, --html FILE                   also write Markdown / HTML\n";

int strata_cli_estimate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"params", required_argument, NULL, 1},
	    {"precision", required_argument, NULL, 2},
	    {"optimizer", required_argument, NULL, 3},
	    {"zero", required_argument, NULL, 4},
	    {"gpus", required_argument, NULL, 5},
	    {"gpus-per-node", required_argument, NULL, 6},
	    {"layers", required_argument, NULL, 7},
	    {"hidden", required_argument, NULL, 8},
	    {"heads", required_argument, NULL, 9},
	    {"kv-heads", required_argument, NULL, 10},
	    {"seq-len", required_argument, NULL, 11},
	    {"micro-batch", required_argument, NULL, 12},
	    {"recompute", required_argument, NULL, 13},
	    {"global-batch", required_argument, NULL, 14},
	    {"tokens", required_argument, NULL, 15},
	    {"price", required_argument, NULL, 16},
	    {"currency", required_argument, NULL, 17},
	    {"util", required_argument, NULL, 18},
	    {"overlap", required_argument, NULL, 19},
	    {"gemm-tflops", required_argument, NULL, 20},
	    {"busbw-gbps", required_argument, NULL, 21},
	    {"storage-gbps", required_argument, NULL, 22},
	    {"bytes-per-token", required_argument, NULL, 23},
	    {"memory-gib", required_argument, NULL, 24},
	    {"serve", no_argument, NULL, 25},
	    {"batch", required_argument, NULL, 26},
	    {"context", required_argument, NULL, 27},
	    {"html", required_argument, NULL, 28},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct strata_estimate_inputs in;
	strata_estimate_inputs_default(&in);
	const char *md = NULL, *html = NULL;
	int ch;
	double v;
	reset_getopt();
	while ((ch = getopt_long(argc - 1, argv + 1, "o:h", longopts, NULL)) != -1) {
		double *target = NULL;
		switch (ch) {
		case 'h':
			fputs(estimate_usage, stdout);
			return 0;
		case 'o':
			md = optarg;
			continue;
		case 28:
			html = optarg;
			continue;
		case 2:
			in.precision = optarg;
			continue;
		case 17:
			in.currency = optarg;
			continue;
		case 25:
			in.serve = 1;
			continue;
		case 3:
			if (!strcmp(optarg, "adam"))
				in.optimizer = STRATA_OPT_ADAM;
			else if (!strcmp(optarg, "sgd"))
				in.optimizer = STRATA_OPT_SGD;
			else if (!strcmp(optarg, "none"))
				in.optimizer = STRATA_OPT_NONE;
			else {
				fprintf(stderr,
				        "strata estimate: --optimizer: adam, sgd or none\n");
				return STRATA_EXIT_BAD_INPUT;
			}
			continue;
		case 13:
			if (!strcmp(optarg, "none"))
				in.recompute = STRATA_RECOMPUTE_NONE;
			else if (!strcmp(optarg, "selective"))
				in.recompute = STRATA_RECOMPUTE_SELECTIVE;
			else if (!strcmp(optarg, "full"))
				in.recompute = STRATA_RECOMPUTE_FULL;
			else {
				fprintf(stderr,
				        "strata estimate: --recompute: none, selective or full\n");
				return STRATA_EXIT_BAD_INPUT;
			}
			continue;
		case 4:
			if (parse_count("--zero", optarg, &v) || v > 3 || v != floor(v)) {
				fprintf(stderr, "strata estimate: --zero: 0, 1, 2 or 3\n");
				return STRATA_EXIT_BAD_INPUT;
			}
			in.zero = (int)v;
			continue;
		case 1:
			target = &in.params;
			break;
		case 5:
			target = &in.gpus;
			break;
		case 6:
			target = &in.gpus_per_node;
			break;
		case 7:
			target = &in.layers;
			break;
		case 8:
			target = &in.hidden;
			break;
		case 9:
			target = &in.heads;
			break;
		case 10:
			target = &in.kv_heads;
			break;
		case 11:
			target = &in.seq_len;
			break;
		case 12:
			target = &in.micro_batch;
			break;
		case 14:
			target = &in.global_batch;
			break;
		case 15:
			target = &in.tokens;
			break;
		case 16:
			target = &in.price;
			break;
		case 18:
			target = &in.util;
			break;
		case 19:
			target = &in.overlap;
			break;
		case 20:
			target = &in.gemm_tflops;
			break;
		case 21:
			target = &in.busbw_gbps;
			break;
		case 22:
			target = &in.storage_gbps;
			break;
		case 23:
			target = &in.bytes_per_token;
			break;
		case 24:
			target = &in.memory_gib;
			break;
		case 26:
			target = &in.serve_batch;
			break;
		case 27:
			target = &in.context;
			break;
		default:
			fputs(estimate_usage, stderr);
			return STRATA_EXIT_BAD_INPUT;
		}
		if (parse_count(longopts[ch == 'o' ? 0 : ch - 1].name, optarg, target))
			return STRATA_EXIT_BAD_INPUT;
	}
	if (!(in.util > 0 && in.util <= 1) || in.overlap < 0 || in.overlap > 1) {
		fprintf(stderr, "strata estimate: --util must be in (0, 1], --overlap in [0, 1]\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	if (optind < argc - 2) {
		fputs(estimate_usage, stderr);
		return STRATA_EXIT_BAD_INPUT;
	}
	char err[4096];
	struct strata_run run, *rp = NULL;
	if (optind == argc - 2) {
		if (strata_run_load(argv[1 + optind], &run, err, sizeof(err)) != 0) {
			fprintf(stderr, "strata estimate: %s\n", err);
			return STRATA_EXIT_BAD_INPUT;
		}
		rp = &run;
	}
	struct strata_doc d;
	int rc = 0;
	if (strata_estimate_build(rp, &in, &d, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata estimate: %s\n", err);
		rc = STRATA_EXIT_BAD_INPUT;
	} else {
		d.html_name = "the HTML output";
		strata_doc_write_md(&d, stdout);
		const char *paths[2] = {md, html};
		for (int k = 0; k < 2 && rc == 0; k++) {
			if (!paths[k])
				continue;
			FILE *f = open_out(paths[k], "estimate");
			if (!f) {
				rc = STRATA_EXIT_RUNTIME;
				break;
			}
			if (k == 0)
				strata_doc_write_md(&d, f);
			else
				strata_doc_write_html(&d, f);
			if (close_out(f, paths[k], "estimate"))
				rc = STRATA_EXIT_RUNTIME;
		}
	}
	strata_doc_release(&d);
	if (rp)
		strata_run_release(rp);
	return rc;
}
