/* sysinfo.c: manifest facts from hwloc, uname, /proc and the libraries'
 * own version calls (never from guesses). */
#define _GNU_SOURCE
#include "harness/sysinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cblas.h>
#include <hwloc.h>
#include <mpi.h>
#include <yaml.h>

#include "harness/topo.h"
#include "kernels/gpu/gpu_manifest.h"
#include "strata_config.h"

extern char **environ;

const char *strata_sysinfo_backends(void)
{
	return STRATA_HAVE_CUDA ? "cpu,cuda" : "cpu";
}

static void cpuinfo_model(char *buf, size_t len)
{
	snprintf(buf, len, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *colon = strchr(line, ':');
			if (colon) {
				colon += 2;
				colon[strcspn(colon, "\n")] = '\0';
				snprintf(buf, len, "%s", colon);
			}
			break;
		}
	}
	fclose(f);
}

json_t *strata_sysinfo_host(void)
{
	json_t *host = json_object();
	char name[256] = "unknown";
	gethostname(name, sizeof(name) - 1);
	json_object_set_new(host, "hostname", json_string(name));

	struct utsname u;
	if (uname(&u) == 0)
		json_object_set_new(host, "kernel", json_sprintf("%s %s %s", u.sysname, u.release, u.machine));

	hwloc_topology_t topo;
	if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
		json_object_set_new(host, "topology_error", json_string("hwloc could not load the topology"));
		return host;
	}
	char model[256];
	hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
	const char *m = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
	if (m)
		snprintf(model, sizeof(model), "%s", m);
	else
		cpuinfo_model(model, sizeof(model));
	json_object_set_new(host, "cpu_model", json_string(model));
	json_object_set_new(host, "sockets", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE)));
	json_object_set_new(host, "cores", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE)));
	json_object_set_new(host, "hardware_threads", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU)));

	json_object_set_new(host, "numa_nodes", strata_topo_numa_json(topo));
	json_object_set_new(host, "caches", strata_topo_caches_json(topo));
	json_object_set_new(host, "total_memory_bytes",
			    json_integer((json_int_t)hwloc_get_root_obj(topo)->total_memory));
	hwloc_topology_destroy(topo);
	json_t *gpus = strata_gpu_manifest_host(); /* NULL without CUDA or a GPU */
	if (gpus)
		json_object_set_new(host, "gpus", gpus);
	return host;
}

json_t *strata_sysinfo_versions(void)
{
	char mpi_lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
	int len = 0;
	MPI_Get_library_version(mpi_lib, &len);
	mpi_lib[strcspn(mpi_lib, "\n")] = '\0';
	int mpi_major = 0, mpi_minor = 0;
	MPI_Get_version(&mpi_major, &mpi_minor);
	unsigned hw = hwloc_get_api_version();

	json_t *v = json_object();
	json_object_set_new(v, "strata", json_string(STRATA_VERSION));
	json_object_set_new(v, "strata_git_commit", json_string(STRATA_GIT_COMMIT));
	json_object_set_new(v, "strata_build_type", json_string(STRATA_BUILD_TYPE));
	json_object_set_new(v, "backends", json_string(strata_sysinfo_backends()));
	json_object_set_new(v, "compiler", json_string(STRATA_C_COMPILER " (" __VERSION__ ")"));
	json_object_set_new(v, "mpi_library", json_string(mpi_lib));
	json_object_set_new(v, "mpi_standard", json_sprintf("%d.%d", mpi_major, mpi_minor));
	int level = -1, inited = 0;
	MPI_Initialized(&inited);
	if (inited)
		MPI_Query_thread(&level);
	json_object_set_new(v, "mpi_thread_level",
			    json_string(level == MPI_THREAD_SINGLE       ? "MPI_THREAD_SINGLE"
					: level == MPI_THREAD_FUNNELED   ? "MPI_THREAD_FUNNELED"
					: level == MPI_THREAD_SERIALIZED ? "MPI_THREAD_SERIALIZED"
					: level == MPI_THREAD_MULTIPLE   ? "MPI_THREAD_MULTIPLE"
									 : "not initialised"));
	json_object_set_new(v, "openblas", json_string(openblas_get_config()));
	json_object_set_new(v, "openblas_core", json_string(openblas_get_corename()));
	json_object_set_new(v, "hwloc", json_string(HWLOC_VERSION));
	json_object_set_new(v, "hwloc_api", json_sprintf("%u.%u.%u", hw >> 16, (hw >> 8) & 0xff, hw & 0xff));
	json_object_set_new(v, "libyaml", json_string(yaml_get_version_string()));
	json_object_set_new(v, "jansson", json_string(jansson_version_str()));
	if (STRATA_HAVE_CUDA)
		json_object_set_new(v, "cuda_toolkit_compiled", json_string(STRATA_CUDA_VERSION));
	return v;
}

