/* nvml.c: NVML through dlopen, facts, samples, counters, the sampler thread
 * and the cool-down wait (see nvml.h).
 *
 * The prototypes below follow NVIDIA's nvml.h (API version 12, as shipped
 * with CUDA 12.x/13.x): nvmlReturn_t, the enums and nvmlEnableState_t are C
 * enums (int); nvmlDevice_t is an opaque pointer; nvmlMemory_t and
 * nvmlUtilization_t are the structs copied here.  Symbols a driver lacks are
 * left NULL and the fact they give is reported as unknown.
 * The loaded library is the one process-wide state here (loaded once,
 * pthread_once), as NVML itself is process-wide.
 */
#define _GNU_SOURCE
#include "kernels/gpu/nvml.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/stats.h"

/* ---- the ABI subset ------------------------------------------------------ */
typedef int nvml_return;
enum { NVML_OK = 0, NVML_INSUFFICIENT_SIZE = 7 };
enum { CLOCK_GRAPHICS = 0, CLOCK_SM = 1, CLOCK_MEM = 2 };
enum { TEMPERATURE_GPU = 0 };
enum { ERR_CORRECTED = 0, ERR_UNCORRECTED = 1 };
enum { VOLATILE_ECC = 0 };
enum { RETIRE_SBE = 0, RETIRE_DBE = 1 };
enum { NVLINK_MAX_LINKS = 18 };

struct nvml_memory { unsigned long long total, free, used; };
struct nvml_utilization { unsigned int gpu, memory; };

struct nvml_api {
	void *lib;
	nvml_return (*init)(void);
	const char *(*error_string)(nvml_return);
	nvml_return (*driver_version)(char *, unsigned int);
	nvml_return (*cuda_driver_version)(int *);
	nvml_return (*by_pci)(const char *, strata_nvml_device *);
	nvml_return (*name)(strata_nvml_device, char *, unsigned int);
	nvml_return (*uuid)(strata_nvml_device, char *, unsigned int);
	nvml_return (*memory)(strata_nvml_device, struct nvml_memory *);
	nvml_return (*clock)(strata_nvml_device, int, unsigned int *);
	nvml_return (*max_clock)(strata_nvml_device, int, unsigned int *);
	nvml_return (*temperature)(strata_nvml_device, int, unsigned int *);
	nvml_return (*power)(strata_nvml_device, unsigned int *);
	nvml_return (*power_limit)(strata_nvml_device, unsigned int *);
	nvml_return (*utilization)(strata_nvml_device, struct nvml_utilization *);
	nvml_return (*reasons)(strata_nvml_device, unsigned long long *);
	nvml_return (*energy)(strata_nvml_device, unsigned long long *);
	nvml_return (*ecc_mode)(strata_nvml_device, int *, int *);
	nvml_return (*ecc_errors)(strata_nvml_device, int, int, unsigned long long *);
	nvml_return (*retired_pages)(strata_nvml_device, int, unsigned int *, unsigned long long *);
	nvml_return (*remapped_rows)(strata_nvml_device, unsigned int *, unsigned int *,
				     unsigned int *, unsigned int *);
	nvml_return (*pcie_gen)(strata_nvml_device, unsigned int *);
	nvml_return (*pcie_width)(strata_nvml_device, unsigned int *);
	nvml_return (*pcie_gen_max)(strata_nvml_device, unsigned int *);
	nvml_return (*pcie_width_max)(strata_nvml_device, unsigned int *);
	nvml_return (*nvlink_state)(strata_nvml_device, unsigned int, int *);
	nvml_return (*nvlink_version)(strata_nvml_device, unsigned int, unsigned int *);
};

static struct nvml_api api;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = -1;
static char load_why[256];

#define SYM(field, name) *(void **)(&api.field) = dlsym(api.lib, name)

