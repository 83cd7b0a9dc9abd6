/* token_shards.c: the token shard format, its writer and whole-file reader,
 * and the prefetching batch loader (token_shards.h).
 *
 * Header, 64 bytes, little-endian:
 *   0  magic "STRATOK1" (8 bytes)   16 token count (u64)
 *   8  version = 1 (u32)           24 seed of the stream (u64)
 *   12 vocab (u32)                 32 zero (reserved, 32 bytes)
 * then `token count` uint16 tokens, so a file is exactly 64 + 2 n bytes.
 *
 * Loader: the windows of T+1 tokens of all shards, in order, are numbered
 * g = 0 .. W-1 (W = sum over shards of floor(n_i / (T+1)); the tail of a
 * shard shorter than a window is skipped, so no window spans two shards).
 * Batch c holds windows (c B + j) mod W, j = 0 .. B-1: the stream of windows
 * wraps around at the end and a batch may straddle the wrap; an epoch is W
 * windows delivered.  Batch c is the same whatever the thread count or
 * prefetch depth: readers claim batch numbers in order, fill the slot
 * c mod (prefetch + 1) and the consumer takes the slots in batch order.
 * Consecutive windows of one shard in a batch are read with one pread.
 * With O_DIRECT, reads are widened to the file's direct-I/O alignment
 * (statx STATX_DIOALIGN, else st_blksize) into an aligned bounce buffer.
 * What it is not: a check of token values (the caller checks them against
 * its vocabulary), shuffling, or a reader of anyone else's format.
 */
#define _GNU_SOURCE
#include "kernels/nn/token_shards.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHARD_MAGIC "STRATOK1"
#define SHARD_VERSION 1u
#define WRITE_CHUNK_TOKENS ((size_t)1 << 20)
#define MIN_DIRECT_ALIGN 512
#define MSG_BYTES 512

/* ---- header ----------------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Tokens between host order and the file's little-endian order, in place. */
static void tokens_le(uint16_t *t, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t i = 0; i < n; i++)
		t[i] = (uint16_t)((t[i] >> 8) | (t[i] << 8));
#else
	(void)t;
	(void)n;
#endif
}

/* Check a header read from `name` of file_bytes bytes against the expected
 * vocabulary; *tokens its token count.  The message names file and field. */
static int header_check(const unsigned char *h, const char *name, uint64_t file_bytes, int vocab,
                        uint64_t *tokens, char *err, size_t err_len)
{
	if (file_bytes < STRATA_SHARD_HEADER_BYTES) {
		snprintf(err, err_len,
		         "%s: header: the file has %llu bytes, fewer than the %d of a "
		         "header",
		         name, (unsigned long long)file_bytes, STRATA_SHARD_HEADER_BYTES);
		return -1;
	}
	if (memcmp(h, SHARD_MAGIC, 8) != 0) {
		snprintf(err, err_len, "%s: magic: not a token shard (expected \"%s\")", name,
		         SHARD_MAGIC);
		return -1;
	}
	uint32_t version = get_u32(h + 8);
	if (version != SHARD_VERSION) {
		snprintf(err, err_len, "%s: version: %u, this reader knows %u", name, version,
		         SHARD_VERSION);
		return -1;
	}
	uint32_t v = get_u32(h + 12);
	if ((int64_t)v != (int64_t)vocab) {
		snprintf(err, err_len, "%s: vocab: the shard says %u, expected %d", name, v, vocab);
		return -1;
	}
	uint64_t n = get_u64(h + 16);
	if (n > (file_bytes - STRATA_SHARD_HEADER_BYTES) / 2 ||
	    STRATA_SHARD_HEADER_BYTES + 2 * n != file_bytes) {
		snprintf(err, err_len,
		         "%s: token count: %llu tokens need %llu bytes but the file has %llu", name,
		         (unsigned long long)n,
		         (unsigned long long)n > (UINT64_MAX - 64) / 2
		             ? UINT64_MAX
		             : (unsigned long long)(STRATA_SHARD_HEADER_BYTES + 2 * n),
		         (unsigned long long)file_bytes);
		return -1;
	}
	*tokens = n;
	return 0;
}

