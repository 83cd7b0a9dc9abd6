/* nvml.h: GPU facts and telemetry through NVML, loaded at run time.
 *
 * What it is: libnvidia-ml.so.1 opened with dlopen (the driver installs it;
 * no NVML header or import library is needed to build, and a machine without
 * a driver still runs: every call then reports why it has nothing); the few
 * NVML calls strata uses, declared here with the ABI of NVIDIA's nvml.h (API
 * version 12); static device facts for the manifest; one sample of the
 * changing state (clocks, temperature, power, utilisation, clock-event
 * reasons); ECC and retired-page counters; the total-energy counter; a
 * background sampling thread with min/median/max statistics; and the
 * idle-and-cool wait before a case.
 * What it is not: CUDA.  Devices are found by PCI bus id, which the CUDA
 * side reports, because NVML and CUDA may number GPUs differently.  Nothing
 * here prints; plain C, built with or without the CUDA backend.
 */
#ifndef STRATA_KERNELS_GPU_NVML_H
#define STRATA_KERNELS_GPU_NVML_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* An NVML device handle (nvmlDevice_t). */
typedef void *strata_nvml_device;

/* Load NVML and call nvmlInit_v2, once per process (later calls return the
 * first outcome).  Returns 0, or -1 with why ("libnvidia-ml.so.1: cannot
 * open shared object file", "nvmlInit_v2: Driver Not Loaded", ...). */
int strata_nvml_load(char *why, size_t why_len);

/* The device at a PCI bus id such as "0000:3B:00.0" (nvmlDeviceGetHandleByPciBusId_v2).
 * Returns 0, or -1 with why. */
int strata_nvml_device_by_pci(const char *bus_id, strata_nvml_device *dev, char *why,
			      size_t why_len);

/* Static facts; a field NVML cannot give is left at -1 (numbers) or "" (text). */
struct strata_nvml_facts {
	char name[96];
	char uuid[96];
	char driver_version[80];
	int cuda_driver_version;     /* e.g. 12080 for 12.8 */
	long long memory_total_bytes;
	int sm_clock_max_mhz, mem_clock_max_mhz;
	int sm_clock_mhz, mem_clock_mhz; /* at the time of the query */
	int ecc_current, ecc_pending;    /* 1 enabled, 0 disabled */
	double power_limit_w;            /* enforced power limit */
	int pcie_gen, pcie_width;        /* current link */
	int pcie_gen_max, pcie_width_max;
	int nvlinks_active;              /* links in state active (of up to 18) */
	int nvlink_version;              /* as NVML reports it for the first active link */
	int temperature_c;
};
void strata_nvml_facts_get(strata_nvml_device dev, struct strata_nvml_facts *out);
/* The PCIe link a copy-engine peak assumes: the maximum this GPU and its slot
 * can train to (pcie_gen_max x pcie_width_max, "max"), because an idle GPU
 * drops its current link to a lower generation to save power (nvidia-smi -q:
 * "Current: 1" at idle, back to the maximum under load), so the current link
 * read before a case understates the peak; the current link ("current") where
 * the maximum is unknown; NULL (gen and width -1) when neither is known. */
const char *strata_nvml_pcie_peak_link(const struct strata_nvml_facts *f, int *gen, int *width);
json_t *strata_nvml_facts_json(const struct strata_nvml_facts *f);

/* One telemetry sample.  A quantity NVML cannot give is NAN. */
struct strata_gpu_sample {
	double t_s;          /* seconds since the sampler started */
	double sm_mhz, mem_mhz;
	double temp_c;
	double power_w;
	double util_gpu_pct, util_mem_pct;
	uint64_t reasons;    /* clock-event (throttle) reason bits, 0 when unknown */
};
void strata_nvml_sample(strata_nvml_device dev, struct strata_gpu_sample *out);

/* Clock-event reasons that mean the GPU ran slower than it could (nvml.h:
 * SW power cap 0x4, HW slowdown 0x8, SW thermal 0x20, HW thermal 0x40, HW
 * power brake 0x80); GPU idle, application clocks, sync boost and display
 * settings are not throttling. */
