/* gpu_case.c: GPU selection, skip reasons, quiescence, telemetry and energy
 * around a GPU case (see gpu_case.h).  The CUDA calls are compiled only
 * with STRATA_HAVE_CUDA; NVML is always reached through dlopen.
 */
#define _GNU_SOURCE
#include "kernels/gpu/gpu_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata_config.h"

static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int strata_gpu_batch_size(double launch_s, double target_s, int max)
{
	if (!(launch_s > 0))
		return 1;
	double n = ceil(target_s / launch_s);
	return n < 1 ? 1 : n > max ? max : (int)n;
}

#if STRATA_HAVE_CUDA
/* The coolest idle temperature seen per device in this process: the default
 * target of the cool-down wait.  Process-wide because GPUs are. */
#define MAX_DEVICES 64
static double idle_baseline_c[MAX_DEVICES];

static double env_double(const char *name, double def)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return def;
	double d = strtod(v, &end);
	return *end == '\0' ? d : def;
}

static void open_nvml(struct strata_gpu_case *g)
{
	if (strata_nvml_device_by_pci(g->info.pci_bus_id, &g->nvml, g->nvml_why,
				      sizeof(g->nvml_why)) != 0)
		return;
	g->nvml_ok = 1;
	strata_nvml_facts_get(g->nvml, &g->facts);
	strata_nvml_health_get(g->nvml, &g->health_start);
}

static void wait_cool(struct strata_gpu_case *g)
{
	double timeout = env_double("STRATA_GPU_COOL_TIMEOUT_S", 30.0);
	struct strata_gpu_sample now;
	strata_nvml_sample(g->nvml, &now);
	double *base = g->device < MAX_DEVICES ? &idle_baseline_c[g->device] : NULL;
	/* 0 is "never seen" (no GPU idles at 0 C). */
	int first = base && *base == 0;
	if (base && !isnan(now.temp_c) && (now.util_gpu_pct <= 0 || isnan(now.util_gpu_pct)) &&
	    (*base == 0 || now.temp_c < *base))
		*base = now.temp_c;
	/* No idle temperature seen yet (busy at the first case): wait for idle
	 * only; NAN is "no target" to strata_gpu_wait_cool and null in the record. */
	const char *planned = getenv("STRATA_GPU_COOL_C");
	double target = env_double("STRATA_GPU_COOL_C", base && *base > 0 ? *base + 5.0 : NAN);
	/* The first case on a GPU has no idle temperature from this run to aim
	 * at, and its first reading may be of a GPU still cooling from earlier
	 * work (a previous job): it also waits until the temperature stops
	 * falling, and what it settles at becomes the baseline. */
	double settle = first && !(planned && *planned) ? env_double("STRATA_GPU_SETTLE_S", 5.0) : 0;
	strata_gpu_wait_cool(g->nvml, target, settle, timeout > 0 ? timeout : 0, &g->cool);
	if (base && g->cool.reached && !isnan(g->cool.end_temp_c) &&
	    (*base == 0 || g->cool.end_temp_c < *base))
		*base = g->cool.end_temp_c;
	g->cool_done = 1;
}
#endif

int strata_gpu_case_open(struct strata_gpu_case *g, const struct strata_case *c,
			 int64_t gpu_param, const char *what)
{
	memset(g, 0, sizeof(*g));
	g->device = -1;
#if !STRATA_HAVE_CUDA
	(void)gpu_param;
	strata_case_errorf(c, "%s: device cuda: %s", what, STRATA_GPU_NOT_BUILT);
	return STRATA_SKIP;
#else
	char why[512];
	int count = 0;
	if (strata_cuda_device_count(&count, why, sizeof(why)) != 0 || count == 0) {
		strata_case_errorf(c, "%s: %s", what, why);
		return STRATA_SKIP;
	}
	if (gpu_param >= 0) {
		if (gpu_param >= count) {
			strata_case_errorf(c, "%s: gpu: %lld, but this process sees %d CUDA device(s): "
					   "skipped", what, (long long)gpu_param, count);
			return STRATA_SKIP;
		}
		g->device = (int)gpu_param;
		snprintf(g->selected_by, sizeof(g->selected_by), "plan (gpu: %lld)",
			 (long long)gpu_param);
	} else {
		g->device = c->local_rank % count;
		const char *ompi = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
		const char *slurm = getenv("SLURM_LOCALID");
		snprintf(g->selected_by, sizeof(g->selected_by),
			 "local rank %d of %d modulo %d visible device(s) (MPI shared-memory split; "
			 "OMPI_COMM_WORLD_LOCAL_RANK=%s, SLURM_LOCALID=%s)",
			 c->local_rank, c->local_size, count, ompi ? ompi : "unset",
			 slurm ? slurm : "unset");
	}
	if (strata_cuda_device_use(g->device, &g->info, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "%s: GPU %d: %s", what, g->device, why);
		return STRATA_ERROR;
	}
	g->model = strata_gpu_peak_lookup(g->info.name, g->info.cc_major, g->info.cc_minor);
	strata_gpu_locality_get(g->info.pci_bus_id, &g->loc);
	g->sample_ms = env_double("STRATA_GPU_SAMPLE_MS", 100.0);
	open_nvml(g);
	if (g->nvml_ok) {
		wait_cool(g);
		if (strata_gpu_telemetry_start(&g->tel, g->nvml, g->sample_ms) == 0)
			g->tel_started = 1;
	}
	return STRATA_OK;
#endif
}