/* ---- plain I/O ------------------------------------------------------------- */

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* pread until len bytes, end of file or an error; bytes read, or -1. */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* ---- writer ---------------------------------------------------------------- */

int strata_shard_write(int dirfd, const char *name, struct strata_markov_stream *s, uint64_t tokens,
                       int vocab, uint64_t seed, int drop_cache, char *err, size_t err_len)
{
	if (vocab < s->m->vocab || vocab > 65536) {
		snprintf(err, err_len, "%s: vocab: %d must be in %d (the chain's) .. 65536", name,
		         vocab, s->m->vocab);
		return -1;
	}
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, err_len, "%s: cannot create: %s", name, strerror(errno));
		return -1;
	}
	unsigned char h[STRATA_SHARD_HEADER_BYTES] = {0};
	memcpy(h, SHARD_MAGIC, 8);
	put_u32(h + 8, SHARD_VERSION);
	put_u32(h + 12, (uint32_t)vocab);
	put_u64(h + 16, tokens);
	put_u64(h + 24, seed);
	size_t chunk = tokens < WRITE_CHUNK_TOKENS ? (size_t)tokens : WRITE_CHUNK_TOKENS;
	uint16_t *buf = malloc((chunk ? chunk : 1) * sizeof(*buf));
	const char *what = "write";
	if (!buf) {
		errno = ENOMEM;
		what = "buffer";
		goto fail;
	}
	if (write_full(fd, h, sizeof(h)) != 0)
		goto fail;
	for (uint64_t done = 0; done < tokens;) {
		size_t n = tokens - done < chunk ? (size_t)(tokens - done) : chunk;
		strata_markov_sample(s, buf, n);
		tokens_le(buf, n);
		if (write_full(fd, buf, n * sizeof(*buf)) != 0)
			goto fail;
		done += n;
	}
	what = "fsync";
	if (fsync(fd) != 0)
		goto fail;
	if (drop_cache) {
		/* Pages are clean after fsync, so DONTNEED evicts them. */
		int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (rc != 0) {
			errno = rc;
			what = "posix_fadvise(DONTNEED)";
			goto fail;
		}
	}
	free(buf);
	buf = NULL;
	what = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, err_len, "%s: %s: %s", name, what, strerror(errno));
	free(buf);
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, name, 0); /* O_EXCL: a retry needs the name free */
	return -1;
}

/* ---- whole-shard reader ----------------------------------------------------------- */

int strata_shard_read_all(int dirfd, const char *name, int vocab, uint16_t **tokens, uint64_t *n,
                          char *err, size_t err_len)
{
	*tokens = NULL;
	*n = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "%s: cannot open: %s", name, strerror(errno));
		return -1;
	}
	struct stat st;
	unsigned char h[STRATA_SHARD_HEADER_BYTES];
	uint64_t count;
	if (fstat(fd, &st) != 0) {
		snprintf(err, err_len, "%s: fstat: %s", name, strerror(errno));
		goto fail;
	}
	ssize_t got = st.st_size >= STRATA_SHARD_HEADER_BYTES ? pread_full(fd, h, sizeof(h), 0) : 0;
	if (got < 0) {
		snprintf(err, err_len, "%s: read at offset 0: %s", name, strerror(errno));
		goto fail;
	}
	if (header_check(h, name, (uint64_t)st.st_size, vocab, &count, err, err_len) != 0)
		goto fail;
	uint16_t *t = malloc((count ? count : 1) * sizeof(*t));
	if (!t) {
		snprintf(err, err_len, "%s: out of memory for %llu tokens", name,
		         (unsigned long long)count);
		goto fail;
	}
	got = pread_full(fd, t, count * sizeof(*t), STRATA_SHARD_HEADER_BYTES);
	if (got != (ssize_t)(count * sizeof(*t))) {
		snprintf(err, err_len, "%s: read at offset %d: %s", name, STRATA_SHARD_HEADER_BYTES,
		         got < 0 ? strerror(errno) : "short read (file truncated while read?)");
		free(t);
		goto fail;
	}
	tokens_le(t, count);
	close(fd);
	*tokens = t;
	*n = count;
	return 0;
