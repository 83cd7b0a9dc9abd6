/* peaks.h: the hardware's own peaks, so a measured figure can be quoted as
 * a fraction of what the machine could do at best, without anybody having
 * to hand-set a baseline.
 *
 * Where a peak comes from, in order (the later wins):
 *   1. known datasheet figures for the CPU and GPU models the manifest names
 *      (tables in peaks.c, each row citing its datasheet);
 *   2. facts in the manifest: NIC link rates, PCIe generation and width,
 *      NVLink link counts (when the manifest carries them; see
 *      docs/reports.md for the keys read);
 *   3. a peaks file given by the user (YAML; configs/peaks-example.yaml).
 * Figures a record carries itself (the gemm suite's derived peak_gflops)
 * are used by the limits section directly, before any of these.
 *
 * Keys (units fixed by the key; all bandwidths in GB/s = 1e9 B/s):
 *   memory_bandwidth        per node, DRAM (channels x transfer rate x 8 B)
 *   network_bandwidth       per node, the sum of its NICs' link rates / 8
 *   intranode_bandwidth     per node, what shared-memory MPI transports can
 *                           move (default: memory_bandwidth, stated)
 *   storage_bandwidth       the file system or device the storage suite used, as a whole
 *   cpu_gflops_per_core.D   per core, data type D (float64, float32, bfloat16)
 *   gpu_tflops.D            per GPU, dense, data type D
 *   gpu_memory_bandwidth    per GPU, HBM
 *   nvlink_bandwidth        per GPU, per direction
 *   pcie_bandwidth          per GPU, per direction
 */
#ifndef STRATA_PEAKS_H
#define STRATA_PEAKS_H

#include <stddef.h>

#include <jansson.h>

struct strata_peak {
	char key[64];
	double value;
	char source[320];
};

struct strata_peaks {
	struct strata_peak *p;
	size_t n;
};

/* Peaks the manifest and the datasheet tables give (may be none). */
void strata_peaks_from_manifest(const json_t *manifest, struct strata_peaks *out);
/* Add or replace peaks from a YAML file:
 *   KEY: VALUE                       a number in the key's unit
 *   KEY: {value: V, source: TEXT}
 *   cpu_gflops_per_core: {float64: V, ...}   (and gpu_tflops)
 * Unknown keys and bad values are errors with file:line:column. */
int strata_peaks_load_file(const char *path, struct strata_peaks *peaks, char *err, size_t err_len);
void strata_peaks_set(struct strata_peaks *peaks, const char *key, double value,
                      const char *source);
const struct strata_peak *strata_peaks_get(const struct strata_peaks *peaks, const char *key);
void strata_peaks_release(struct strata_peaks *peaks);

/* 1 when key is one the reports know (the file parser refuses others). */
int strata_peaks_key_known(const char *key);

#endif
