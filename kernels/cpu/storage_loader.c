/* storage_loader.c: reader threads, a bounded sample queue and simulated
 * accelerators (storage_loader.h). */
#define _GNU_SOURCE
#include "kernels/cpu/storage_loader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "harness/timer.h"
#include "kernels/cpu/storage_layout.h"
#include "kernels/cpu/storage_pattern.h"

#define ALIGN_BYTES 4096u
#define MSG 256

uint64_t strata_loader_steps(uint64_t samples, unsigned batch, unsigned accelerators)
{
	if (batch == 0 || accelerators == 0)
		return 0;
	return samples / batch / accelerators;
}

unsigned strata_loader_queue_slots(const struct strata_loader_cfg *cfg)
{
	uint64_t want = (uint64_t)cfg->prefetch * cfg->batch * cfg->accelerators;
	uint64_t per = (cfg->sample_bytes + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
	uint64_t cap = per ? cfg->max_queue_bytes / per : want;
	if (want > cap)
		want = cap;
	if (want < cfg->batch)
		want = cfg->batch; /* an accelerator must be able to get a whole batch */
	return (unsigned)want;
}

double strata_loader_au(uint64_t steps, int64_t compute_ns, int64_t first_start_ns, int64_t end_ns)
{
	if (steps == 0 || end_ns <= first_start_ns)
		return 0.0;
	return (double)steps * (double)compute_ns / (double)(end_ns - first_start_ns);
}

static void sample_name(uint64_t i, char *out, size_t len)
{
	snprintf(out, len, "s%llu", (unsigned long long)i);
}

int strata_loader_make_dataset(const struct strata_loader_cfg *cfg, char *err, size_t err_len)
{
	struct strata_pattern pat;
	strata_pattern_init(&pat, cfg->seed, (uint64_t)cfg->rank + 1);
	unsigned char *buf = malloc(cfg->sample_bytes ? cfg->sample_bytes : 1);
	if (!buf) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	int rc = 0;
	for (uint64_t i = 0; i < cfg->samples && rc == 0; i++) {
		char name[32];
		sample_name(i, name, sizeof(name));
		int fd = openat(cfg->dirfd, name,
		                O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(err, err_len, "create %s: %s", name, strerror(errno));
			rc = -1;
			break;
		}
		strata_pattern_fill(&pat, i << 32, buf, cfg->sample_bytes);
		size_t done = 0;
		while (done < cfg->sample_bytes) {
			ssize_t w = write(fd, buf + done, cfg->sample_bytes - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				snprintf(err, err_len, "write %s: %s", name,
				         w < 0 ? strerror(errno) : "no progress");
				rc = -1;
				break;
			}
			done += (size_t)w;
		}
		close(fd);
	}
	free(buf);
	if (rc == 0 && syncfs(cfg->dirfd) != 0) {
		snprintf(err, err_len, "syncfs: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

int strata_loader_fadvise_dataset(const struct strata_loader_cfg *cfg, char *err, size_t err_len)
{
	for (uint64_t i = 0; i < cfg->samples; i++) {
		char name[32];
		sample_name(i, name, sizeof(name));
		int fd = openat(cfg->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, err_len, "open %s: %s", name, strerror(errno));
			return -1;
		}
		int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
		if (rc != 0) {
			snprintf(err, err_len, "posix_fadvise %s: %s", name, strerror(rc));
			return -1;
		}
	}
	return 0;
}

double strata_loader_resident_fraction(const struct strata_loader_cfg *cfg)
{
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || cfg->sample_bytes == 0 || cfg->samples == 0)
		return -1.0;
	uint64_t step = cfg->samples > 64 ? cfg->samples / 64 : 1;
	size_t np = (cfg->sample_bytes + (size_t)page - 1) / (size_t)page;
	unsigned char *vec = malloc(np);
	if (!vec)
		return -1.0;
	uint64_t resident = 0, pages = 0;
	for (uint64_t i = 0; i < cfg->samples; i += step) {
		char name[32];
		sample_name(i, name, sizeof(name));
		int fd = openat(cfg->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		void *p = mmap(NULL, cfg->sample_bytes, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			continue;
		if (mincore(p, cfg->sample_bytes, vec) == 0) {
			for (size_t k = 0; k < np; k++)
				resident += vec[k] & 1u;
			pages += np;
		}
		munmap(p, cfg->sample_bytes);
	}
	free(vec);
	return pages ? (double)resident / (double)pages : -1.0;
}

/* ---- the epoch ----------------------------------------------------------------- */

struct slot {
	unsigned char *buf; /* sample_bytes rounded up to 4 KiB, aligned */
	int64_t ready_ns;   /* when its sample was handed over */
};

struct thread_stats {
	double io_s, decode_s, sync_s; /* readers */
	double compute_s, wait_s;      /* accelerators */
	uint64_t batches, samples, bytes;
	int64_t first_ns, end_ns; /* accelerators: first compute start, last end */
	int64_t wrong;
	char first_wrong[MSG];
};

struct epoch_ctx {
	const struct strata_loader_cfg *cfg;
	struct strata_pattern pat;
	uint64_t key;   /* shuffle of this epoch */
	uint64_t total; /* samples the readers hand over */
	uint64_t steps; /* batches per accelerator */
	int64_t start_ns;
	_Atomic uint64_t next; /* next sample position to claim */
	pthread_mutex_t mu;
	pthread_cond_t data_cv, space_cv;
	struct slot *slots;
	unsigned nslots;
	unsigned *ready; /* FIFO of slot indices, capacity nslots */
	unsigned ready_head, ready_count;
	unsigned *free_slots; /* stack */
	unsigned nfree;
	int failed;
	char err[MSG];
	struct thread_stats *stats; /* (readers + accelerators) */
};

struct thread_arg {
	struct epoch_ctx *ctx;
	unsigned id;
};

static double s_of(int64_t ns)
{
	return (double)ns * 1e-9;
}

static void fail(struct epoch_ctx *ctx, const char *fmt, const char *name, const char *why)
{
	pthread_mutex_lock(&ctx->mu);
	if (!ctx->failed) {
		ctx->failed = 1;
		snprintf(ctx->err, sizeof(ctx->err), fmt, name, why);
	}
	pthread_cond_broadcast(&ctx->data_cv);
	pthread_cond_broadcast(&ctx->space_cv);
	pthread_mutex_unlock(&ctx->mu);
}

/* Read sample i whole into buf; returns bytes read or -1 (errno). */
static ssize_t read_sample(const struct strata_loader_cfg *cfg, uint64_t i, unsigned char *buf)
{
	char name[32];
	sample_name(i, name, sizeof(name));
	int fd = openat(cfg->dirfd, name,
	                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (cfg->direct ? O_DIRECT : 0));
	if (fd < 0)
		return -1;
	size_t want = cfg->direct
	                  ? (cfg->sample_bytes + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES
	                  : cfg->sample_bytes;
	size_t got = 0;
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return (ssize_t)got;
}

/* Busy CPU work for ns: a checksum walk over the sample, clock read every
 * 256 steps. */
static uint64_t spin_decode(const unsigned char *buf, size_t n, int64_t ns)
{
	uint64_t acc = 0;
	if (ns <= 0 || n == 0)
		return 0;
	int64_t end = strata_now_ns() + ns;
	size_t k = 0;
	do {
		for (int j = 0; j < 256; j++) {
			acc = acc * 31 + buf[k];
			k = k + 64 < n ? k + 64 : 0;
		}
	} while (strata_now_ns() < end);
	return acc;
}

static void *reader_main(void *p)
{
	struct thread_arg *a = p;
	struct epoch_ctx *ctx = a->ctx;
	const struct strata_loader_cfg *cfg = ctx->cfg;
	struct thread_stats *st = &ctx->stats[a->id];
	volatile uint64_t sink = 0;
	for (;;) {
		int64_t t0 = strata_now_ns();
		pthread_mutex_lock(&ctx->mu);
		while (ctx->nfree == 0 && !ctx->failed)
			pthread_cond_wait(&ctx->space_cv, &ctx->mu);
		if (ctx->failed) {
			pthread_mutex_unlock(&ctx->mu);
			break;
		}
		unsigned s = ctx->free_slots[--ctx->nfree];
		pthread_mutex_unlock(&ctx->mu);
		uint64_t pos = atomic_fetch_add(&ctx->next, 1);
		int64_t t1 = strata_now_ns();
		st->sync_s += s_of(t1 - t0);
		if (pos >= ctx->total) {
			pthread_mutex_lock(&ctx->mu);
			ctx->free_slots[ctx->nfree++] = s;
			pthread_cond_signal(&ctx->space_cv);
			pthread_mutex_unlock(&ctx->mu);
			break;
		}
		uint64_t i = strata_layout_shuffle(pos, cfg->samples, ctx->key);
		ssize_t got = read_sample(cfg, i, ctx->slots[s].buf);
		int64_t t2 = strata_now_ns();
		st->io_s += s_of(t2 - t1);
		if (got < 0) {
			char name[32];
			sample_name(i, name, sizeof(name));
			fail(ctx, "read %s: %s", name, strerror(errno));
			break;
		}
		struct strata_pattern_error e;
		if ((size_t)got != cfg->sample_bytes) {
			if (st->wrong++ == 0)
				snprintf(st->first_wrong, MSG,
				         "sample s%llu: read %zd bytes, expected %zu",
				         (unsigned long long)i, got, cfg->sample_bytes);
		} else if (strata_pattern_check(&ctx->pat, i << 32, ctx->slots[s].buf,
		                                cfg->sample_bytes, &e) > 0) {
			if (st->wrong++ == 0)
				snprintf(st->first_wrong, MSG,
				         "sample s%llu byte %llu: expected 0x%02x, got 0x%02x",
				         (unsigned long long)i,
				         (unsigned long long)(e.offset - (i << 32)), e.expected,
				         e.actual);
		}
		sink += spin_decode(ctx->slots[s].buf, cfg->sample_bytes, cfg->decode_ns);
		int64_t t3 = strata_now_ns();
		st->decode_s += s_of(t3 - t2);
		st->samples++;
		st->bytes += cfg->sample_bytes;
		pthread_mutex_lock(&ctx->mu);
		ctx->slots[s].ready_ns = strata_now_ns();
		ctx->ready[(ctx->ready_head + ctx->ready_count++) % ctx->nslots] = s;
		pthread_cond_broadcast(&ctx->data_cv);
		pthread_mutex_unlock(&ctx->mu);
		st->sync_s += s_of(strata_now_ns() - t3);
	}
	(void)sink;
	return NULL;
}

static void sleep_until(int64_t t_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000LL),
	                      .tv_nsec = (long)(t_ns % 1000000000LL)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void *accel_main(void *p)
{
	struct thread_arg *a = p;
	struct epoch_ctx *ctx = a->ctx;
	const struct strata_loader_cfg *cfg = ctx->cfg;
	struct thread_stats *st = &ctx->stats[a->id];
	int64_t busy_until = ctx->start_ns; /* the accelerator's own timeline */
	st->first_ns = -1;
	for (uint64_t step = 0; step < ctx->steps; step++) {
		int64_t ready = 0;
		pthread_mutex_lock(&ctx->mu);
		while (ctx->ready_count < cfg->batch && !ctx->failed)
			pthread_cond_wait(&ctx->data_cv, &ctx->mu);
		if (ctx->failed) {
			pthread_mutex_unlock(&ctx->mu);
			break;
		}
		for (unsigned k = 0; k < cfg->batch; k++) {
			unsigned s = ctx->ready[ctx->ready_head];
			ctx->ready_head = (ctx->ready_head + 1) % ctx->nslots;
			ctx->ready_count--;
			if (ctx->slots[s].ready_ns > ready)
				ready = ctx->slots[s].ready_ns;
			ctx->free_slots[ctx->nfree++] = s; /* handed to the accelerator */
		}
		pthread_cond_broadcast(&ctx->space_cv);
		pthread_mutex_unlock(&ctx->mu);
		int64_t start = ready > busy_until ? ready : busy_until;
		if (st->first_ns < 0)
			st->first_ns = start;
		else
			st->wait_s += s_of(start - busy_until);
		busy_until = start + cfg->compute_ns;
		st->compute_s += s_of(cfg->compute_ns);
		st->batches++;
		sleep_until(busy_until);
	}
	st->end_ns = busy_until;
	return NULL;
}

static void ctx_free(struct epoch_ctx *ctx)
{
	if (ctx->slots)
		for (unsigned i = 0; i < ctx->nslots; i++)
			free(ctx->slots[i].buf);
	free(ctx->slots);
	free(ctx->ready);
	free(ctx->free_slots);
	free(ctx->stats);
}

int strata_loader_epoch(const struct strata_loader_cfg *cfg, uint64_t epoch,
                        struct strata_loader_epoch *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	struct epoch_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	strata_pattern_init(&ctx.pat, cfg->seed, (uint64_t)cfg->rank + 1);
	ctx.key = strata_pattern_mix(cfg->seed ^ (epoch * 0x9e3779b97f4a7c15ull));
	ctx.steps = strata_loader_steps(cfg->samples, cfg->batch, cfg->accelerators);
	ctx.total = ctx.steps * cfg->batch * cfg->accelerators;
	ctx.nslots = strata_loader_queue_slots(cfg);
	unsigned nthreads = cfg->readers + cfg->accelerators;
	size_t slot_bytes = (cfg->sample_bytes + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
	ctx.slots = calloc(ctx.nslots, sizeof(*ctx.slots));
	ctx.ready = calloc(ctx.nslots, sizeof(*ctx.ready));
	ctx.free_slots = calloc(ctx.nslots, sizeof(*ctx.free_slots));
	ctx.stats = calloc(nthreads, sizeof(*ctx.stats));
	pthread_t *tid = calloc(nthreads, sizeof(*tid));
	struct thread_arg *args = calloc(nthreads, sizeof(*args));
	int rc = -1;
	if (!ctx.slots || !ctx.ready || !ctx.free_slots || !ctx.stats || !tid || !args) {
		snprintf(err, err_len, "out of memory for %u queue slots", ctx.nslots);
		goto out;
	}
	for (unsigned i = 0; i < ctx.nslots; i++) {
		void *b = NULL;
		if (posix_memalign(&b, ALIGN_BYTES, slot_bytes ? slot_bytes : ALIGN_BYTES) != 0) {
			snprintf(err, err_len, "out of memory for %u queue slots of %zu bytes",
			         ctx.nslots, slot_bytes);
			goto out;
		}
		memset(b, 0, slot_bytes ? slot_bytes : ALIGN_BYTES);
		ctx.slots[i].buf = b;
		ctx.free_slots[ctx.nfree++] = i;
	}
	pthread_mutex_init(&ctx.mu, NULL);
	pthread_cond_init(&ctx.data_cv, NULL);
	pthread_cond_init(&ctx.space_cv, NULL);
	atomic_store(&ctx.next, 0);
	ctx.start_ns = strata_now_ns();
	unsigned started = 0;
	for (; started < nthreads; started++) {
		args[started] = (struct thread_arg){.ctx = &ctx, .id = started};
		int e = pthread_create(&tid[started], NULL,
		                       started < cfg->readers ? reader_main : accel_main,
		                       &args[started]);
		if (e != 0) {
			fail(&ctx, "pthread_create (%s): %s", "loader thread", strerror(e));
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	int64_t end = ctx.start_ns;
	out->au_min = 1e300;
	double au_sum = 0.0;
	for (unsigned i = 0; i < nthreads; i++) {
		const struct thread_stats *st = &ctx.stats[i];
		out->io_s += st->io_s;
		out->decode_s += st->decode_s;
		out->sync_s += st->sync_s;
		out->compute_s += st->compute_s;
		out->wait_s += st->wait_s;
		out->samples += i < cfg->readers ? 0 : st->batches * cfg->batch;
		out->bytes += st->bytes;
		out->batches += st->batches;
		if (st->wrong && !out->wrong)
			snprintf(out->first_wrong, sizeof(out->first_wrong), "%s", st->first_wrong);
		out->wrong += st->wrong;
		if (i >= cfg->readers) {
			double au = strata_loader_au(st->batches, cfg->compute_ns, st->first_ns,
			                             st->end_ns);
			au_sum += au;
			if (au < out->au_min)
				out->au_min = au;
			if (st->end_ns > end)
				end = st->end_ns;
		}
	}
	out->au_mean = cfg->accelerators ? au_sum / cfg->accelerators : 0.0;
	if (out->au_min > 1e299)
		out->au_min = 0.0;
	out->wall_s = s_of(end - ctx.start_ns);
	pthread_cond_destroy(&ctx.data_cv);
	pthread_cond_destroy(&ctx.space_cv);
	pthread_mutex_destroy(&ctx.mu);
	if (ctx.failed) {
		snprintf(err, err_len, "%s", ctx.err);
		goto out;
	}
	rc = 0;
out:
	ctx_free(&ctx);
	free(tid);
	free(args);
	return rc;
}

/* ---- the search ------------------------------------------------------------------ */

void strata_au_search_init(struct strata_au_search *s, unsigned max)
{
	*s = (struct strata_au_search){.max = max, .next = max ? 1 : 0};
}

void strata_au_search_report(struct strata_au_search *s, unsigned count, int passed)
{
	s->probes++;
	if (passed && count > s->pass)
		s->pass = count;
	if (!passed && (s->fail == 0 || count < s->fail))
		s->fail = count;
	if (s->fail == 0) {
		/* still doubling */
		s->next = s->pass >= s->max ? 0 : (2 * s->pass < s->max ? 2 * s->pass : s->max);
		return;
	}
	/* bisect between the last pass and the first failure */
	s->next = s->fail - s->pass > 1 ? s->pass + (s->fail - s->pass) / 2 : 0;
}
