/* mock_nvml.c: a stand-in for the driver's libnvidia-ml.so.1, built as a
 * shared library of that name (tests/CMakeLists.txt) so that
 * kernels/gpu/nvml.c's dlopen finds it when LD_LIBRARY_PATH names its folder
 * (tests/mock_cuda/nvml_suite.sh).
 *
 * What it is: every nvml* function nvml.c resolves, with the ABI of NVIDIA's
 * nvml.h (API version 12: nvmlReturn_t and the enums are int, nvmlDevice_t an
 * opaque pointer), answering like an H100 SXM5 whose state follows the wall
 * time since nvmlInit_v2.  The devices are the ones mock_device.c reports:
 * MOCK_CUDA_DEVICES of them at PCI bus 0x18 + ordinal, so the handle that
 * nvmlDeviceGetHandleByPciBusId_v2 returns is the CUDA device's, and its UUID
 * carries the bus number ("GPU-...-000000000018" for bus 0x18) for the test
 * to check the match.  Knobs (environment, read at each call):
 *   MOCK_NVML_INIT_FAIL=1      nvmlInit_v2 fails (Driver Not Loaded)
 *   MOCK_NVML_TEMP_IDLE        idle temperature, C (default 35)
 *   MOCK_NVML_TEMP_START       temperature at nvmlInit_v2 (default: idle); the
 *                              GPU cools linearly to idle at
 *   MOCK_NVML_COOL_C_PER_S     degrees per second (default 20; 0: never cools)
 *   MOCK_NVML_NO_TEMP=1        the temperature query answers Not Supported
 *   MOCK_NVML_BUSY_S           utilisation 100% for this long after init (default 0)
 *   MOCK_NVML_POWER_W          power draw, W (default 400); the total-energy
 *                              counter grows at exactly this rate
 *   MOCK_NVML_THROTTLE=1       clock-event reasons sw_power_cap|sw_thermal, SM
 *                              clock 1410 MHz instead of 1980
 *   MOCK_NVML_PCIE             current link "GENxWIDTH" (default "5x16"; an
 *                              idle H100 reports "1x16": the link saves power)
 *   MOCK_NVML_PCIE_MAX         the most the GPU and its slot can train to
 *                              (default "5x16")
 *   MOCK_NVML_NVLINKS          active NVLink links (default 18; 0: no NVLink,
 *                              link 0 answers Not Supported like a PCIe card)
 *   MOCK_NVML_ECC_UNC_PER_S    volatile uncorrected ECC errors per second (default 0)
 * What it is not: NVML's whole API, or a model of a GPU's thermals.  Plain C,
 * no NVML header (none is installed here).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* nvml.h's values for the subset used here. */
enum {
	NVML_SUCCESS = 0,
	NVML_ERROR_UNINITIALIZED = 1,
	NVML_ERROR_INVALID_ARGUMENT = 2,
	NVML_ERROR_NOT_SUPPORTED = 3,
	NVML_ERROR_NOT_FOUND = 6,
	NVML_ERROR_INSUFFICIENT_SIZE = 7,
	NVML_ERROR_DRIVER_NOT_LOADED = 9,
};
enum { CLOCK_GRAPHICS = 0, CLOCK_SM = 1, CLOCK_MEM = 2, CLOCK_VIDEO = 3 };
enum { NVLINK_MAX_LINKS = 18 };
enum { MAX_DEVICES = 64, BUS_BASE = 0x18 };
#define REASON_SW_POWER_CAP 0x4ull
#define REASON_SW_THERMAL 0x20ull

typedef int nvmlReturn_t;
typedef struct mock_nvml_device *nvmlDevice_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;

struct mock_nvml_device {
	int ordinal;
};

static struct mock_nvml_device devices[MAX_DEVICES];
static int initialised;
static double t_init_s;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Seconds since nvmlInit_v2: the clock every changing quantity follows. */
static double since_init_s(void)
{
	return now_s() - t_init_s;
}

static double env_num(const char *name, double def)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return def;
	double d = strtod(v, &end);
	return *end == '\0' ? d : def;
}

static int device_count(void)
{
	int n = (int)env_num("MOCK_CUDA_DEVICES", 1);
	return n < 1 ? 1 : n > MAX_DEVICES ? MAX_DEVICES : n;
}

static int throttled(void)
{
	return env_num("MOCK_NVML_THROTTLE", 0) != 0;
}

