/* alltoall.c: placeholder while the suite is written (replaced in this change). */
#include "harness/suite.h"
const struct strata_suite strata_suite_alltoall = { .name = "alltoall", .summary = "(not yet written)" };
