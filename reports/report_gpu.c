/* report_gpu.c: the "GPU conditions" table of `strata report` (see
 * report_gpu.h).  It reads the records' gpu, quiescence, telemetry, energy
 * and health objects (kernels/gpu/gpu_case.c writes them) and adds nothing
 * they do not hold; "-" where NVML gave no figure. */
#include "reports/report_gpu.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/report.h"
#include "reports/run.h"

#define str strata_json_str
#define num strata_json_num

/* "a / b" of two figures, "-" for a missing one. */
static void pair(char *buf, size_t len, double a, double b)
{
	char x[32] = "-", y[32] = "-";
	if (!isnan(a))
		snprintf(x, sizeof(x), "%.0f", a);
	if (!isnan(b))
		snprintf(y, sizeof(y), "%.0f", b);
	snprintf(buf, len, "%s / %s", x, y);
}

/* New uncorrectable memory errors during the case (volatile ECC, remapped
 * rows) and a failed row remap: the case's numbers may be from a faulty
 * GPU even when its output checked out. */
static int memory_errors(const json_t *health, char *buf, size_t len)
{
	double ecc = num(json_object_get(health, "ecc_uncorrected_volatile"), "delta");
	double rows = num(json_object_get(health, "remapped_rows_uncorrectable"), "delta");
	int failure = json_is_true(json_object_get(health, "remap_failure"));
	if (!(ecc > 0) && !(rows > 0) && !failure)
		return 0;
	snprintf(buf, len, "%.0f new uncorrectable ECC error(s), %.0f row(s) remapped for "
	         "uncorrectable errors%s", ecc > 0 ? ecc : 0, rows > 0 ? rows : 0,
	         failure ? ", a row remap failed" : "");
	return 1;
}

void strata_report_gpu_section(const json_t *recs, const char *suite, struct strata_doc *d)
{
	struct strata_table *t = NULL;
	const char *nvml_error = NULL;
	int telemetry = 0;
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		const json_t *det = json_object_get(r, "details");
		const json_t *gpu = json_object_get(det, "gpu");
		if (strcmp(str(r, "suite"), suite) || !gpu)
			continue;
		const json_t *tel = json_object_get(det, "telemetry");
		const json_t *q = json_object_get(det, "quiescence");
		const json_t *en = json_object_get(det, "energy");
		if (!tel) {
			if (!nvml_error && json_is_string(json_object_get(gpu, "nvml_error")))
				nvml_error = str(gpu, "nvml_error");
			continue;
		}
		if (!t) {
			strata_doc_para(d, "GPU conditions during each case (NVML, sampled every %.0f "
			                   "ms by a background thread): the cool-down before it, "
			                   "clocks, power and temperature over it, the energy of its "
			                   "timed phase and the work done per joule.",
			                num(tel, "interval_ms"));
			t = strata_doc_table(d, 9, "case", "GPU", "start C (cool-down s)",
			                     "SM MHz min / median", "power W median / max", "max C",
			                     "energy J", "efficiency", "throttled");
		}
		char lb[160], buf[64];
		strata_report_case_label(recs, r, lb, sizeof(lb));
		strata_table_row(t);
		strata_table_cell(t, "%s", lb);
		strata_table_cell(t, "%.0f: %s", num(gpu, "index"), str(gpu, "name"));
		double t0 = num(q, "start_temperature_c"), wait = num(q, "wait_s");
		if (isnan(t0))
			strata_table_cell(t, "- (%.3g)", wait);
		else
			strata_table_cell(t, "%.0f (%.3g)", t0, wait);
		pair(buf, sizeof(buf), num(json_object_get(tel, "sm_clock"), "min"),
		     num(json_object_get(tel, "sm_clock"), "median"));
		strata_table_cell(t, "%s", buf);
		pair(buf, sizeof(buf), num(json_object_get(tel, "power"), "median"),
		     num(json_object_get(tel, "power"), "max"));
		strata_table_cell(t, "%s", buf);
		double tmax = num(json_object_get(tel, "temperature"), "max");
		if (isnan(tmax))
			strata_table_cell(t, "-");
		else
			strata_table_cell(t, "%.0f", tmax);
		double joules = num(en, "joules");
		if (isnan(joules))
			strata_table_cell(t, "-");
		else
			strata_table_cell(t, "%.4g", joules);
		const json_t *eff = json_object_get(en, "efficiency");
		if (isnan(num(eff, "value")))
			strata_table_cell(t, "-");
		else
			strata_table_cell(t, "%.4g %s", num(eff, "value"), str(eff, "unit"));
		if (json_is_true(json_object_get(tel, "throttled")))
			strata_table_cell(t, "yes: %.0f of %.0f samples", num(tel, "throttled_samples"),
			                  num(tel, "samples"));
		else
			strata_table_cell(t, "no");
		telemetry = 1;
	}
	if (!telemetry) {
		if (nvml_error)
			strata_doc_para(d, "GPU conditions: no telemetry, energy or cool-down figures "
			                   "(%s).", nvml_error);
		return;
	}
	/* What a reader should not take at face value. */
	json_array_foreach(recs, i, r) {
		const json_t *det = json_object_get(r, "details");
		const json_t *tel = json_object_get(det, "telemetry");
		const json_t *q = json_object_get(det, "quiescence");
		if (strcmp(str(r, "suite"), suite) || !json_object_get(det, "gpu") || !tel)
			continue;
		char lb[160], why[192];
		strata_report_case_label(recs, r, lb, sizeof(lb));
		if (json_is_true(json_object_get(tel, "throttled")))
			strata_doc_item(d, "%s: clocks throttled (%s): its figures are below what "
			                   "this GPU delivers unthrottled", lb,
			                str(tel, "clock_event_reasons_seen"));
		if (json_is_false(json_object_get(q, "reached")))
			strata_doc_item(d, "%s: started warm: %.0f C after the %.3g s cool-down limit "
			                   "(target %.0f C)", lb, num(q, "start_temperature_c"),
			                num(q, "timeout_s"), num(q, "target_c"));
		if (memory_errors(json_object_get(det, "health"), why, sizeof(why)))
			strata_doc_item(d, "%s: %s during the case", lb, why);
	}
}
