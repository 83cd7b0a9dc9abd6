/* report_e2e.h: the report's end-to-end sections, written under a suite's
 * results table: for `train`, the step-time breakdown with MFU and the
 * MLPerf time-to-train score; for `infer`, a LoadGen-style summary per
 * scenario.  Any other suite adds nothing. */
#ifndef STRATA_REPORT_E2E_H
#define STRATA_REPORT_E2E_H

#include <jansson.h>

#include "reports/doc.h"

/* Append the sections for suite's records in recs to d (nothing when there
 * are none or the suite has no end-to-end section). */
void strata_report_e2e_section(const json_t *recs, const char *suite, struct strata_doc *d);

#endif