fail:
	close(fd);
	return -1;
}

/* ---- loader ---------------------------------------------------------------------- */

struct shard {
	const char *name;
	int fd;
	uint64_t tokens;
	uint64_t first_window; /* windows of the shards before this one */
	uint64_t windows;
};

struct slot {
	uint16_t *tok;  /* (B, T+1) */
	uint64_t batch; /* the batch it holds when ready */
	int ready;
};

struct strata_shard_loader {
	int B, T, direct;
	size_t win_tokens; /* T + 1 */
	size_t align;      /* direct-I/O alignment, bytes (a power of two) */
	size_t bounce_bytes;
	struct shard *shards;
	int n_shards;
	uint64_t W; /* windows in all shards */

	pthread_mutex_t mu;
	pthread_cond_t can_fill; /* a slot was released, or stop */
	pthread_cond_t filled;   /* a batch is ready, or a reader failed */
	struct slot *slots;
	int n_slots;           /* prefetch + 1: the consumer holds one */
	uint64_t next_claim;   /* next batch a reader takes */
	uint64_t next_deliver; /* next batch strata_shards_next returns */
	uint64_t released;     /* batches whose slot is free again */
	int holding;           /* the consumer holds batch next_deliver - 1 */
	int stop;
	int failed;
	uint64_t fail_batch; /* the lowest failed batch */
	char fail_msg[MSG_BYTES];

	pthread_t *threads;
	int n_threads;

	_Atomic uint64_t bytes_read, batches, epochs;
};

/* Read [off, off + len) of shard sh into dst; with O_DIRECT through bounce
 * (l->align aligned, l->bounce_bytes long), the read widened to the
 * alignment.  0, or -1 with a message naming file, offset and errno. */
static int shard_read(struct strata_shard_loader *l, const struct shard *sh, void *dst,
                      uint64_t off, size_t len, unsigned char *bounce, char *err, size_t err_len)
{
	uint64_t start = off, end = off + len;
	void *buf = dst;
	if (l->direct) {
		start = off & ~(uint64_t)(l->align - 1);
		end = (off + len + l->align - 1) & ~(uint64_t)(l->align - 1);
		buf = bounce;
	}
	size_t want = (size_t)(end - start);
	ssize_t got = pread_full(sh->fd, buf, want, start);
	if (got < 0) {
		int e = errno;
		if (l->direct && e == EINVAL)
			snprintf(
			    err, err_len,
			    "%s: O_DIRECT read of %zu bytes at offset %llu refused (EINVAL): the "
			    "file system does not take direct I/O of this alignment (%zu); set "
			    "direct: false",
			    sh->name, want, (unsigned long long)start, l->align);
		else
			snprintf(err, err_len, "%s: read of %zu bytes at offset %llu: %s", sh->name,
			         want, (unsigned long long)start, strerror(e));
		return -1;
	}
	atomic_fetch_add_explicit(&l->bytes_read, (uint64_t)got, memory_order_relaxed);
	if ((uint64_t)got < off + len - start) {
		snprintf(err, err_len,
		         "%s: short read at offset %llu: %zd of %zu bytes (file shrank since it "
		         "was opened?)",
		         sh->name, (unsigned long long)start, got, want);
		return -1;
	}
	if (l->direct)
		memcpy(dst, bounce + (off - start), len);
	return 0;
}

/* The shard holding window g < W: the last one with first_window <= g
 * (binary search; a shard without windows shares first_window with the next
 * one, so the last of them is the one that has the window). */
