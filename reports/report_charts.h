/* report_charts.h: the charts `strata report` draws for one suite's records
 * (figure vs parameter, distributions, heat maps, breakdowns), appended to
 * a doc.  Reads records only. */
#ifndef STRATA_REPORT_CHARTS_H
#define STRATA_REPORT_CHARTS_H

#include <jansson.h>

#include "reports/doc.h"

void strata_report_suite_charts(const json_t *records, const char *suite, struct strata_doc *d);

#endif
