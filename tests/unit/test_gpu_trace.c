/* test_gpu_trace.c: GPU tracing starts only where it can, and says why not
 * elsewhere.  Built with CUDA (kernels/cuda/cupti_trace.c compiled and linked
 * against CUPTI) on a machine without a GPU, start must fail cleanly with a
 * "no GPU" reason and every other call must be harmless; with a GPU, a
 * start/enable/collect cycle must work; without CUDA, the stub says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness/gpu_trace.h"
#include "strata_config.h"

static void test_start_or_explain(void **unused)
{
	(void)unused;
	char why[256] = "";
	int rc = strata_gpu_trace_start(why, sizeof(why));
	print_message("gpu trace: %s\n", rc == 0 ? "started" : why);
	if (!STRATA_HAVE_CUDA) {
		assert_int_equal(rc, -1);
		assert_non_null(strstr(why, "not built with CUDA"));
	} else if (rc != 0) {
		assert_true(strstr(why, "no GPU") || strstr(why, "CUPTI"));
	}
	/* Whatever the answer, the rest is safe to call and agrees with it. */
	char why2[256] = "";
	assert_int_equal(strata_gpu_trace_start(why2, sizeof(why2)), rc);
	strata_gpu_trace_push("range");
	strata_gpu_trace_enable();
	long n = strata_gpu_trace_collect();
	assert_true(rc == 0 ? n >= 0 : n == 0);
	strata_gpu_trace_pop();
	strata_gpu_trace_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_or_explain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