static void load_nvml(void)
{
	api.lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!api.lib) {
		const char *e = dlerror();
		snprintf(load_why, sizeof(load_why), "NVML not available (no NVIDIA driver): %s",
			 e ? e : "dlopen(libnvidia-ml.so.1) failed");
		return;
	}
	SYM(init, "nvmlInit_v2");
	SYM(error_string, "nvmlErrorString");
	SYM(driver_version, "nvmlSystemGetDriverVersion");
	SYM(cuda_driver_version, "nvmlSystemGetCudaDriverVersion_v2");
	SYM(by_pci, "nvmlDeviceGetHandleByPciBusId_v2");
	SYM(name, "nvmlDeviceGetName");
	SYM(uuid, "nvmlDeviceGetUUID");
	SYM(memory, "nvmlDeviceGetMemoryInfo");
	SYM(clock, "nvmlDeviceGetClockInfo");
	SYM(max_clock, "nvmlDeviceGetMaxClockInfo");
	SYM(temperature, "nvmlDeviceGetTemperature");
	SYM(power, "nvmlDeviceGetPowerUsage");
	SYM(power_limit, "nvmlDeviceGetEnforcedPowerLimit");
	SYM(utilization, "nvmlDeviceGetUtilizationRates");
	/* Renamed in NVML 12.2 ("clock event reasons"); the old name remains. */
	SYM(reasons, "nvmlDeviceGetCurrentClocksEventReasons");
	if (!api.reasons)
		SYM(reasons, "nvmlDeviceGetCurrentClocksThrottleReasons");
	SYM(energy, "nvmlDeviceGetTotalEnergyConsumption");
	SYM(ecc_mode, "nvmlDeviceGetEccMode");
	SYM(ecc_errors, "nvmlDeviceGetTotalEccErrors");
	SYM(retired_pages, "nvmlDeviceGetRetiredPages");
	SYM(remapped_rows, "nvmlDeviceGetRemappedRows");
	SYM(pcie_gen, "nvmlDeviceGetCurrPcieLinkGeneration");
	SYM(pcie_width, "nvmlDeviceGetCurrPcieLinkWidth");
	SYM(pcie_gen_max, "nvmlDeviceGetMaxPcieLinkGeneration");
	SYM(pcie_width_max, "nvmlDeviceGetMaxPcieLinkWidth");
	SYM(nvlink_state, "nvmlDeviceGetNvLinkState");
	SYM(nvlink_version, "nvmlDeviceGetNvLinkVersion");
	if (!api.init || !api.by_pci) {
		snprintf(load_why, sizeof(load_why),
			 "libnvidia-ml.so.1 lacks nvmlInit_v2 or nvmlDeviceGetHandleByPciBusId_v2 "
			 "(driver too old)");
		return;
	}
	nvml_return rc = api.init();
	if (rc != NVML_OK) {
		snprintf(load_why, sizeof(load_why), "nvmlInit_v2 failed: %s (%d)",
			 api.error_string ? api.error_string(rc) : "?", rc);
		return;
	}
	load_rc = 0;
}

int strata_nvml_load(char *why, size_t why_len)
{
	pthread_once(&load_once, load_nvml);
	if (load_rc != 0 && why)
		snprintf(why, why_len, "%s", load_why);
	return load_rc;
}

static const char *nvml_err(nvml_return rc)
{
	return api.error_string ? api.error_string(rc) : "unknown NVML error";
}

int strata_nvml_device_by_pci(const char *bus_id, strata_nvml_device *dev, char *why,
			      size_t why_len)
{
	if (strata_nvml_load(why, why_len) != 0)
		return -1;
	nvml_return rc = api.by_pci(bus_id, dev);
	if (rc != NVML_OK) {
		snprintf(why, why_len, "nvmlDeviceGetHandleByPciBusId_v2(%s): %s", bus_id,
			 nvml_err(rc));
		return -1;
	}
	return 0;
}

/* Call an optional unsigned getter; -1 when absent or failing. */
static int get_uint(nvml_return (*fn)(strata_nvml_device, unsigned int *), strata_nvml_device d)
{
	unsigned int v = 0;
	return fn && fn(d, &v) == NVML_OK ? (int)v : -1;
}

static int get_clock(nvml_return (*fn)(strata_nvml_device, int, unsigned int *),
		     strata_nvml_device d, int which)
{
	unsigned int v = 0;
	return fn && fn(d, which, &v) == NVML_OK ? (int)v : -1;
}