json_t *strata_sysinfo_env(void)
{
	static const char *const prefixes[] = {
		"OMP_", "OPENBLAS_", "NCCL_", "UCX_", "OMPI_", "PMIX_", "CUDA_", "SLURM_",
		"GOMP_", "KMP_", "MKL_", "HWLOC_", "I_MPI_", "FI_",
	};
	/* Launcher plumbing: differs on every run (URIs, pids, session
	 * directories, rank numbers) and changes nothing measured; leaving it out
	 * keeps environments of two runs comparable line by line. */
	static const char *const plumbing[] = {
		"OMPI_MCA_orte_", "OMPI_MCA_ess", "OMPI_MCA_pmix", "OMPI_MCA_initial_wdir",
		"OMPI_MCA_shmem_RUNTIME_QUERY_hint", "OMPI_COMM_WORLD_", "OMPI_ARGV", "OMPI_COMMAND",
		"OMPI_FIRST_RANKS", "OMPI_APP_CTX_NUM_PROCS", "OMPI_NUM_APP_CTX", "OMPI_UNIVERSE_SIZE",
		"OMPI_FILE_LOCATION", "PMIX_SERVER_", "PMIX_NAMESPACE", "PMIX_RANK", "PMIX_ID",
		"PMIX_HOSTNAME", "PMIX_VERSION", "PMIX_SECURITY_MODE", "PMIX_GDS_MODULE",
		"PMIX_PTL_MODULE", "PMIX_BFROP_BUFFER_TYPE", "PMIX_DSTORE_", "PMIX_SYSTEM_TMPDIR",
		"PMIX_SERVER_TMPDIR", "SLURM_TASK_PID", "SLURM_PROCID", "SLURM_LOCALID",
		"SLURM_GTIDS", "SLURM_STEP_LAUNCHER_PORT", "SLURM_SRUN_COMM_",
	};
	json_t *env = json_object();
	for (char **e = environ; e && *e; e++) {
		int skip = 0;
		for (size_t i = 0; i < sizeof(plumbing) / sizeof(plumbing[0]) && !skip; i++)
			skip = strncmp(*e, plumbing[i], strlen(plumbing[i])) == 0;
		if (skip)
			continue;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			if (strncmp(*e, prefixes[i], strlen(prefixes[i])) != 0)
				continue;
			const char *eq = strchr(*e, '=');
			if (!eq)
				break;
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
			json_object_set_new(env, name, json_string(eq + 1));
			break;
		}
	}
	return env;
}

/* An environment variable as a JSON integer when it is one, else a string;
 * absent variables are left out. */
static void env_field(json_t *o, const char *key, const char *var)
{
	const char *v = getenv(var);
	if (!v || !*v)
		return;
	char *end;
	long long n = strtoll(v, &end, 10);
	json_object_set_new(o, key, *end == '\0' ? json_integer(n) : json_string(v));
}

json_t *strata_sysinfo_launcher(void)
{
	json_t *l = json_object();
	const char *kind = "singleton";
	/* mpirun (ORTE) gives its daemons' URI to every rank (MPI_Init under
	 * srun sets other OMPI_MCA_orte_* variables, not this one); srun gives a
	 * step id; other PMI/PMIx launchers (hydra, prterun, flux) a rank. */
	const char *ess = getenv("OMPI_MCA_ess"); /* Open MPI's own choice, set in MPI_Init */
	if (getenv("OMPI_MCA_orte_hnp_uri"))
		kind = "mpirun";
	else if (ess && !strcmp(ess, "singleton"))
		kind = "singleton";
	else if (getenv("SLURM_JOB_ID") && getenv("SLURM_STEP_ID"))
		kind = "srun";
	else if (getenv("PMIX_RANK") || getenv("PMI_RANK"))
		kind = "pmi";
	json_object_set_new(l, "kind", json_string(kind));
	if (getenv("SLURM_JOB_ID")) {
		json_t *s = json_object();
		env_field(s, "job_id", "SLURM_JOB_ID");
		env_field(s, "step_id", "SLURM_STEP_ID");
		env_field(s, "job_name", "SLURM_JOB_NAME");
		env_field(s, "cluster", "SLURM_CLUSTER_NAME");
		env_field(s, "partition", "SLURM_JOB_PARTITION");
		env_field(s, "job_nodelist", "SLURM_JOB_NODELIST");
		env_field(s, "nodelist", "SLURM_STEP_NODELIST");
		env_field(s, "ntasks", "SLURM_STEP_NUM_TASKS");
		env_field(s, "nnodes", "SLURM_STEP_NUM_NODES");
		env_field(s, "tasks_per_node", "SLURM_STEP_TASKS_PER_NODE");
		env_field(s, "cpus_per_task", "SLURM_CPUS_PER_TASK");
		env_field(s, "mpi", "SLURM_MPI_TYPE");
		/* Outside a step (sbatch script, salloc shell) the job's own values. */
		if (!json_object_get(s, "nodelist"))
			env_field(s, "nodelist", "SLURM_JOB_NODELIST");
		if (!json_object_get(s, "ntasks"))
			env_field(s, "ntasks", "SLURM_NTASKS");
		if (!json_object_get(s, "nnodes"))
			env_field(s, "nnodes", "SLURM_JOB_NUM_NODES");
		json_object_set_new(l, "slurm", s);
	}
	return l;
}

char *strata_sysinfo_binding(void)
{
	hwloc_topology_t topo;
	char *out = NULL;
	if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0)
		return strdup("unknown");
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) == 0) {
		if (hwloc_bitmap_isequal(set, hwloc_topology_get_topology_cpuset(topo)))
			out = strdup("unbound");
		else
			hwloc_bitmap_list_asprintf(&out, set);
	}
	hwloc_bitmap_free(set);
	hwloc_topology_destroy(topo);
	return out ? out : strdup("unknown");
}
