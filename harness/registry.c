/* registry.c: the one table of suites.  An explicit array (not constructor
 * attributes: the linker drops unreferenced objects of a static library). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness/suite.h"

extern const struct strata_suite strata_suite_null;
extern const struct strata_suite strata_suite_gemm;
extern const struct strata_suite strata_suite_membw;
extern const struct strata_suite strata_suite_allreduce;
extern const struct strata_suite strata_suite_allgather;
extern const struct strata_suite strata_suite_reduce_scatter;
extern const struct strata_suite strata_suite_broadcast;
extern const struct strata_suite strata_suite_alltoall;
extern const struct strata_suite strata_suite_p2p;
extern const struct strata_suite strata_suite_numa_matrix;
extern const struct strata_suite strata_suite_storage;
extern const struct strata_suite strata_suite_storage_meta;
extern const struct strata_suite strata_suite_storage_loader;
extern const struct strata_suite strata_suite_train;
extern const struct strata_suite strata_suite_infer;

static const struct strata_suite *const suites[] = {
	&strata_suite_gemm,
	&strata_suite_membw,
	&strata_suite_allreduce,
	&strata_suite_allgather,
	&strata_suite_reduce_scatter,
	&strata_suite_broadcast,
	&strata_suite_alltoall,
	&strata_suite_p2p,
	&strata_suite_numa_matrix,
	&strata_suite_storage,
	&strata_suite_storage_meta,
	&strata_suite_storage_loader,
	&strata_suite_train,
	&strata_suite_infer,
	&strata_suite_null,
};

size_t strata_suite_count(void)
{
	return sizeof(suites) / sizeof(suites[0]);
}

const struct strata_suite *strata_suite_at(size_t i)
{
	return i < strata_suite_count() ? suites[i] : NULL;
}

const struct strata_suite *strata_suite_find(const char *name)
{
	for (size_t i = 0; i < strata_suite_count(); i++)
		if (strcmp(suites[i]->name, name) == 0)
			return suites[i];
	return NULL;
}

void strata_case_errorf(const struct strata_case *c, const char *fmt, ...)
{
	if (!c->err || c->err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, c->err_len, fmt, ap);
	va_end(ap);
}
