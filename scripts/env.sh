# Sourced by the scripts: settings for running Open MPI on a small shared machine.
# mpirun as root needs the two ALLOW variables; a 2-core machine needs
# oversubscription for more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Containers often forbid the CMA single-copy mechanism (ptrace scope); fall
# back to copy-in/copy-out shared memory instead of failing.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
