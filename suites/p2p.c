/* p2p.c: placeholder while the suite is written (replaced in this change). */
#include "harness/suite.h"
const struct strata_suite strata_suite_p2p = { .name = "p2p", .summary = "(not yet written)" };