/* Guard of every device call, as NVML answers before init or with a bad handle. */
static nvmlReturn_t check(nvmlDevice_t d)
{
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	/* Addresses as integers: a foreign pointer is not ours to compare. */
	uintptr_t first = (uintptr_t)devices, p = (uintptr_t)d;
	if (p < first || p >= first + (uintptr_t)device_count() * sizeof(devices[0]))
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_SUCCESS;
}

#define CHECK(d)                                   \
	do {                                       \
		nvmlReturn_t rc_ = check(d);       \
		if (rc_ != NVML_SUCCESS)           \
			return rc_;                \
	} while (0)

/* ---- library and system --------------------------------------------------------- */

nvmlReturn_t nvmlInit_v2(void)
{
	if (env_num("MOCK_NVML_INIT_FAIL", 0) != 0)
		return NVML_ERROR_DRIVER_NOT_LOADED;
	if (!initialised) {
		for (int i = 0; i < MAX_DEVICES; i++)
			devices[i].ordinal = i;
		t_init_s = now_s();
		initialised = 1;
	}
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
	return NVML_SUCCESS; /* the clock keeps running, as the GPU does */
}

const char *nvmlErrorString(nvmlReturn_t rc)
{
	switch (rc) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_NOT_FOUND: return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
	case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
	default: return "Unknown Error";
	}
}

static nvmlReturn_t copy_text(char *buf, unsigned int len, const char *text)
{
	if (!buf)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (strlen(text) + 1 > len)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, text, strlen(text) + 1);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	return copy_text(version, length, "570.124.06");
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v)
{
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	*v = 12080;
	return NVML_SUCCESS;
}

/* Accepts NVML's "00000000:18:00.0" and CUDA's "0000:18:00.0", any case. */
nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *bus_id, nvmlDevice_t *dev)
{
	unsigned domain, bus, slot, fn;
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	if (!bus_id || !dev || sscanf(bus_id, "%x:%x:%x.%x", &domain, &bus, &slot, &fn) != 4)
		return NVML_ERROR_INVALID_ARGUMENT;
	int ordinal = (int)bus - BUS_BASE;
	if (domain != 0 || slot != 0 || fn != 0 || ordinal < 0 || ordinal >= device_count())
		return NVML_ERROR_NOT_FOUND;
	*dev = &devices[ordinal];
	return NVML_SUCCESS;
}

/* ---- static facts ---------------------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length)
{
	CHECK(d);
	const char *env = getenv("MOCK_CUDA_NAME");
	return copy_text(name, length, env && *env ? env : "NVIDIA H100 80GB HBM3");
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length)
{
	CHECK(d);
	char text[96];
	snprintf(text, sizeof(text), "GPU-6d0c4f2a-9b1e-4c3d-8e7f-0000000000%02x",
		 BUS_BASE + d->ordinal);
	return copy_text(uuid, length, text);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
	CHECK(d);
	m->total = 80ull << 30; /* as mock_device.c's totalGlobalMem */
	m->used = 512ull << 20;
	m->free = m->total - m->used;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned int *mhz)
{
	CHECK(d);
	switch (type) {
	case CLOCK_GRAPHICS:
	case CLOCK_SM: *mhz = 1980; return NVML_SUCCESS;
	case CLOCK_MEM: *mhz = 2619; return NVML_SUCCESS;
	case CLOCK_VIDEO: *mhz = 1545; return NVML_SUCCESS;
	default: return NVML_ERROR_INVALID_ARGUMENT;
	}
}

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t d, int *current, int *pending)
{
	CHECK(d);
	*current = *pending = 1;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw)
{
	CHECK(d);
	*mw = 700000;
	return NVML_SUCCESS;
}

static void pcie_link(const char *knob, unsigned int *gen, unsigned int *width)
{
	const char *env = getenv(knob);
	*gen = 5;
	*width = 16;
	if (env && sscanf(env, "%ux%u", gen, width) != 2) {
		*gen = 5;
		*width = 16;
	}
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t d, unsigned int *v)
{
	unsigned int w;
	CHECK(d);
	pcie_link("MOCK_NVML_PCIE", v, &w);
	return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t d, unsigned int *v)
{
	unsigned int g;
	CHECK(d);
	pcie_link("MOCK_NVML_PCIE", &g, v);
	return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t d, unsigned int *v)
{
	unsigned int w;
	CHECK(d);
	pcie_link("MOCK_NVML_PCIE_MAX", v, &w);
	return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t d, unsigned int *v)
{
	unsigned int g;
	CHECK(d);
	pcie_link("MOCK_NVML_PCIE_MAX", &g, v);
	return NVML_SUCCESS;
}

