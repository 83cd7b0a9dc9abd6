/* gpu_peak.h: theoretical peaks of NVIDIA GPUs and their links, for the
 * fraction-of-peak figures and the manifest's derived peaks.
 *
 * What it is: (1) a table of known GPUs, keyed by the device name as CUDA and
 * NVML report it ("NVIDIA H100 80GB HBM3") and by compute capability, giving
 * dense (no 2:4 sparsity) tensor/vector FLOP peaks per precision and the HBM
 * bandwidth, each row with the datasheet it comes from; (2) the per-direction
 * bandwidth of a PCIe link from its generation and width, and of an NVLink
 * link from the GPU generation.  A plan's peak_gflops / peak_gbps overrides
 * any of it.  What it is not: a measurement, or a model of clocks under load:
 * datasheet peaks assume the boost clock.  Plain C, no CUDA headers; nothing
 * here prints.
 */
#ifndef STRATA_KERNELS_GPU_GPU_PEAK_H
#define STRATA_KERNELS_GPU_GPU_PEAK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The arithmetic a peak is quoted for. */
enum strata_gpu_prec {
	STRATA_GPU_FP64 = 0, /* FP64 tensor core (DMMA) where the GPU has it, else FP64 vector */
	STRATA_GPU_FP32,     /* FP32 vector (FFMA): cuBLAS SGEMM without TF32 */
	STRATA_GPU_TF32,     /* TF32 tensor core, FP32 accumulate */
	STRATA_GPU_FP16,     /* FP16 tensor core, FP32 accumulate */
	STRATA_GPU_BF16,     /* BF16 tensor core, FP32 accumulate */
	STRATA_GPU_FP8,      /* FP8 (E4M3/E5M2) tensor core, FP32 accumulate */
	STRATA_GPU_NPREC,
};

/* One known GPU model. */
struct strata_gpu_model {
	const char *match;    /* case-insensitive substring of the device name */
	int cc_major, cc_minor; /* compute capability the row applies to */
	const char *model;    /* canonical model name for the record */
	double tflops[STRATA_GPU_NPREC]; /* dense peak TFLOP/s; 0 = none / not published */
	double hbm_gbps;      /* memory bandwidth, GB/s (1e9 bytes/s) */
	const char *source;   /* where the numbers come from */
};

/* "fp64", "fp32", "tf32", "fp16", "bf16", "fp8" (NULL when out of range). */
const char *strata_gpu_prec_name(enum strata_gpu_prec p);

/* The first table row whose match is a substring of name (ignoring case)
 * and whose compute capability equals (cc_major, cc_minor); cc_major <= 0
 * skips the capability test.  NULL when the GPU is not in the table. */
const struct strata_gpu_model *strata_gpu_peak_lookup(const char *name, int cc_major,
						      int cc_minor);

/* Row i of the table (NULL past the end), for tests and `strata list`. */
const struct strata_gpu_model *strata_gpu_peak_row(size_t i);

/* PCIe bandwidth of one direction of a link, GB/s: lanes x transfer rate x
 * encoding efficiency / 8 (PCI-SIG base specifications: gen1 2.5 GT/s and
 * gen2 5 GT/s with 8b/10b; gen3 8, gen4 16, gen5 32 GT/s with 128b/130b; gen6
 * 64 GT/s PAM4 with 242/256 FLIT efficiency).  Protocol overhead (TLP
 * headers, flow control) is not subtracted, so a copy engine reaches about
 * 80-90% of it.  0 for an unknown generation or a width <= 0. */
double strata_gpu_pcie_gbps(int gen, int width);

/* NVLink bandwidth of one link in one direction, GB/s, by GPU generation:
 * Pascal (cc 6.0) NVLink 1: 20; Volta (7.0) NVLink 2: 25; Ampere (8.0)
 * NVLink 3: 25; Hopper (9.0) NVLink 4: 25; Blackwell (10.x) NVLink 5: 50
 * (NVIDIA's NVLink pages: 18 links x 50 GB/s = 900 GB/s total on H100, 18 x
 * 100 = 1.8 TB/s on B200, both counting the two directions).  0 when the
 * generation has no NVLink or is unknown. */
double strata_gpu_nvlink_gbps_per_link(int cc_major, int cc_minor);

#ifdef __cplusplus
}
#endif

#endif
