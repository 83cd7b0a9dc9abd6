/* gpu_case.h: what every GPU case does around its measurement, shared by the
 * gemm, membw and collective suites when device is cuda.
 *
 * What it is: choosing this rank's GPU (the plan's `gpu`, else local rank
 * modulo the devices this process sees), the skip reasons when there is no
 * usable GPU (built without CUDA, no driver, no device, too little memory),
 * the wait until the GPU is idle and cool, the NVML sampler during the case,
 * the energy of the timed phase, memory-health counters, and the record's
 * "gpu", "quiescence", "telemetry", "health" and "energy" objects.
 * What it is not: a measurement; the suites time and check their own work.
 * Built with or without CUDA (without, open always skips).
 *
 * Settings from the environment (the same for every GPU case of a run):
 *   STRATA_GPU_COOL_C          temperature to wait for before a case; default:
 *                              5 C above the coolest idle temperature this
 *                              process has seen on that GPU (none seen yet,
 *                              as when it is busy at the first case: wait for
 *                              idle only, target null in the record)
 *   STRATA_GPU_SETTLE_S        the first case on each GPU, when STRATA_GPU_COOL_C
 *                              is unset, also waits until the temperature fell
 *                              by less than 1 C over this many seconds (a GPU
 *                              still cooling from earlier work), default 5
 *                              (0: no such wait; at most 10)
 *   STRATA_GPU_COOL_TIMEOUT_S  longest wait, default 30 (0: no wait)
 *   STRATA_GPU_SAMPLE_MS       NVML sampling interval, default 100
 */
#ifndef STRATA_KERNELS_GPU_GPU_CASE_H
#define STRATA_KERNELS_GPU_GPU_CASE_H

#include <stdint.h>

#include <jansson.h>
#include <mpi.h>

#include "harness/suite.h"
#include "kernels/cuda/cuda_device.h" /* plain C; its functions exist only with CUDA */
#include "kernels/gpu/gpu_locality.h"
#include "kernels/gpu/gpu_peak.h"
#include "kernels/gpu/nvml.h"

struct strata_gpu_case {
	int device;                  /* CUDA ordinal used */
	char selected_by[192];
	struct strata_cuda_device info;
	int nvml_ok;
	char nvml_why[256];
	strata_nvml_device nvml;
	struct strata_nvml_facts facts;
	struct strata_gpu_locality loc;
	const struct strata_gpu_model *model; /* NULL when not in the table */
	struct strata_gpu_cool cool;
	int cool_done;
	struct strata_gpu_telemetry tel;
	int tel_started, stopped;
	struct strata_gpu_telemetry_summary sum;
	struct strata_nvml_health health_start, health_end;
	int energy_started, energy_ok;
	unsigned long long energy_start_mj, energy_end_mj;
	long long energy_start_ns, energy_end_ns;
	int64_t timed_launches;      /* launches run during the timed phase */
	double sample_ms;
};

/* The skip reason of a build without CUDA, for a suite's setup. */
#define STRATA_GPU_NOT_BUILT "strata was built without CUDA (STRATA_CUDA=OFF or no toolkit found): skipped"

/* Choose and open this rank's GPU, wait until it is cool, start the sampler.
 * gpu_param < 0: local rank modulo the device count.  Returns STRATA_OK,
 * STRATA_SKIP or STRATA_ERROR with the reason in c->err (prefixed with
 * what).  On anything but OK, g needs no close. */
int strata_gpu_case_open(struct strata_gpu_case *g, const struct strata_case *c,
			 int64_t gpu_param, const char *what);

/* STRATA_SKIP (reason in c->err) when the device has less than bytes free
 * (plus 5% and 256 MiB for the runtime and libraries), else STRATA_OK. */
int strata_gpu_case_check_memory(const struct strata_gpu_case *g, const struct strata_case *c,
				 double bytes, const char *what);

/* One GPU per rank, as NCCL needs (ncclCommInitRank fails with "Duplicate
 * GPU detected" otherwise): STRATA_SKIP with the reason in c->err when
 * another rank of comm on this host uses the same GPU.  Compared by PCI bus
 * id, not by counting the devices this process sees: under Slurm's
 * --gpus-per-task or a per-rank CUDA_VISIBLE_DEVICES every rank sees one
 * device, its own, and that is a valid layout.  Collective over comm; rc is
 * this rank's status so far (a rank whose GPU did not open, g NULL or not,
 * compares nothing) and is returned unless a GPU is shared. */
int strata_gpu_case_shared(const struct strata_gpu_case *g, const struct strata_case *c,
			   MPI_Comm comm, int rc, const char *what);
/* Around each run_once: before_run starts the energy count at the first
 * timed repetition; after_run counts the launches of timed repetitions. */
void strata_gpu_case_before_run(struct strata_gpu_case *g, const struct strata_case *c);
void strata_gpu_case_after_run(struct strata_gpu_case *g, const struct strata_case *c,
			       int launches);

/* End of the measured part (call first thing in verify): energy, sampler,
 * health counters.  Idempotent. */
void strata_gpu_case_stop(struct strata_gpu_case *g);

/* Add the gpu, quiescence, telemetry, health and energy objects.  work is
 * the work of one launch in work_unit ("GFLOP" or "GB"); the efficiency
 * figure is work_unit per joule over the timed phase. */
void strata_gpu_case_describe(const struct strata_gpu_case *g, json_t *details, double work,
			      const char *work_unit);

void strata_gpu_case_close(struct strata_gpu_case *g);

/* Launches per run_once for a batch of about target_s, from the time of one
 * launch (at least 1, at most max). */
int strata_gpu_batch_size(double launch_s, double target_s, int max);

#endif