#define STRATA_GPU_THROTTLE_MASK 0xECull
/* "sw_power_cap,hw_thermal" for the bits of reasons (all of NVML's names). */
void strata_gpu_reasons_format(uint64_t reasons, char *buf, size_t len);

/* Memory health counters; -1 when not supported. */
struct strata_nvml_health {
	long long ecc_corrected_volatile, ecc_uncorrected_volatile;
	long long retired_pages_sbe, retired_pages_dbe; /* page retirement (pre-Ampere) */
	long long remapped_rows_corr, remapped_rows_unc; /* row remapping (Ampere+) */
	int remap_pending, remap_failure;
};
void strata_nvml_health_get(strata_nvml_device dev, struct strata_nvml_health *out);
json_t *strata_nvml_health_json(const struct strata_nvml_health *start,
				const struct strata_nvml_health *end);

/* The total-energy counter, millijoules since the driver loaded
 * (nvmlDeviceGetTotalEnergyConsumption, Volta+).  Returns 0 or -1. */
int strata_nvml_energy_mj(strata_nvml_device dev, unsigned long long *mj);

/* ---- statistics of a case's samples (pure; tested on synthetic data) ---- */
struct strata_gpu_range {
	int n;                 /* samples where the quantity was known */
	double min, median, max;
};
struct strata_gpu_telemetry_summary {
	int samples;
	double span_s;                /* last t_s - first t_s */
	struct strata_gpu_range sm_mhz, mem_mhz, temp_c, power_w, util_gpu_pct, util_mem_pct;
	uint64_t reasons_seen;        /* OR over samples */
	int throttled_samples;        /* samples with a STRATA_GPU_THROTTLE_MASK bit */
	int throttled;                /* throttled_samples > 0 */
	double energy_from_power_j;   /* trapezoid integral of power_w over t_s */
};
void strata_gpu_telemetry_summarise(const struct strata_gpu_sample *s, size_t n,
				    struct strata_gpu_telemetry_summary *out);
json_t *strata_gpu_telemetry_json(const struct strata_gpu_telemetry_summary *sum,
				  double interval_ms);

/* ---- the background sampler ---------------------------------------------- */
struct strata_gpu_telemetry {
	strata_nvml_device dev;
	double interval_ms;
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	int stop;                      /* under lock */
	struct strata_gpu_sample *samples; /* under lock */
	size_t n, cap;
	long long t0_ns;
};
/* Start sampling dev every interval_ms on a new thread.  Returns 0 or -1. */
int strata_gpu_telemetry_start(struct strata_gpu_telemetry *tel, strata_nvml_device dev,
			       double interval_ms);
/* Stop the thread (takes one last sample) and summarise; safe to call when
 * never started (the summary is then empty). */
void strata_gpu_telemetry_stop(struct strata_gpu_telemetry *tel,
			       struct strata_gpu_telemetry_summary *out);
void strata_gpu_telemetry_release(struct strata_gpu_telemetry *tel);

/* ---- quiescence ------------------------------------------------------------ */
struct strata_gpu_cool {
	double start_temp_c;    /* when the wait began */
	double end_temp_c;      /* when it ended */
	double target_c;        /* temperature waited for */
	double settle_s;        /* > 0: also waited for the temperature to settle */
	double wait_s;
	double timeout_s;
	int util_at_start_pct;
	int reached;            /* 1: idle, at or below target (and settled) before the timeout */
};
/* A temperature has settled when it fell by less than this over the last
 * settle_s seconds. */
#define STRATA_GPU_SETTLE_DROP_C 1.0
/* Wait until the GPU reports 0% utilisation and a temperature <= target_c
 * (NAN: any temperature) and, when settle_s > 0 (at most 10 s), one that has
 * stopped falling (less than STRATA_GPU_SETTLE_DROP_C over the last settle_s),
 * polling every 200 ms, for at most timeout_s. */
void strata_gpu_wait_cool(strata_nvml_device dev, double target_c, double settle_s,
			  double timeout_s, struct strata_gpu_cool *out);

#endif