static int shard_of(const struct strata_shard_loader *l, uint64_t g)
{
	int lo = 0, hi = l->n_shards - 1;
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (l->shards[mid].first_window <= g)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Fill tok (B, T+1) with batch c: runs of consecutive windows in one shard
 * are one read each. */
static int read_batch(struct strata_shard_loader *l, uint64_t c, uint16_t *tok,
                      unsigned char *bounce, char *err, size_t err_len)
{
	const size_t wt = l->win_tokens;
	uint64_t g = (uint64_t)(((unsigned __int128)c * (unsigned)l->B) % l->W);
	for (int j = 0; j < l->B;) {
		int si = shard_of(l, g);
		const struct shard *sh = &l->shards[si];
		uint64_t left_in_shard = sh->first_window + sh->windows - g;
		uint64_t run =
		    (uint64_t)(l->B - j) < left_in_shard ? (uint64_t)(l->B - j) : left_in_shard;
		uint64_t off = STRATA_SHARD_HEADER_BYTES + 2 * (g - sh->first_window) * wt;
		uint16_t *dst = tok + (size_t)j * wt;
		size_t len = (size_t)run * wt * sizeof(uint16_t);
		if (shard_read(l, sh, dst, off, len, bounce, err, err_len) != 0)
			return -1;
		tokens_le(dst, (size_t)run * wt);
		j += (int)run;
		g = (g + run) % l->W;
	}
	return 0;
}

static void *reader_main(void *arg)
{
	struct strata_shard_loader *l = arg;
	char msg[MSG_BYTES];
	unsigned char *bounce = NULL;
	if (l->direct && posix_memalign((void **)&bounce, l->align, l->bounce_bytes) != 0) {
		pthread_mutex_lock(&l->mu);
		if (!l->failed || l->fail_batch > l->next_claim) {
			l->failed = 1;
			l->fail_batch = l->next_claim;
			snprintf(l->fail_msg, sizeof(l->fail_msg),
			         "shards: out of memory for a %zu-byte O_DIRECT buffer",
			         l->bounce_bytes);
		}
		pthread_cond_broadcast(&l->filled);
		pthread_mutex_unlock(&l->mu);
		return NULL;
	}
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stop && !l->failed &&
		       l->next_claim >= l->released + (uint64_t)l->n_slots)
			pthread_cond_wait(&l->can_fill, &l->mu);
		if (l->stop || l->failed)
			break;
		uint64_t c = l->next_claim++;
		struct slot *sl = &l->slots[c % (uint64_t)l->n_slots];
		pthread_mutex_unlock(&l->mu);
		int rc = read_batch(l, c, sl->tok, bounce, msg, sizeof(msg));
		pthread_mutex_lock(&l->mu);
		if (rc != 0) {
			if (!l->failed || c < l->fail_batch) {
				l->failed = 1;
				l->fail_batch = c;
				snprintf(l->fail_msg, sizeof(l->fail_msg), "%s", msg);
			}
		} else {
			sl->batch = c;
			sl->ready = 1;
		}
		pthread_cond_broadcast(&l->filled);
	}
	pthread_mutex_unlock(&l->mu);
	free(bounce);
	return NULL;
}

/* The direct-I/O alignment of fd: statx's STATX_DIOALIGN where the kernel
 * reports it (Linux 6.1+; 0 there means no direct I/O on this file), else
 * the file system's block size st_blksize (a multiple of the logical block
 * size on the file systems we know).  Rounded up to a power of two. */
static int direct_align(int fd, const char *name, size_t *align, char *err, size_t err_len)
{
	size_t a = 0;
#ifdef STATX_DIOALIGN
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (stx.stx_dio_offset_align == 0) {
			snprintf(
			    err, err_len,
			    "%s: the file system does not support O_DIRECT on this file (statx "
			    "reports no direct-I/O alignment); set direct: false",
			    name);
			return -1;
		}
		a = stx.stx_dio_offset_align > stx.stx_dio_mem_align ? stx.stx_dio_offset_align
		                                                     : stx.stx_dio_mem_align;
	}
#endif
	if (a == 0) {
		struct stat st;
		if (fstat(fd, &st) != 0) {
			snprintf(err, err_len, "%s: fstat: %s", name, strerror(errno));
			return -1;
		}
		a = (size_t)st.st_blksize;
	}
	size_t p = MIN_DIRECT_ALIGN;
	while (p < a)
		p <<= 1;
	*align = p;
	return 0;
}