int strata_gpu_case_shared(const struct strata_gpu_case *g, const struct strata_case *c,
			   MPI_Comm comm, int rc, const char *what)
{
	struct gpu_id {
		char host[MPI_MAX_PROCESSOR_NAME];
		char bus[32];
	} mine;
	int nranks = 1, rank = 0, len = 0;
	MPI_Comm_size(comm, &nranks);
	MPI_Comm_rank(comm, &rank);
	memset(&mine, 0, sizeof(mine));
	struct gpu_id *all = calloc((size_t)nranks, sizeof(*all));
	int ok = all != NULL;
	MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm);
	if (!ok) {
		free(all);
		if (rc == STRATA_OK)
			strata_case_errorf(c, "%s: out of memory", what);
		return STRATA_ERROR;
	}
	MPI_Get_processor_name(mine.host, &len);
	if (rc == STRATA_OK && g)
		snprintf(mine.bus, sizeof(mine.bus), "%s", g->info.pci_bus_id);
	MPI_Allgather(&mine, (int)sizeof(mine), MPI_BYTE, all, (int)sizeof(mine), MPI_BYTE, comm);
	int other = -1;
	for (int r = 0; r < nranks && other < 0; r++)
		if (r != rank && mine.bus[0] && strcmp(all[r].bus, mine.bus) == 0 &&
		    strcmp(all[r].host, mine.host) == 0)
			other = r;
	free(all);
	if (other < 0)
		return rc;
	int visible = -1;
#if STRATA_HAVE_CUDA
	char why[256];
	if (strata_cuda_device_count(&visible, why, sizeof(why)) != 0)
		visible = -1;
#endif
	strata_case_errorf(c, "%s: ranks %d and %d on host %s both use GPU %d (%s; %d GPU(s) "
			   "visible to this process): NCCL needs one GPU per rank: skipped",
			   what, rank < other ? rank : other, rank < other ? other : rank,
			   mine.host, g->device, mine.bus, visible);
	return STRATA_SKIP;
}

int strata_gpu_case_check_memory(const struct strata_gpu_case *g, const struct strata_case *c,
				 double bytes, const char *what)
{
	double free_b = (double)g->info.mem_free_bytes;
	double need = bytes * 1.05 + 256.0 * 1024 * 1024;
	if (free_b >= 0 && need > free_b) {
		strata_case_errorf(c, "%s: needs %.3g GB of device memory (%.3g GB + 5%% + 256 MiB); "
				   "GPU %d (%s) has %.3g GB free: skipped",
				   what, need / 1e9, bytes / 1e9, g->device, g->info.name, free_b / 1e9);
		return STRATA_SKIP;
	}
	return STRATA_OK;
}

void strata_gpu_case_before_run(struct strata_gpu_case *g, const struct strata_case *c)
{
	if (!c->timed || g->energy_started)
		return;
	g->energy_started = 1;
	g->energy_start_ns = mono_ns();
	g->energy_ok = g->nvml_ok && strata_nvml_energy_mj(g->nvml, &g->energy_start_mj) == 0;
}

void strata_gpu_case_after_run(struct strata_gpu_case *g, const struct strata_case *c,
			       int launches)
{
	if (c->timed)
		g->timed_launches += launches;
}

void strata_gpu_case_stop(struct strata_gpu_case *g)
{
	if (g->stopped)
		return;
	g->stopped = 1;
	if (g->energy_started) {
		g->energy_end_ns = mono_ns();
		if (g->energy_ok && strata_nvml_energy_mj(g->nvml, &g->energy_end_mj) != 0)
			g->energy_ok = 0;
	}
	if (g->tel_started)
		strata_gpu_telemetry_stop(&g->tel, &g->sum);
	if (g->nvml_ok)
		strata_nvml_health_get(g->nvml, &g->health_end);
}