void strata_nvml_facts_get(strata_nvml_device dev, struct strata_nvml_facts *f)
{
	memset(f, 0, sizeof(*f));
	/* Every number unknown (-1, as nvml.h promises) until NVML says otherwise,
	 * also when it is not loaded: 0 would read as "gen 0 x0", "0 MHz". */
	f->cuda_driver_version = -1;
	f->memory_total_bytes = -1;
	f->sm_clock_max_mhz = f->mem_clock_max_mhz = f->sm_clock_mhz = f->mem_clock_mhz = -1;
	f->ecc_current = f->ecc_pending = -1;
	f->power_limit_w = -1;
	f->pcie_gen = f->pcie_width = f->pcie_gen_max = f->pcie_width_max = -1;
	f->nvlinks_active = -1;
	f->nvlink_version = -1;
	f->temperature_c = -1;
	if (strata_nvml_load(NULL, 0) != 0)
		return;
	if (api.name)
		api.name(dev, f->name, sizeof(f->name));
	if (api.uuid)
		api.uuid(dev, f->uuid, sizeof(f->uuid));
	if (api.driver_version)
		api.driver_version(f->driver_version, sizeof(f->driver_version));
	if (api.cuda_driver_version)
		api.cuda_driver_version(&f->cuda_driver_version);
	struct nvml_memory mem;
	if (api.memory && api.memory(dev, &mem) == NVML_OK)
		f->memory_total_bytes = (long long)mem.total;
	f->sm_clock_max_mhz = get_clock(api.max_clock, dev, CLOCK_SM);
	f->mem_clock_max_mhz = get_clock(api.max_clock, dev, CLOCK_MEM);
	f->sm_clock_mhz = get_clock(api.clock, dev, CLOCK_SM);
	f->mem_clock_mhz = get_clock(api.clock, dev, CLOCK_MEM);
	int cur = 0, pend = 0;
	if (api.ecc_mode && api.ecc_mode(dev, &cur, &pend) == NVML_OK) {
		f->ecc_current = cur;
		f->ecc_pending = pend;
	}
	int limit_mw = get_uint(api.power_limit, dev);
	f->power_limit_w = limit_mw >= 0 ? limit_mw / 1000.0 : -1;
	f->pcie_gen = get_uint(api.pcie_gen, dev);
	f->pcie_width = get_uint(api.pcie_width, dev);
	f->pcie_gen_max = get_uint(api.pcie_gen_max, dev);
	f->pcie_width_max = get_uint(api.pcie_width_max, dev);
	if (api.nvlink_state) {
		f->nvlinks_active = 0;
		for (unsigned l = 0; l < NVLINK_MAX_LINKS; l++) {
			int active = 0;
			if (api.nvlink_state(dev, l, &active) != NVML_OK)
				break; /* links are numbered from 0; the first error ends them */
			if (active) {
				f->nvlinks_active++;
				unsigned int v = 0;
				if (f->nvlink_version < 0 && api.nvlink_version &&
				    api.nvlink_version(dev, l, &v) == NVML_OK)
					f->nvlink_version = (int)v;
			}
		}
	}
	unsigned int t = 0;
	f->temperature_c = api.temperature && api.temperature(dev, TEMPERATURE_GPU, &t) == NVML_OK
				   ? (int)t : -1;
}

const char *strata_nvml_pcie_peak_link(const struct strata_nvml_facts *f, int *gen, int *width)
{
	if (f->pcie_gen_max > 0 && f->pcie_width_max > 0) {
		*gen = f->pcie_gen_max;
		*width = f->pcie_width_max;
		return "max";
	}
	if (f->pcie_gen > 0 && f->pcie_width > 0) {
		*gen = f->pcie_gen;
		*width = f->pcie_width;
		return "current";
	}
	*gen = *width = -1;
	return NULL;
}