static int cfg_check(const struct strata_shard_loader_cfg *cfg, char *err, size_t err_len)
{
	const char *field = NULL;
	long v = 0;
	if (!cfg->names || cfg->n_names < 1)
		field = "n_names", v = cfg->n_names;
	else if (cfg->vocab < 1 || cfg->vocab > 65536)
		field = "vocab", v = cfg->vocab;
	else if (cfg->B < 1)
		field = "B", v = cfg->B;
	else if (cfg->T < 1)
		field = "T", v = cfg->T;
	else if (cfg->threads < 1)
		field = "threads", v = cfg->threads;
	else if (cfg->prefetch < 1)
		field = "prefetch", v = cfg->prefetch;
	if (field) {
		snprintf(err, err_len, "shards: %s: %ld is out of range", field, v);
		return -1;
	}
	return 0;
}

/* Open shard i (O_DIRECT if asked), read and check its header. */
static int shard_open(struct strata_shard_loader *l, const struct strata_shard_loader_cfg *cfg,
                      int i, char *err, size_t err_len)
{
	struct shard *sh = &l->shards[i];
	sh->name = cfg->names[i];
	sh->fd = openat(cfg->dirfd, sh->name,
	                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (cfg->direct ? O_DIRECT : 0));
	if (sh->fd < 0) {
		int e = errno;
		if (cfg->direct && e == EINVAL)
			snprintf(err, err_len,
			         "%s: the file system refuses O_DIRECT (open: EINVAL); set direct: "
			         "false",
			         sh->name);
		else
			snprintf(err, err_len, "%s: cannot open: %s", sh->name, strerror(e));
		return -1;
	}
	struct stat st;
	if (fstat(sh->fd, &st) != 0) {
		snprintf(err, err_len, "%s: fstat: %s", sh->name, strerror(errno));
		return -1;
	}
	unsigned char h[STRATA_SHARD_HEADER_BYTES] = {0};
	if (st.st_size >= STRATA_SHARD_HEADER_BYTES) {
		size_t align = 0;
		unsigned char *tmp = NULL;
		if (cfg->direct) {
			if (direct_align(sh->fd, sh->name, &align, err, err_len) != 0)
				return -1;
			if (align > l->align)
				l->align = align;
			if (posix_memalign((void **)&tmp, align, align) != 0) {
				snprintf(err, err_len, "%s: out of memory", sh->name);
				return -1;
			}
		}
		ssize_t got = pread_full(sh->fd, cfg->direct ? (void *)tmp : (void *)h,
		                         cfg->direct ? align : sizeof(h), 0);
		int e = errno;
		if (got >= STRATA_SHARD_HEADER_BYTES && cfg->direct)
			memcpy(h, tmp, sizeof(h));
		free(tmp);
		if (got < STRATA_SHARD_HEADER_BYTES) {
			if (got < 0 && cfg->direct && e == EINVAL)
				snprintf(err, err_len,
				         "%s: the file system refuses O_DIRECT reads (EINVAL); set "
				         "direct: false",
				         sh->name);
			else
				snprintf(err, err_len, "%s: reading the header: %s", sh->name,
				         got < 0 ? strerror(e) : "short read");
			return -1;
		}
	}
	if (header_check(h, sh->name, (uint64_t)st.st_size, cfg->vocab, &sh->tokens, err,
	                 err_len) != 0)
		return -1;
	sh->first_window = l->W;
	sh->windows = sh->tokens / l->win_tokens;
	l->W += sh->windows;
	return 0;
}

static void loader_free(struct strata_shard_loader *l)
{
	for (int i = 0; i < l->n_shards; i++)
		if (l->shards[i].fd >= 0)
			close(l->shards[i].fd);
	free(l->shards);
	if (l->slots)
		for (int i = 0; i < l->n_slots; i++)
			free(l->slots[i].tok);
	free(l->slots);
	free(l->threads);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->can_fill);
	pthread_cond_destroy(&l->filled);
	free(l);
}

