/* fuzz_results.c: libFuzzer target for reading a run back: the JSON-lines
 * reader of results.jsonl (strata_jsonl_read), then the Markdown report and
 * the comparison of the run with itself (rendered as Markdown, HTML and
 * CSV) over whatever it kept.  Input: an optional manifest (the text before the first
 * blank line, when it parses as a JSON object), then results.jsonl.  Any
 * bytes must be read up to the last good record and reported without a
 * crash, a leak or undefined behaviour. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/compare.h"
#include "reports/jsonl.h"
#include "reports/report.h"
#include "reports/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	const char *text = (const char *)data;
	const char *blank = size >= 2 ? memmem(text, size, "\n\n", 2) : NULL;
	json_t *manifest = NULL;
	size_t off = 0;
	if (blank) {
		json_error_t je;
		manifest = json_loadb(text, (size_t)(blank - text), 0, &je);
		if (manifest && !json_is_object(manifest)) {
			json_decref(manifest);
			manifest = NULL;
		}
		off = (size_t)(blank - text) + 2;
	}
	struct strata_run run;
	memset(&run, 0, sizeof(run));
	snprintf(run.dir, sizeof(run.dir), "fuzz");
	run.manifest = manifest ? manifest : json_object();
	run.records = json_array();
	FILE *f = size > off ? fmemopen((void *)(text + off), size - off, "r") : NULL;
	struct strata_jsonl_status st;
	if (f) {
		strata_jsonl_read(f, run.records, &st);
		fclose(f);
		run.bad_line = st.first_bad_line;
		run.jsonl = st;
		char warning[512];
		strata_jsonl_warning("results.jsonl", &st, warning, sizeof(warning));
	}
	strata_report_markdown(&run, sink);
	struct strata_run pair[2] = {run, run};
	struct strata_compare_options o;
	strata_compare_options_default(&o);
	o.resamples = 50; /* the bootstrap's arithmetic, not its precision */
	struct strata_doc d;
	struct strata_table *csv = NULL;
	struct strata_compare_summary sum;
	char err[512];
	if (strata_compare_build(pair, 2, &o, &d, &csv, &sum, err, sizeof(err)) == 0) {
		strata_doc_write_md(&d, sink);
		strata_doc_write_html(&d, sink);
		if (csv)
			strata_table_write_csv(csv, sink);
	}
	strata_doc_release(&d);
	strata_table_free(csv);
	strata_run_release(&run);
	return 0;
}