static json_t *int_or_null(long long v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

json_t *strata_nvml_facts_json(const struct strata_nvml_facts *f)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "uuid", json_string(f->uuid));
	json_object_set_new(o, "driver_version", json_string(f->driver_version));
	json_object_set_new(o, "cuda_driver_version", int_or_null(f->cuda_driver_version));
	json_object_set_new(o, "memory_total_bytes", int_or_null(f->memory_total_bytes));
	json_object_set_new(o, "sm_clock_max_mhz", int_or_null(f->sm_clock_max_mhz));
	json_object_set_new(o, "mem_clock_max_mhz", int_or_null(f->mem_clock_max_mhz));
	json_object_set_new(o, "sm_clock_mhz", int_or_null(f->sm_clock_mhz));
	json_object_set_new(o, "mem_clock_mhz", int_or_null(f->mem_clock_mhz));
	json_object_set_new(o, "ecc_enabled",
			    f->ecc_current < 0 ? json_null() : json_boolean(f->ecc_current));
	json_object_set_new(o, "ecc_pending",
			    f->ecc_pending < 0 ? json_null() : json_boolean(f->ecc_pending));
	json_object_set_new(o, "power_limit_w",
			    f->power_limit_w < 0 ? json_null() : json_real(f->power_limit_w));
	json_object_set_new(o, "pcie",
			    json_pack("{s:o,s:o,s:o,s:o}", "gen", int_or_null(f->pcie_gen), "width",
				      int_or_null(f->pcie_width), "gen_max",
				      int_or_null(f->pcie_gen_max), "width_max",
				      int_or_null(f->pcie_width_max)));
	json_object_set_new(o, "nvlink",
			    json_pack("{s:o,s:o}", "links_active", int_or_null(f->nvlinks_active),
				      "version_reported", int_or_null(f->nvlink_version)));
	json_object_set_new(o, "temperature_c", int_or_null(f->temperature_c));
	return o;
}

void strata_nvml_sample(strata_nvml_device dev, struct strata_gpu_sample *s)
{
	s->sm_mhz = s->mem_mhz = s->temp_c = s->power_w = NAN;
	s->util_gpu_pct = s->util_mem_pct = NAN;
	s->reasons = 0;
	if (strata_nvml_load(NULL, 0) != 0)
		return;
	unsigned int v = 0;
	if (api.clock && api.clock(dev, CLOCK_SM, &v) == NVML_OK)
		s->sm_mhz = v;
	if (api.clock && api.clock(dev, CLOCK_MEM, &v) == NVML_OK)
		s->mem_mhz = v;
	if (api.temperature && api.temperature(dev, TEMPERATURE_GPU, &v) == NVML_OK)
		s->temp_c = v;
	if (api.power && api.power(dev, &v) == NVML_OK)
		s->power_w = v / 1000.0; /* milliwatts */
	struct nvml_utilization u;
	if (api.utilization && api.utilization(dev, &u) == NVML_OK) {
		s->util_gpu_pct = u.gpu;
		s->util_mem_pct = u.memory;
	}
	unsigned long long r = 0;
	if (api.reasons && api.reasons(dev, &r) == NVML_OK)
		s->reasons = r;
}

void strata_gpu_reasons_format(uint64_t reasons, char *buf, size_t len)
{
	/* nvml.h nvmlClocksEventReason* bits. */
	static const struct { uint64_t bit; const char *name; } names[] = {
		{ 0x1, "gpu_idle" },        { 0x2, "applications_clocks" },
		{ 0x4, "sw_power_cap" },    { 0x8, "hw_slowdown" },
		{ 0x10, "sync_boost" },     { 0x20, "sw_thermal" },
		{ 0x40, "hw_thermal" },     { 0x80, "hw_power_brake" },
		{ 0x100, "display_clocks" },
	};
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(reasons & names[i].bit))
			continue;
		int w = snprintf(buf + off, off < len ? len - off : 0, "%s%s", off ? "," : "",
				 names[i].name);
		if (w > 0)
			off += (size_t)w;
		reasons &= ~names[i].bit;
	}
	if (reasons && off < len)
		snprintf(buf + off, len - off, "%sother_0x%llx", off ? "," : "",
			 (unsigned long long)reasons);
	else if (off == 0 && len > 0)
		snprintf(buf, len, "none");
}

