/* storage_loader.h: a training data loader feeding simulated accelerators,
 * after MLPerf Storage (DLIO): sample files read by reader threads, and
 * accelerators that "compute" for a fixed time per batch.
 *
 * What it is: one epoch over a rank's dataset of `samples` files (s<i>, each
 * sample_bytes of the pattern of storage_pattern.h at virtual offset
 * i x 2^32), in a fresh keyed shuffle per epoch.  `readers` threads each
 * claim the next sample, read the whole file (open, read, close: I/O time),
 * check it against the pattern and spin `decode_ns` more (decode: the
 * per-sample CPU work), and hand it over through a bounded queue of
 * prefetch x batch x accelerators slots (synchronisation: waiting for a free
 * slot and the queue's lock).  `accelerators` threads each take `steps`
 * batches of `batch` samples; a batch's compute starts when both the
 * accelerator is free and the batch's last sample was ready, and lasts
 * compute_ns (an accelerator timeline kept in exact arithmetic, the thread
 * sleeping until its end with clock_nanosleep(TIMER_ABSTIME), so a late
 * wake-up never counts as lost accelerator time).
 *
 * AU (MLPerf Storage rules: "the percentage of time taken by the simulated
 * accelerators, relative to the total benchmark running time", the first
 * step's I/O excluded) of one accelerator:
 *     AU = steps x compute / (end of its last compute - start of its first)
 * An accelerator's wait (data starvation) is the time between the end of one
 * compute and the start of the next.
 * What it is not: a model of GPU transfers, framework overheads, or
 * multi-sample files (TFRecord, HDF5); one file is one sample.
 */
#ifndef STRATA_STORAGE_LOADER_H
#define STRATA_STORAGE_LOADER_H

#include <stddef.h>
#include <stdint.h>

struct strata_loader_cfg {
	int dirfd; /* directory holding s<i> (not owned) */
	int rank;
	uint64_t samples; /* files in the dataset */
	size_t sample_bytes;
	unsigned batch;         /* samples per batch */
	unsigned accelerators;  /* simulated accelerators (threads) */
	unsigned readers;       /* reader threads */
	unsigned prefetch;      /* batches of queue per accelerator */
	int64_t compute_ns;     /* per batch */
	int64_t decode_ns;      /* extra CPU per sample, after the check */
	int direct;             /* O_DIRECT reads */
	uint64_t seed;          /* of the pattern and the shuffles */
	size_t max_queue_bytes; /* cap of the queue's memory (at least one batch) */
};

/* Batches each accelerator takes in an epoch (drop_last, as DLIO): */
uint64_t strata_loader_steps(uint64_t samples, unsigned batch, unsigned accelerators);

/* The queue's slots: prefetch x batch x accelerators, capped by
 * max_queue_bytes, never fewer than batch. */
unsigned strata_loader_queue_slots(const struct strata_loader_cfg *cfg);

/* AU of one accelerator (see above); 0 when it never computed. */
double strata_loader_au(uint64_t steps, int64_t compute_ns, int64_t first_start_ns, int64_t end_ns);

struct strata_loader_epoch {
	double wall_s; /* epoch start to the last accelerator's end */
	uint64_t samples, batches, bytes;
	double au_mean, au_min;        /* over this rank's accelerators */
	double compute_s, wait_s;      /* accelerators, summed */
	double io_s, decode_s, sync_s; /* readers, summed */
	int64_t wrong;                 /* samples failing the check */
	char first_wrong[256];
};

/* Write the dataset (buffered, then syncfs).  Returns 0 or -1 with a message. */
int strata_loader_make_dataset(const struct strata_loader_cfg *cfg, char *err, size_t err_len);

/* One epoch (epoch selects the shuffle).  Returns 0, or -1 with a message on
 * an I/O or thread error. */
int strata_loader_epoch(const struct strata_loader_cfg *cfg, uint64_t epoch,
                        struct strata_loader_epoch *out, char *err, size_t err_len);

/* Evict the dataset from the page cache (posix_fadvise DONTNEED on every
 * file).  Returns 0 or -1 with a message. */
int strata_loader_fadvise_dataset(const struct strata_loader_cfg *cfg, char *err, size_t err_len);

/* Share of the pages of up to 64 evenly spread sample files resident in the
 * page cache (mincore); -1 when it cannot be told. */
double strata_loader_resident_fraction(const struct strata_loader_cfg *cfg);

/* The search for the largest accelerator count keeping AU >= target: double
 * from 1 while probes pass, then bisect between the last pass and the first
 * failure.  A pure state machine, so the arithmetic is testable. */
struct strata_au_search {
	unsigned max;  /* largest count worth probing */
	unsigned pass; /* largest count that passed (0: none yet) */
	unsigned fail; /* smallest count that failed (0: none yet) */
	unsigned next; /* count to probe next; 0 when done */
	unsigned probes;
};
void strata_au_search_init(struct strata_au_search *s, unsigned max);
void strata_au_search_report(struct strata_au_search *s, unsigned count, int passed);

#endif
