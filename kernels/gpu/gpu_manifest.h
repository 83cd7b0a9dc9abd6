/* gpu_manifest.h: the GPUs of this host for the manifest (harness/sysinfo.c).
 *
 * What it is: for each CUDA device this process sees: name, UUID, compute
 * capability, SMs, memory, clocks, ECC, power limit, PCIe link and NVLink
 * state (NVML, through dlopen), NUMA node and local CPUs (hwloc), and the
 * peaks derived from those facts (PCIe from generation and width, NVLink
 * from active links and generation, HBM and FLOPs from the table of known
 * GPUs); plus the driver, runtime, cuBLASLt and NCCL versions.  What it is
 * not: a measurement; it creates no CUDA context.  Plain C.
 */
#ifndef STRATA_KERNELS_GPU_GPU_MANIFEST_H
#define STRATA_KERNELS_GPU_GPU_MANIFEST_H

#include <jansson.h>

/* {"software": {...}, "devices": [...]}, or NULL when strata was built
 * without CUDA or this host has no usable GPU (the manifest then has no
 * "gpus" object at all). */
json_t *strata_gpu_manifest_host(void);

#endif