void strata_nvml_health_get(strata_nvml_device dev, struct strata_nvml_health *h)
{
	h->ecc_corrected_volatile = h->ecc_uncorrected_volatile = -1;
	h->retired_pages_sbe = h->retired_pages_dbe = -1;
	h->remapped_rows_corr = h->remapped_rows_unc = -1;
	h->remap_pending = h->remap_failure = -1;
	if (strata_nvml_load(NULL, 0) != 0)
		return;
	unsigned long long c = 0;
	if (api.ecc_errors && api.ecc_errors(dev, ERR_CORRECTED, VOLATILE_ECC, &c) == NVML_OK)
		h->ecc_corrected_volatile = (long long)c;
	if (api.ecc_errors && api.ecc_errors(dev, ERR_UNCORRECTED, VOLATILE_ECC, &c) == NVML_OK)
		h->ecc_uncorrected_volatile = (long long)c;
	/* The count alone: a zero-length query answers with the size needed. */
	unsigned int count = 0;
	nvml_return rc;
	if (api.retired_pages) {
		rc = api.retired_pages(dev, RETIRE_SBE, &count, NULL);
		if (rc == NVML_OK || rc == NVML_INSUFFICIENT_SIZE)
			h->retired_pages_sbe = count;
		count = 0;
		rc = api.retired_pages(dev, RETIRE_DBE, &count, NULL);
		if (rc == NVML_OK || rc == NVML_INSUFFICIENT_SIZE)
			h->retired_pages_dbe = count;
	}
	unsigned int corr = 0, unc = 0, pend = 0, fail = 0;
	if (api.remapped_rows && api.remapped_rows(dev, &corr, &unc, &pend, &fail) == NVML_OK) {
		h->remapped_rows_corr = corr;
		h->remapped_rows_unc = unc;
		h->remap_pending = (int)pend;
		h->remap_failure = (int)fail;
	}
}

static json_t *counter_json(long long a, long long b)
{
	if (a < 0 || b < 0)
		return json_null();
	return json_pack("{s:I,s:I,s:I}", "start", (json_int_t)a, "end", (json_int_t)b, "delta",
			 (json_int_t)(b - a));
}

json_t *strata_nvml_health_json(const struct strata_nvml_health *s,
				const struct strata_nvml_health *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "ecc_corrected_volatile",
			    counter_json(s->ecc_corrected_volatile, e->ecc_corrected_volatile));
	json_object_set_new(o, "ecc_uncorrected_volatile",
			    counter_json(s->ecc_uncorrected_volatile, e->ecc_uncorrected_volatile));
	json_object_set_new(o, "retired_pages_sbe",
			    counter_json(s->retired_pages_sbe, e->retired_pages_sbe));
	json_object_set_new(o, "retired_pages_dbe",
			    counter_json(s->retired_pages_dbe, e->retired_pages_dbe));
	json_object_set_new(o, "remapped_rows_correctable",
			    counter_json(s->remapped_rows_corr, e->remapped_rows_corr));
	json_object_set_new(o, "remapped_rows_uncorrectable",
			    counter_json(s->remapped_rows_unc, e->remapped_rows_unc));
	json_object_set_new(o, "remap_pending",
			    e->remap_pending < 0 ? json_null() : json_boolean(e->remap_pending));
	json_object_set_new(o, "remap_failure",
			    e->remap_failure < 0 ? json_null() : json_boolean(e->remap_failure));
	return o;
}

int strata_nvml_energy_mj(strata_nvml_device dev, unsigned long long *mj)
{
	if (strata_nvml_load(NULL, 0) != 0 || !api.energy)
		return -1;
	return api.energy(dev, mj) == NVML_OK ? 0 : -1;
}

/* ---- statistics --------------------------------------------------------------- */

static void range_of(const struct strata_gpu_sample *s, size_t n, size_t offset,
		     struct strata_gpu_range *r, double *scratch)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		double v = *(const double *)((const char *)&s[i] + offset);
		if (!isnan(v))
			scratch[m++] = v;
	}
	r->n = (int)m;
	r->min = r->median = r->max = NAN;
	struct strata_stats st;
	if (m > 0 && strata_stats_compute(scratch, m, &st) == 0) {
		r->min = st.min;
		r->median = st.median;
		r->max = st.max;
	}
}

