/* gpu_peak.c: the table of known GPUs and the link-bandwidth arithmetic (see
 * gpu_peak.h).  Datasheets quote tensor-core figures "with sparsity"; the
 * table holds the dense figure, half of it, as a GEMM on dense matrices can
 * reach at best.  It is not exhaustive: a GPU that is not here has no FLOP or
 * HBM peak until the plan gives one.
 */
#include "kernels/gpu/gpu_peak.h"

#include <ctype.h>
#include <string.h>

#define A100_SRC "NVIDIA A100 Tensor Core GPU datasheet (2021), dense"
#define H100_SRC "NVIDIA H100 Tensor Core GPU datasheet (2023), sparse figures / 2"
#define H200_SRC "NVIDIA H200 Tensor Core GPU datasheet (2024), sparse figures / 2"
#define L40S_SRC "NVIDIA L40S datasheet (2023), sparse figures / 2; FP64 not published"

/* Order matters: more specific names first ("H100 NVL" before "H100",
 * "GH200" before "H200"). */
static const struct strata_gpu_model models[] = {
	/*                                          fp64   fp32  tf32   fp16   bf16   fp8      HBM */
	{ "H100 NVL", 9, 0, "H100 NVL 94GB", { 60.0, 60.0, 417.5, 835.5, 835.5, 1670.5 }, 3900, H100_SRC },
	{ "H100 PCIe", 9, 0, "H100 PCIe 80GB", { 51.0, 51.0, 378.0, 756.5, 756.5, 1513.0 }, 2000, H100_SRC },
	{ "GH200", 9, 0, "GH200 (H100 96GB HBM3)", { 67.0, 67.0, 494.5, 989.5, 989.5, 1979.0 }, 4000,
	  "NVIDIA GH200 Grace Hopper Superchip datasheet (2023), sparse figures / 2" },
	{ "H100", 9, 0, "H100 SXM5 80GB", { 67.0, 67.0, 494.5, 989.5, 989.5, 1979.0 }, 3350, H100_SRC },
	{ "H200 NVL", 9, 0, "H200 NVL 141GB", { 60.0, 60.0, 417.5, 835.5, 835.5, 1670.5 }, 4800, H200_SRC },
	{ "H200", 9, 0, "H200 SXM 141GB", { 67.0, 67.0, 494.5, 989.5, 989.5, 1979.0 }, 4800, H200_SRC },
	{ "A100-SXM4-80GB", 8, 0, "A100 SXM4 80GB", { 19.5, 19.5, 156.0, 312.0, 312.0, 0 }, 2039, A100_SRC },
	{ "A100 80GB PCIe", 8, 0, "A100 PCIe 80GB", { 19.5, 19.5, 156.0, 312.0, 312.0, 0 }, 1935, A100_SRC },
	{ "A100-SXM4-40GB", 8, 0, "A100 SXM4 40GB", { 19.5, 19.5, 156.0, 312.0, 312.0, 0 }, 1555, A100_SRC },
	{ "A100-PCIE-40GB", 8, 0, "A100 PCIe 40GB", { 19.5, 19.5, 156.0, 312.0, 312.0, 0 }, 1555, A100_SRC },
	{ "L40S", 8, 9, "L40S 48GB", { 0, 91.6, 183.0, 362.05, 362.05, 733.0 }, 864, L40S_SRC },
};

const char *strata_gpu_prec_name(enum strata_gpu_prec p)
{
	static const char *const names[STRATA_GPU_NPREC] = { "fp64", "fp32", "tf32",
							      "fp16", "bf16", "fp8" };
	return (unsigned)p < STRATA_GPU_NPREC ? names[p] : NULL;
}

/* strcasestr without _GNU_SOURCE. */
static int contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *h = hay; *h; h++) {
		size_t i = 0;
		while (i < n && h[i] &&
		       tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return 1;
	}
	return n == 0;
}

const struct strata_gpu_model *strata_gpu_peak_lookup(const char *name, int cc_major,
						      int cc_minor)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		const struct strata_gpu_model *m = &models[i];
		if (cc_major > 0 && (m->cc_major != cc_major || m->cc_minor != cc_minor))
			continue;
		if (contains_nocase(name, m->match))
			return m;
	}
	return NULL;
}

const struct strata_gpu_model *strata_gpu_peak_row(size_t i)
{
	return i < sizeof(models) / sizeof(models[0]) ? &models[i] : NULL;
}

double strata_gpu_pcie_gbps(int gen, int width)
{
	/* GT/s per lane and the line-code efficiency of each generation. */
	static const double gts[] = { 0, 2.5, 5.0, 8.0, 16.0, 32.0, 64.0 };
	static const double eff[] = { 0, 8.0 / 10, 8.0 / 10, 128.0 / 130, 128.0 / 130, 128.0 / 130,
				      242.0 / 256 };
	if (gen < 1 || gen > 6 || width <= 0)
		return 0.0;
	return (double)width * gts[gen] * eff[gen] / 8.0;
}

double strata_gpu_nvlink_gbps_per_link(int cc_major, int cc_minor)
{
	if (cc_major == 6 && cc_minor == 0)
		return 20.0;
	if (cc_major == 7 && cc_minor == 0)
		return 25.0;
	if (cc_major == 8 && cc_minor == 0)
		return 25.0;
	if (cc_major == 9 && cc_minor == 0)
		return 25.0;
	if (cc_major == 10)
		return 50.0;
	return 0.0;
}