int strata_shards_open(struct strata_shard_loader **out, const struct strata_shard_loader_cfg *cfg,
                       char *err, size_t err_len)
{
	*out = NULL;
	if (cfg_check(cfg, err, err_len) != 0)
		return -1;
	struct strata_shard_loader *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, err_len, "shards: out of memory");
		return -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->can_fill, NULL);
	pthread_cond_init(&l->filled, NULL);
	l->B = cfg->B;
	l->T = cfg->T;
	l->direct = cfg->direct;
	l->win_tokens = (size_t)cfg->T + 1;
	l->align = cfg->direct ? MIN_DIRECT_ALIGN : 1;
	l->n_slots = cfg->prefetch + 1;
	l->shards = calloc((size_t)cfg->n_names, sizeof(*l->shards));
	l->slots = calloc((size_t)l->n_slots, sizeof(*l->slots));
	l->threads = calloc((size_t)cfg->threads, sizeof(*l->threads));
	if (!l->shards || !l->slots || !l->threads) {
		snprintf(err, err_len, "shards: out of memory");
		loader_free(l);
		return -1;
	}
	for (int i = 0; i < cfg->n_names; i++)
		l->shards[i].fd = -1;
	l->n_shards = cfg->n_names;
	for (int i = 0; i < cfg->n_names; i++)
		if (shard_open(l, cfg, i, err, err_len) != 0) {
			loader_free(l);
			return -1;
		}
	if (l->W == 0) {
		snprintf(err, err_len,
		         "shards: T: no shard holds a window of T+1 = %zu tokens (the first, %s, "
		         "has %llu)",
		         l->win_tokens, cfg->names[0], (unsigned long long)l->shards[0].tokens);
		loader_free(l);
		return -1;
	}
	size_t batch_bytes = (size_t)cfg->B * l->win_tokens * sizeof(uint16_t);
	l->bounce_bytes = batch_bytes + 2 * l->align;
	for (int i = 0; i < l->n_slots; i++)
		if (!(l->slots[i].tok = malloc(batch_bytes))) {
			snprintf(err, err_len, "shards: out of memory for %d batches of %zu bytes",
			         l->n_slots, batch_bytes);
			loader_free(l);
			return -1;
		}
	for (int i = 0; i < cfg->threads; i++) {
		int rc = pthread_create(&l->threads[i], NULL, reader_main, l);
		if (rc != 0) {
			snprintf(err, err_len, "shards: threads: starting reader %d: %s", i,
			         strerror(rc));
			strata_shards_close(l);
			return -1;
		}
		l->n_threads++;
	}
	*out = l;
	return 0;
}

const uint16_t *strata_shards_next(struct strata_shard_loader *l, char *err, size_t err_len)
{
	pthread_mutex_lock(&l->mu);
	if (l->holding) {
		/* The previous batch's slot goes back to the readers. */
		l->slots[(l->next_deliver - 1) % (uint64_t)l->n_slots].ready = 0;
		l->released++;
		l->holding = 0;
		pthread_cond_broadcast(&l->can_fill);
	}
	uint64_t b = l->next_deliver;
	struct slot *sl = &l->slots[b % (uint64_t)l->n_slots];
	while (!(sl->ready && sl->batch == b) && !(l->failed && b >= l->fail_batch))
		pthread_cond_wait(&l->filled, &l->mu);
	if (!(sl->ready && sl->batch == b)) {
		snprintf(err, err_len, "%s", l->fail_msg);
		pthread_mutex_unlock(&l->mu);
		return NULL;
	}
	l->next_deliver++;
	l->holding = 1;
	pthread_mutex_unlock(&l->mu);
	atomic_store_explicit(&l->batches, l->next_deliver, memory_order_relaxed);
	atomic_store_explicit(
	    &l->epochs, (uint64_t)(((unsigned __int128)l->next_deliver * (unsigned)l->B) / l->W),
	    memory_order_relaxed);
	return sl->tok;
}

void strata_shards_counters(const struct strata_shard_loader *l, uint64_t *bytes_read,
                            uint64_t *batches, uint64_t *epochs)
{
	if (bytes_read)
		*bytes_read = atomic_load_explicit(&l->bytes_read, memory_order_relaxed);
	if (batches)
		*batches = atomic_load_explicit(&l->batches, memory_order_relaxed);
	if (epochs)
		*epochs = atomic_load_explicit(&l->epochs, memory_order_relaxed);
}

void strata_shards_close(struct strata_shard_loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_broadcast(&l->can_fill);
	pthread_cond_broadcast(&l->filled);
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < l->n_threads; i++)
		pthread_join(l->threads[i], NULL);
	loader_free(l);
}