static json_t *gpu_json(const struct strata_gpu_case *g)
{
	const struct strata_cuda_device *d = &g->info;
	json_t *o = json_object();
	json_object_set_new(o, "index", json_integer(g->device));
	json_object_set_new(o, "selected_by", json_string(g->selected_by));
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "pci_bus_id", json_string(d->pci_bus_id));
	json_object_set_new(o, "compute_capability", json_sprintf("%d.%d", d->cc_major, d->cc_minor));
	json_object_set_new(o, "sms", json_integer(d->sms));
	json_object_set_new(o, "memory_bytes", json_integer(d->mem_total_bytes));
	json_object_set_new(o, "memory_free_bytes_at_setup", json_integer(d->mem_free_bytes));
	json_object_set_new(o, "l2_bytes", json_integer(d->l2_bytes));
	json_object_set_new(o, "cuda_host_numa_id", json_integer(d->host_numa_id));
	if (g->loc.found)
		json_object_set_new(o, "locality",
				    json_pack("{s:i,s:s,s:s,s:s}", "numa_node", g->loc.numa_node,
					      "numa_nodes", g->loc.numa_nodes, "cpus", g->loc.cpus,
					      "source", "hwloc: the PCI device's first non-I/O ancestor"));
	else
		json_object_set_new(o, "locality_error", json_string(g->loc.why));
	if (g->model)
		json_object_set_new(o, "model", json_pack("{s:s,s:s}", "name", g->model->model,
							  "peak_source", g->model->source));
	else
		json_object_set_new(o, "model", json_null());
	if (g->nvml_ok)
		json_object_set_new(o, "nvml", strata_nvml_facts_json(&g->facts));
	else
		json_object_set_new(o, "nvml_error", json_string(g->nvml_why));
	return o;
}

/* NVML's NAN (a GPU that reports no temperature) as null: json_real and
 * json_pack's "f" refuse NAN, and json_pack's NULL would drop the object. */
static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *quiescence_json(const struct strata_gpu_cool *cool)
{
	json_t *o = json_object();
	json_object_set_new(o, "start_temperature_c", real_or_null(cool->start_temp_c));
	json_object_set_new(o, "end_temperature_c", real_or_null(cool->end_temp_c));
	json_object_set_new(o, "target_c", real_or_null(cool->target_c));
	json_object_set_new(o, "settle_s", json_real(cool->settle_s));
	json_object_set_new(o, "wait_s", json_real(cool->wait_s));
	json_object_set_new(o, "timeout_s", json_real(cool->timeout_s));
	json_object_set_new(o, "utilization_at_start_pct", json_integer(cool->util_at_start_pct));
	json_object_set_new(o, "reached", json_boolean(cool->reached));
	json_object_set_new(o, "rule",
			    json_string("before setup: wait until NVML reports 0% utilisation and a "
					"temperature <= target (STRATA_GPU_COOL_C, default 5 C above "
					"the coolest idle temperature seen) and, on the first case on "
					"this GPU without STRATA_GPU_COOL_C, until the temperature "
					"fell by less than 1 C over the last settle_s "
					"(STRATA_GPU_SETTLE_S), at most STRATA_GPU_COOL_TIMEOUT_S"));
	return o;
}

void strata_gpu_case_describe(const struct strata_gpu_case *g, json_t *details, double work,
			      const char *work_unit)
{
	json_object_set_new(details, "gpu", gpu_json(g));
	if (g->cool_done)
		json_object_set_new(details, "quiescence", quiescence_json(&g->cool));
	if (g->tel_started)
		json_object_set_new(details, "telemetry", strata_gpu_telemetry_json(&g->sum, g->sample_ms));
	if (g->nvml_ok)
		json_object_set_new(details, "health",
				    strata_nvml_health_json(&g->health_start, &g->health_end));

	json_t *e = json_object();
	double seconds = (double)(g->energy_end_ns - g->energy_start_ns) * 1e-9;
	double joules = -1;
	const char *source = "none: NVML unavailable";
	if (g->energy_ok && g->energy_end_mj >= g->energy_start_mj) {
		joules = (double)(g->energy_end_mj - g->energy_start_mj) / 1000.0;
		source = "nvmlDeviceGetTotalEnergyConsumption over the timed phase";
	} else if (g->tel_started && g->sum.samples > 1) {
		joules = g->sum.energy_from_power_j; /* the whole case, a fallback */
		source = "trapezoid integral of NVML power samples over the whole case "
			 "(no energy counter)";
		seconds = g->sum.span_s;
	}
	double total_work = work * (double)g->timed_launches;
	json_object_set_new(e, "source", json_string(source));
	json_object_set_new(e, "timed_launches", json_integer(g->timed_launches));
	json_object_set_new(e, "work", json_real(total_work));
	json_object_set_new(e, "work_unit", json_string(work_unit));
	if (joules > 0 && seconds > 0) {
		char unit[32];
		snprintf(unit, sizeof(unit), "%s/J", work_unit);
		json_object_set_new(e, "joules", json_real(joules));
		json_object_set_new(e, "seconds", json_real(seconds));
		json_object_set_new(e, "average_power_w", json_real(joules / seconds));
		json_object_set_new(e, "efficiency",
				    json_pack("{s:f,s:s,s:s}", "value", total_work / joules, "unit",
					      unit, "rule",
					      "work of the timed launches / energy of the timed "
					      "phase (which includes the runner's barriers between "
					      "repetitions)"));
	} else {
		json_object_set_new(e, "joules", json_null());
	}
	json_object_set_new(details, "energy", e);
}

void strata_gpu_case_close(struct strata_gpu_case *g)
{
	strata_gpu_case_stop(g);
	if (g->tel_started)
		strata_gpu_telemetry_release(&g->tel);
	g->tel_started = 0;
}