void strata_gpu_telemetry_summarise(const struct strata_gpu_sample *s, size_t n,
				    struct strata_gpu_telemetry_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->samples = (int)n;
	double *scratch = n ? malloc(n * sizeof(*scratch)) : NULL;
	struct { size_t off; struct strata_gpu_range *r; } fields[] = {
		{ offsetof(struct strata_gpu_sample, sm_mhz), &out->sm_mhz },
		{ offsetof(struct strata_gpu_sample, mem_mhz), &out->mem_mhz },
		{ offsetof(struct strata_gpu_sample, temp_c), &out->temp_c },
		{ offsetof(struct strata_gpu_sample, power_w), &out->power_w },
		{ offsetof(struct strata_gpu_sample, util_gpu_pct), &out->util_gpu_pct },
		{ offsetof(struct strata_gpu_sample, util_mem_pct), &out->util_mem_pct },
	};
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		if (scratch)
			range_of(s, n, fields[f].off, fields[f].r, scratch);
		else
			*fields[f].r = (struct strata_gpu_range){ 0, NAN, NAN, NAN };
	}
	free(scratch);
	for (size_t i = 0; i < n; i++) {
		out->reasons_seen |= s[i].reasons;
		if (s[i].reasons & STRATA_GPU_THROTTLE_MASK)
			out->throttled_samples++;
		/* Trapezoids between consecutive samples that both know the power. */
		if (i > 0 && !isnan(s[i].power_w) && !isnan(s[i - 1].power_w))
			out->energy_from_power_j +=
				0.5 * (s[i].power_w + s[i - 1].power_w) * (s[i].t_s - s[i - 1].t_s);
	}
	out->throttled = out->throttled_samples > 0;
	out->span_s = n > 1 ? s[n - 1].t_s - s[0].t_s : 0.0;
}

static json_t *range_json(const struct strata_gpu_range *r, const char *unit)
{
	if (r->n == 0)
		return json_null();
	return json_pack("{s:s,s:i,s:f,s:f,s:f}", "unit", unit, "n", r->n, "min", r->min,
			 "median", r->median, "max", r->max);
}

json_t *strata_gpu_telemetry_json(const struct strata_gpu_telemetry_summary *sum,
				  double interval_ms)
{
	char reasons[256];
	strata_gpu_reasons_format(sum->reasons_seen, reasons, sizeof(reasons));
	json_t *o = json_object();
	json_object_set_new(o, "source", json_string("NVML, sampled by a background thread"));
	json_object_set_new(o, "interval_ms", json_real(interval_ms));
	json_object_set_new(o, "samples", json_integer(sum->samples));
	json_object_set_new(o, "span_s", json_real(sum->span_s));
	json_object_set_new(o, "sm_clock", range_json(&sum->sm_mhz, "MHz"));
	json_object_set_new(o, "mem_clock", range_json(&sum->mem_mhz, "MHz"));
	json_object_set_new(o, "temperature", range_json(&sum->temp_c, "C"));
	json_object_set_new(o, "power", range_json(&sum->power_w, "W"));
	json_object_set_new(o, "utilization_gpu", range_json(&sum->util_gpu_pct, "%"));
	json_object_set_new(o, "utilization_memory", range_json(&sum->util_mem_pct, "%"));
	json_object_set_new(o, "clock_event_reasons_seen", json_string(reasons));
	json_object_set_new(o, "throttled_samples", json_integer(sum->throttled_samples));
	json_object_set_new(o, "throttled", json_boolean(sum->throttled));
	json_object_set_new(o, "throttle_rule",
			    json_string("a sample counts as throttled when NVML's clock-event "
					"reasons include sw_power_cap, hw_slowdown, sw_thermal, "
					"hw_thermal or hw_power_brake"));
	return o;
}

/* ---- sampler thread ------------------------------------------------------------- */

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void take_sample(struct strata_gpu_telemetry *tel)
{
	struct strata_gpu_sample s;
	strata_nvml_sample(tel->dev, &s);
	s.t_s = (double)(now_ns() - tel->t0_ns) * 1e-9;
	pthread_mutex_lock(&tel->lock);
	if (tel->n == tel->cap) {
		size_t cap = tel->cap ? tel->cap * 2 : 256;
		struct strata_gpu_sample *ns = realloc(tel->samples, cap * sizeof(*ns));
		if (!ns) {
			pthread_mutex_unlock(&tel->lock);
			return; /* keep what we have */
		}
		tel->samples = ns;
		tel->cap = cap;
	}
	tel->samples[tel->n++] = s;
	pthread_mutex_unlock(&tel->lock);
}

static void *sampler_main(void *arg)
{
	struct strata_gpu_telemetry *tel = arg;
	const long long step_ns = (long long)(tel->interval_ms * 1e6);
	long long next = now_ns();
	for (;;) {
		pthread_mutex_lock(&tel->lock);
		int stop = tel->stop;
		pthread_mutex_unlock(&tel->lock);
		if (stop)
			break;
		take_sample(tel);
		/* Fixed rate, not fixed gap: sleep to the next tick. */
		next += step_ns;
		long long wait = next - now_ns();
		if (wait > 0) {
			struct timespec ts = { wait / 1000000000LL, wait % 1000000000LL };
			nanosleep(&ts, NULL);
		} else {
			next = now_ns();
		}
	}
	return NULL;
}

