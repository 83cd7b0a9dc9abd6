/* reduce_scatter.c: placeholder while the suite is written (replaced in this change). */
#include "harness/suite.h"
const struct strata_suite strata_suite_reduce_scatter = { .name = "reduce_scatter", .summary = "(not yet written)" };