/* Links 0..NVLINK_MAX_LINKS-1 exist on an SXM part; the first MOCK_NVML_NVLINKS are active. */
nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t d, unsigned int link, int *active)
{
	CHECK(d);
	int n = (int)env_num("MOCK_NVML_NVLINKS", NVLINK_MAX_LINKS);
	if (n <= 0)
		return NVML_ERROR_NOT_SUPPORTED;
	if (link >= NVLINK_MAX_LINKS)
		return NVML_ERROR_INVALID_ARGUMENT;
	*active = (int)link < n;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t d, unsigned int link, unsigned int *v)
{
	CHECK(d);
	if (link >= NVLINK_MAX_LINKS)
		return NVML_ERROR_INVALID_ARGUMENT;
	*v = 4; /* NVLink 4 (Hopper) */
	return NVML_SUCCESS;
}

/* ---- changing state: a function of the time since init -------------------------- */

static double temperature_c(void)
{
	double idle = env_num("MOCK_NVML_TEMP_IDLE", 35);
	double start = env_num("MOCK_NVML_TEMP_START", idle);
	double t = start - env_num("MOCK_NVML_COOL_C_PER_S", 20) * since_init_s();
	return t > idle ? t : idle;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *c)
{
	CHECK(d);
	if (sensor != 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (env_num("MOCK_NVML_NO_TEMP", 0) != 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*c = (unsigned int)lround(temperature_c());
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz)
{
	CHECK(d);
	switch (type) {
	case CLOCK_GRAPHICS:
	case CLOCK_SM: *mhz = throttled() ? 1410 : 1980; return NVML_SUCCESS;
	case CLOCK_MEM: *mhz = 2619; return NVML_SUCCESS;
	case CLOCK_VIDEO: *mhz = 1545; return NVML_SUCCESS;
	default: return NVML_ERROR_INVALID_ARGUMENT;
	}
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
	CHECK(d);
	*mw = (unsigned int)lround(env_num("MOCK_NVML_POWER_W", 400) * 1000.0);
	return NVML_SUCCESS;
}

/* Millijoules since the driver loaded: an hour at the same power before init,
 * then power x time since init. */
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj)
{
	CHECK(d);
	double w = env_num("MOCK_NVML_POWER_W", 400);
	*mj = (unsigned long long)llround(w * (3600.0 + since_init_s()) * 1000.0);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
	CHECK(d);
	int busy = since_init_s() < env_num("MOCK_NVML_BUSY_S", 0);
	u->gpu = busy ? 100 : 0;
	u->memory = busy ? 60 : 0;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *r)
{
	CHECK(d);
	*r = throttled() ? REASON_SW_POWER_CAP | REASON_SW_THERMAL : 0;
	return NVML_SUCCESS;
}

/* The pre-12.2 name of the same call. */
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t d, unsigned long long *r)
{
	return nvmlDeviceGetCurrentClocksEventReasons(d, r);
}

/* ---- memory health ----------------------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int type, int counter,
					 unsigned long long *count)
{
	CHECK(d);
	if ((type != 0 && type != 1) || (counter != 0 && counter != 1))
		return NVML_ERROR_INVALID_ARGUMENT;
	if (type == 0) {
		*count = 3; /* a few corrected errors, as any GPU that has run a while */
		return NVML_SUCCESS;
	}
	double per_s = env_num("MOCK_NVML_ECC_UNC_PER_S", 0);
	*count = counter == 0 ? (unsigned long long)floor(per_s * since_init_s()) : 0;
	return NVML_SUCCESS;
}

/* Hopper retires rows, not pages: page retirement is Not Supported there. */
nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t d, int cause, unsigned int *count,
				       unsigned long long *addresses)
{
	(void)cause;
	(void)count;
	(void)addresses;
	CHECK(d);
	return NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t d, unsigned int *corr, unsigned int *unc,
				       unsigned int *pending, unsigned int *failure)
{
	CHECK(d);
	*corr = 1;
	*unc = 0;
	*pending = 0;
	*failure = 0;
	return NVML_SUCCESS;
}