int strata_gpu_telemetry_start(struct strata_gpu_telemetry *tel, strata_nvml_device dev,
			       double interval_ms)
{
	memset(tel, 0, sizeof(*tel));
	tel->dev = dev;
	tel->interval_ms = interval_ms > 0 ? interval_ms : 100.0;
	tel->t0_ns = now_ns();
	if (pthread_mutex_init(&tel->lock, NULL) != 0)
		return -1;
	if (pthread_create(&tel->thread, NULL, sampler_main, tel) != 0) {
		pthread_mutex_destroy(&tel->lock);
		return -1;
	}
	tel->running = 1;
	return 0;
}

void strata_gpu_telemetry_stop(struct strata_gpu_telemetry *tel,
			       struct strata_gpu_telemetry_summary *out)
{
	if (tel->running) {
		pthread_mutex_lock(&tel->lock);
		tel->stop = 1;
		pthread_mutex_unlock(&tel->lock);
		pthread_join(tel->thread, NULL);
		tel->running = 0;
		take_sample(tel); /* the state at the end of the case */
	}
	strata_gpu_telemetry_summarise(tel->samples, tel->n, out);
}

void strata_gpu_telemetry_release(struct strata_gpu_telemetry *tel)
{
	struct strata_gpu_telemetry_summary ignore;
	if (tel->running)
		strata_gpu_telemetry_stop(tel, &ignore);
	free(tel->samples);
	tel->samples = NULL;
	tel->n = tel->cap = 0;
	if (tel->t0_ns)
		pthread_mutex_destroy(&tel->lock);
	tel->t0_ns = 0;
}

/* ---- quiescence ---------------------------------------------------------------------- */

void strata_gpu_wait_cool(strata_nvml_device dev, double target_c, double settle_s,
			  double timeout_s, struct strata_gpu_cool *out)
{
	enum { POLL_MS = 200, HIST = 10 * 1000 / POLL_MS + 2 };
	double hist_t[HIST], hist_c[HIST]; /* the last samples, for the settle rule */
	int n_hist = 0;
	memset(out, 0, sizeof(*out));
	if (settle_s > 10)
		settle_s = 10;
	out->target_c = target_c;
	out->settle_s = settle_s > 0 ? settle_s : 0;
	out->timeout_s = timeout_s;
	long long t0 = now_ns();
	struct strata_gpu_sample s;
	strata_nvml_sample(dev, &s);
	out->start_temp_c = s.temp_c;
	out->util_at_start_pct = isnan(s.util_gpu_pct) ? -1 : (int)s.util_gpu_pct;
	for (;;) {
		double waited = (double)(now_ns() - t0) * 1e-9;
		int idle = isnan(s.util_gpu_pct) || s.util_gpu_pct <= 0;
		int cool = isnan(s.temp_c) || isnan(target_c) || s.temp_c <= target_c;
		/* Settled: the youngest sample at least settle_s old is less
		 * than STRATA_GPU_SETTLE_DROP_C warmer than now. */
		int settled = !(settle_s > 0) || isnan(s.temp_c);
		for (int k = n_hist - 1; k >= 0 && !settled; k--) {
			if (waited - hist_t[k] >= settle_s) {
				settled = hist_c[k] - s.temp_c < STRATA_GPU_SETTLE_DROP_C;
				break;
			}
		}
		if ((idle && cool && settled) || waited >= timeout_s) {
			out->reached = idle && cool && settled;
			out->end_temp_c = s.temp_c;
			out->wait_s = waited;
			return;
		}
		/* Keep the newest HIST samples (10 s and more). */
		if (n_hist == HIST) {
			memmove(hist_t, hist_t + 1, (HIST - 1) * sizeof(double));
			memmove(hist_c, hist_c + 1, (HIST - 1) * sizeof(double));
			n_hist--;
		}
		hist_t[n_hist] = waited;
		hist_c[n_hist++] = s.temp_c;
		struct timespec ts = { 0, POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
		strata_nvml_sample(dev, &s);
	}
}
