/* gpu_manifest.c: the manifest's GPU facts and derived peaks (see
 * gpu_manifest.h).
 */
#include "kernels/gpu/gpu_manifest.h"

#include <stdio.h>

#include "kernels/gpu/gpu_locality.h"
#include "kernels/gpu/gpu_peak.h"
#include "kernels/gpu/nvml.h"
#include "strata_config.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/cuda_device.h"
#endif

#if STRATA_HAVE_CUDA
static json_t *derived_peaks(const struct strata_cuda_device *d, const struct strata_nvml_facts *f,
			     int nvml_ok, const struct strata_gpu_model *m)
{
	json_t *o = json_object();
	/* Not the current link: an idle GPU (as here, before any case) has
	 * usually dropped it to gen1 to save power (see strata_nvml_pcie_peak_link). */
	int gen, width;
	const char *link = nvml_ok ? strata_nvml_pcie_peak_link(f, &gen, &width) : NULL;
	if (link && strata_gpu_pcie_gbps(gen, width) > 0) {
		json_object_set_new(o, "pcie_gbps_per_direction",
				    json_real(strata_gpu_pcie_gbps(gen, width)));
		json_object_set_new(o, "pcie_rule",
				    json_sprintf("gen%d x%d (%s link; current gen%d x%d): lanes x GT/s "
						 "x encoding / 8",
						 gen, width, link, f->pcie_gen, f->pcie_width));
	}
	double per_link = strata_gpu_nvlink_gbps_per_link(d->cc_major, d->cc_minor);
	if (nvml_ok && f->nvlinks_active > 0 && per_link > 0) {
		json_object_set_new(o, "nvlink_gbps_per_direction",
				    json_real(per_link * f->nvlinks_active));
		json_object_set_new(o, "nvlink_rule",
				    json_sprintf("%d active links x %.0f GB/s per link per direction "
						 "(NVLink generation of compute capability %d.%d)",
						 f->nvlinks_active, per_link, d->cc_major, d->cc_minor));
	}
	if (m) {
		json_t *tf = json_object();
		for (int p = 0; p < STRATA_GPU_NPREC; p++)
			if (m->tflops[p] > 0)
				json_object_set_new(tf, strata_gpu_prec_name((enum strata_gpu_prec)p),
						    json_real(m->tflops[p]));
		json_object_set_new(o, "model", json_string(m->model));
		json_object_set_new(o, "dense_tflops", tf);
		json_object_set_new(o, "hbm_gbps", json_real(m->hbm_gbps));
		json_object_set_new(o, "table_source", json_string(m->source));
	} else {
		json_object_set_new(o, "model", json_null());
		json_object_set_new(o, "note", json_string("not in the table of known GPUs "
							   "(kernels/gpu/gpu_peak.c): no FLOP or "
							   "HBM peak; plans can give peak_gflops "
							   "and peak_gbps"));
	}
	return o;
}
#endif

json_t *strata_gpu_manifest_host(void)
{
#if !STRATA_HAVE_CUDA
	return NULL;
#else
	char why[512];
	int count = 0;
	if (strata_cuda_device_count(&count, why, sizeof(why)) != 0 || count == 0)
		return NULL;
	struct strata_cuda_versions v;
	strata_cuda_versions_get(&v);
	json_t *out = json_object();
	json_t *sw = json_pack("{s:i,s:i,s:I,s:i,s:i}", "cuda_runtime", v.runtime, "cuda_driver_api",
			       v.driver, "cublaslt", (json_int_t)v.cublaslt, "nccl", v.nccl,
			       "nccl_compiled", v.nccl_compiled);
	int nvml_loaded = strata_nvml_load(why, sizeof(why)) == 0;
	if (!nvml_loaded)
		json_object_set_new(sw, "nvml_error", json_string(why));
	json_t *devs = json_array();
	for (int i = 0; i < count; i++) {
		struct strata_cuda_device d;
		json_t *o = json_object();
		if (strata_cuda_device_query(i, &d, why, sizeof(why)) != 0) {
			json_object_set_new(o, "index", json_integer(i));
			json_object_set_new(o, "error", json_string(why));
			json_array_append_new(devs, o);
			continue;
		}
		json_object_set_new(o, "index", json_integer(i));
		json_object_set_new(o, "name", json_string(d.name));
		json_object_set_new(o, "pci_bus_id", json_string(d.pci_bus_id));
		json_object_set_new(o, "compute_capability", json_sprintf("%d.%d", d.cc_major, d.cc_minor));
		json_object_set_new(o, "sms", json_integer(d.sms));
		json_object_set_new(o, "memory_bytes", json_integer(d.mem_total_bytes));
		json_object_set_new(o, "l2_bytes", json_integer(d.l2_bytes));
		json_object_set_new(o, "sm_clock_peak_khz", json_integer(d.clock_khz));
		json_object_set_new(o, "memory_clock_peak_khz", json_integer(d.mem_clock_khz));
		json_object_set_new(o, "memory_bus_bits", json_integer(d.mem_bus_bits));
		json_object_set_new(o, "copy_engines", json_integer(d.async_engines));
		json_object_set_new(o, "cuda_host_numa_id", json_integer(d.host_numa_id));
		struct strata_gpu_locality loc;
		if (strata_gpu_locality_get(d.pci_bus_id, &loc) == 0)
			json_object_set_new(o, "locality",
					    json_pack("{s:i,s:s,s:s}", "numa_node", loc.numa_node,
						      "numa_nodes", loc.numa_nodes, "cpus", loc.cpus));
		else
			json_object_set_new(o, "locality_error", json_string(loc.why));
		struct strata_nvml_facts f = { 0 };
		strata_nvml_device nd;
		int nvml_ok = nvml_loaded &&
			      strata_nvml_device_by_pci(d.pci_bus_id, &nd, why, sizeof(why)) == 0;
		if (nvml_ok) {
			strata_nvml_facts_get(nd, &f);
			json_object_set_new(o, "nvml", strata_nvml_facts_json(&f));
		} else if (nvml_loaded) {
			json_object_set_new(o, "nvml_error", json_string(why));
		}
		const struct strata_gpu_model *m =
			strata_gpu_peak_lookup(d.name, d.cc_major, d.cc_minor);
		json_object_set_new(o, "derived_peaks", derived_peaks(&d, &f, nvml_ok, m));
		json_array_append_new(devs, o);
	}
	json_object_set_new(out, "software", sw);
	json_object_set_new(out, "devices", devs);
	return out;
#endif
}
