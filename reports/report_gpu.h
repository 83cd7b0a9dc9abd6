/* report_gpu.h: the report's "GPU conditions" table, written under a
 * suite's results table for its device-cuda cases: the cool-down before each
 * case, clocks, power and temperature over it (NVML), its energy and
 * efficiency, and whether its clocks throttled; then the cases a reader
 * should not trust at face value (throttled, started warm, new uncorrectable
 * memory errors).  CPU cases add nothing. */
#ifndef STRATA_REPORT_GPU_H
#define STRATA_REPORT_GPU_H

#include <jansson.h>

#include "reports/doc.h"

/* Append the table for suite's records in recs that ran on a GPU (nothing
 * when there are none). */
void strata_report_gpu_section(const json_t *recs, const char *suite, struct strata_doc *d);

#endif
