/* fuzz_plan.c: libFuzzer target for the plan parser (strata_plan_parse):
 * any bytes must give a plan or an error, never a crash, a leak or
 * undefined behaviour, and every error must name the file with line and
 * column ("fuzz.yaml:LINE:COLUMN: ...").  A parsed plan is also turned into
 * the manifest's JSON and every case's metric key, as the runner does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strata_plan plan;
	char err[2048] = "";
	if (strata_plan_parse((const char *)data, size, "fuzz.yaml", &plan, err, sizeof(err)) !=
	    0) {
		int line = 0, col = 0;
		if (sscanf(err, "fuzz.yaml:%d:%d: ", &line, &col) != 2 || line < 1 || col < 1) {
			fprintf(stderr, "fuzz_plan: an error without file:line:column: '%s'\n",
			        err);
			abort();
		}
		return 0;
	}
	json_t *j = strata_plan_to_json(&plan);
	char *text = json_dumps(j, JSON_COMPACT);
	free(text);
	json_decref(j);
	for (size_t i = 0; i < plan.n_cases; i++) {
		for (size_t v = 0; v < plan.n_variants; v++) {
			struct strata_params p;
			char key[2048];
			strata_variant_params(&plan.variants[v], &plan.cases[i], &p);
			strata_metric_key(&p, plan.variants[v].label, key, sizeof(key));
		}
	}
	strata_plan_release(&plan);
	return 0;
}
