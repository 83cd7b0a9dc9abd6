/* test_nn_shards.c: unit tests of the token shards and their loader
 * (kernels/nn/token_shards.c).
 *
 * Covers: a shard written and read back equal to the stream that wrote it,
 * its header bytes, O_EXCL and O_NOFOLLOW refusals; each header field
 * corrupted (magic, version, vocab, token count against the file size, a
 * truncated header) rejected by the whole-file reader and by the loader with
 * the file and the field named; the loader's batches equal to the expected
 * windows, in order, with 1 and 3 reader threads and several prefetch
 * depths, across the wrap-around, with the epoch and byte counters; the same
 * through O_DIRECT in a directory under /var/tmp (that check alone skipped,
 * with its reason, where the file system refuses O_DIRECT); a read error
 * (a shard truncated under the loader) reported for the right batch with
 * the file named, after the good batches before it; closing while readers
 * are blocked on a full queue, or mid-read, without hanging (an alarm fails
 * the test if it does); bad configurations naming the field.
 * Not a benchmark: nothing here is timed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernels/cpu/storage_fs.h"
#include "kernels/nn/markov.h"
#include "kernels/nn/token_shards.h"

#define VOCAB 40
#define SEED 77

static struct strata_markov chain;

/* A private directory per test under base, removed after it. */
static char tmpdir[256];

static int make_dir_in(const char *base)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/strata-shards-XXXXXX", base);
	return mkdtemp(tmpdir) ? 0 : -1;
}

/* A test that hangs (a loader deadlock) fails after HANG_S seconds instead
 * of waiting for ctest's timeout. */
#define HANG_S 60

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_nn_shards: a test hung (loader deadlock?)\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

static void arm_alarm(unsigned s)
{
	signal(SIGALRM, on_alarm);
	alarm(s);
}

static int make_tmp(void **unused)
{
	(void)unused;
	arm_alarm(HANG_S);
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	return make_dir_in(base);
}

static int remove_tmp(void **unused)
{
	(void)unused;
	alarm(0);
	if (!tmpdir[0])
		return 0;
	char *slash = strrchr(tmpdir, '/');
	*slash = '\0';
	int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	int rc = strata_storage_rmtree_at(fd, slash + 1);
	close(fd);
	tmpdir[0] = '\0';
	return rc;
}

static int tmp_fd(void)
{
	int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

static int setup_chain(void **unused)
{
	(void)unused;
	char err[256];
	return strata_markov_init(&chain, VOCAB, 2, 3, 0.1, SEED, err, sizeof(err));
}

static int release_chain(void **unused)
{
	(void)unused;
	strata_markov_release(&chain);
	return 0;
}

/* Write shard `name` of n tokens from stream seed; also return the tokens. */
static uint16_t *write_shard(int dirfd, const char *name, uint64_t n, uint64_t stream_seed)
{
	struct strata_markov_stream s;
	char err[256];
	strata_markov_stream_init(&s, &chain, stream_seed);
	if (strata_shard_write(dirfd, name, &s, n, VOCAB, SEED, 1, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	uint16_t *t = malloc((n ? n : 1) * sizeof(*t));
	assert_non_null(t);
	strata_markov_stream_init(&s, &chain, stream_seed);
	strata_markov_sample(&s, t, n);
	return t;
}

/* ---- write / read ---------------------------------------------------------------------- */

static void test_roundtrip(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	const uint64_t n = 3000017; /* several write chunks, odd length */
	uint16_t *want = write_shard(dfd, "a.tok", n, 5);
	uint16_t *got;
	uint64_t got_n;
	char err[256];
	assert_int_equal(strata_shard_read_all(dfd, "a.tok", VOCAB, &got, &got_n, err, sizeof(err)),
	                 0);
	assert_int_equal(got_n, n);
	assert_memory_equal(got, want, n * sizeof(*got));
	free(got);

	/* The header bytes, little-endian. */
	int fd = openat(dfd, "a.tok", O_RDONLY);
	unsigned char h[64];
	assert_int_equal(pread(fd, h, 64, 0), 64);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_memory_equal(h, "STRATOK1", 8);
	assert_int_equal(h[8] | h[9] << 8, 1);
	assert_int_equal(h[12], VOCAB);
	uint64_t cnt = 0;
	for (int i = 7; i >= 0; i--)
		cnt = cnt << 8 | h[16 + i];
	assert_int_equal(cnt, n);
	assert_int_equal(h[24], SEED);
	assert_int_equal(st.st_size, 64 + 2 * n);

	/* An empty shard is legal. */
	free(write_shard(dfd, "empty.tok", 0, 6));
	assert_int_equal(
	    strata_shard_read_all(dfd, "empty.tok", VOCAB, &got, &got_n, err, sizeof(err)), 0);
	assert_int_equal(got_n, 0);
	free(got);

	/* O_EXCL: no overwriting; O_NOFOLLOW: no writing through a symlink. */
	struct strata_markov_stream s;
	strata_markov_stream_init(&s, &chain, 1);
	assert_int_equal(strata_shard_write(dfd, "a.tok", &s, 10, VOCAB, 1, 0, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "a.tok"));
	assert_int_equal(symlinkat("/nonexistent-target", dfd, "link.tok"), 0);
	assert_int_equal(strata_shard_write(dfd, "link.tok", &s, 10, VOCAB, 1, 0, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "link.tok"));
	assert_int_equal(faccessat(dfd, "/nonexistent-target", F_OK, 0), -1);
	/* The existing file survived the refused overwrite. */
	assert_int_equal(strata_shard_read_all(dfd, "a.tok", VOCAB, &got, &got_n, err, sizeof(err)),
	                 0);
	assert_memory_equal(got, want, n * sizeof(*got));
	free(got);
	free(want);
	/* A vocabulary below the chain's cannot hold its tokens. */
	assert_int_equal(
	    strata_shard_write(dfd, "v.tok", &s, 10, VOCAB - 1, 1, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vocab"));
	assert_int_equal(
	    strata_shard_read_all(dfd, "missing.tok", VOCAB, &got, &got_n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing.tok"));
	close(dfd);
}

/* Copy src to dst in dirfd with the bytes [off, off+len) replaced, or
 * truncated to trunc bytes when trunc >= 0. */
static void corrupt_copy(int dfd, const char *src, const char *dst, size_t off, const void *bytes,
                         size_t len, off_t trunc)
{
	int in = openat(dfd, src, O_RDONLY);
	assert_true(in >= 0);
	struct stat st;
	assert_int_equal(fstat(in, &st), 0);
	char *buf = malloc((size_t)st.st_size);
	assert_int_equal(pread(in, buf, (size_t)st.st_size, 0), st.st_size);
	close(in);
	if (len)
		memcpy(buf + off, bytes, len);
	size_t size = trunc >= 0 ? (size_t)trunc : (size_t)st.st_size;
	int out = openat(dfd, dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	assert_int_equal(write(out, buf, size), (ssize_t)size);
	close(out);
	free(buf);
}

static void expect_bad(int dfd, const char *name, const char *field)
{
	uint16_t *t = NULL;
	uint64_t n = 0;
	char err[256] = "";
	assert_int_equal(strata_shard_read_all(dfd, name, VOCAB, &t, &n, err, sizeof(err)), -1);
	if (!strstr(err, name) || !strstr(err, field))
		fail_msg("read_all: \"%s\" does not name %s and %s", err, name, field);
	assert_null(t);
	/* The loader checks the same header (after a good shard). */
	const char *names[] = {"good.tok", name};
	struct strata_shard_loader_cfg cfg = {.dirfd = dfd,
	                                      .names = names,
	                                      .n_names = 2,
	                                      .vocab = VOCAB,
	                                      .B = 2,
	                                      .T = 8,
	                                      .threads = 1,
	                                      .prefetch = 1};
	struct strata_shard_loader *l = (void *)1;
	err[0] = '\0';
	assert_int_equal(strata_shards_open(&l, &cfg, err, sizeof(err)), -1);
	assert_null(l);
	if (!strstr(err, name) || !strstr(err, field))
		fail_msg("loader: \"%s\" does not name %s and %s", err, name, field);
}

static void test_header_corruption(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	free(write_shard(dfd, "good.tok", 1000, 9));
	unsigned char v[8] = {0};
	corrupt_copy(dfd, "good.tok", "magic.tok", 0, "STRATOK2", 8, -1);
	expect_bad(dfd, "magic.tok", "magic");
	v[0] = 2;
	corrupt_copy(dfd, "good.tok", "version.tok", 8, v, 4, -1);
	expect_bad(dfd, "version.tok", "version");
	v[0] = VOCAB + 1;
	corrupt_copy(dfd, "good.tok", "vocab.tok", 12, v, 4, -1);
	expect_bad(dfd, "vocab.tok", "vocab");
	v[0] = 0xe9, v[1] = 0x03; /* 1001 tokens claimed, 1000 present */
	corrupt_copy(dfd, "good.tok", "count.tok", 16, v, 8, -1);
	expect_bad(dfd, "count.tok", "token count");
	memset(v, 0xff, 8); /* 2^64-1: 2n overflows */
	corrupt_copy(dfd, "good.tok", "huge.tok", 16, v, 8, -1);
	expect_bad(dfd, "huge.tok", "token count");
	corrupt_copy(dfd, "good.tok", "short.tok", 0, NULL, 0, 64 + 2 * 1000 - 1);
	expect_bad(dfd, "short.tok", "token count");
	corrupt_copy(dfd, "good.tok", "stub.tok", 0, NULL, 0, 40);
	expect_bad(dfd, "stub.tok", "header");
	/* Expecting another vocabulary is the same refusal. */
	uint16_t *t;
	uint64_t n;
	char err[256];
	assert_int_equal(
	    strata_shard_read_all(dfd, "good.tok", VOCAB + 5, &t, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vocab"));
	close(dfd);
}

/* ---- loader ------------------------------------------------------------------------------- */

/* Three shards whose lengths leave tails: T = 15 (windows of 16 tokens):
 * 1000 -> 62 windows (8 tail), 517 -> 32 (5), 2049 -> 128 (1): W = 222. */
#define N_SHARDS 3
static const uint64_t shard_tokens[N_SHARDS] = {1000, 517, 2049};
static const char *const shard_names[N_SHARDS] = {"s0.tok", "s1.tok", "s2.tok"};
static uint16_t *shard_data[N_SHARDS];

static void write_shards(int dfd)
{
	for (int i = 0; i < N_SHARDS; i++)
		shard_data[i] =
		    write_shard(dfd, shard_names[i], shard_tokens[i], 100 + (uint64_t)i);
}

static void free_shards(void)
{
	for (int i = 0; i < N_SHARDS; i++) {
		free(shard_data[i]);
		shard_data[i] = NULL;
	}
}

/* Window g (of W) as the test understands the contract: the g-th window of
 * T+1 tokens over the shards in order, a shard's tail skipped. */
static const uint16_t *window(uint64_t g, int T)
{
	uint64_t w = (uint64_t)T + 1;
	for (int i = 0; i < N_SHARDS; i++) {
		uint64_t n = shard_tokens[i] / w;
		if (g < n)
			return shard_data[i] + g * w;
		g -= n;
	}
	fail_msg("window %llu out of range", (unsigned long long)g);
	return NULL;
}

static uint64_t total_windows(int T)
{
	uint64_t W = 0;
	for (int i = 0; i < N_SHARDS; i++)
		W += shard_tokens[i] / ((uint64_t)T + 1);
	return W;
}

/* Take `batches` batches and compare each with the expected windows. */
static void check_loader(int dfd, int B, int T, int threads, int prefetch, int direct,
                         uint64_t batches)
{
	struct strata_shard_loader_cfg cfg = {
	    .dirfd = dfd,
	    .names = shard_names,
	    .n_names = N_SHARDS,
	    .vocab = VOCAB,
	    .B = B,
	    .T = T,
	    .threads = threads,
	    .prefetch = prefetch,
	    .direct = direct,
	};
	struct strata_shard_loader *l;
	char err[256];
	if (strata_shards_open(&l, &cfg, err, sizeof(err)) != 0)
		fail_msg("open: %s", err);
	const uint64_t W = total_windows(T);
	const size_t wbytes = ((size_t)T + 1) * sizeof(uint16_t);
	for (uint64_t c = 0; c < batches; c++) {
		const uint16_t *tok = strata_shards_next(l, err, sizeof(err));
		if (!tok)
			fail_msg("batch %llu: %s", (unsigned long long)c, err);
		for (int j = 0; j < B; j++) {
			uint64_t g = (c * (uint64_t)B + (uint64_t)j) % W;
			if (memcmp(tok + (size_t)j * (T + 1), window(g, T), wbytes) != 0)
				fail_msg(
				    "threads %d prefetch %d direct %d: batch %llu row %d is not "
				    "window %llu",
				    threads, prefetch, direct, (unsigned long long)c, j,
				    (unsigned long long)g);
		}
		uint64_t bytes, got_batches, epochs;
		strata_shards_counters(l, &bytes, &got_batches, &epochs);
		assert_int_equal(got_batches, c + 1);
		assert_int_equal(epochs, (c + 1) * (uint64_t)B / W);
		/* Readers are at most prefetch batches ahead (plus alignment). */
		assert_true(bytes >= (c + 1) * (uint64_t)B * wbytes);
		if (!direct)
			assert_true(bytes <= (c + 1 + (uint64_t)prefetch) * (uint64_t)B * wbytes);
	}
	strata_shards_close(l);
}

static void test_loader_order(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	write_shards(dfd);
	const int T = 15;
	assert_int_equal(total_windows(T), 222);
	/* B = 8: batch 27 straddles the wrap (windows 216..221, 0, 1); 120
	 * batches are 960 windows, 4 epochs and a part. */
	static const int settings[][2] = {{1, 1}, {1, 4}, {3, 1}, {3, 2}, {3, 8}};
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		check_loader(dfd, 8, T, settings[i][0], settings[i][1], 0, 120);
	/* B larger than a shard's window count and than W itself. */
	check_loader(dfd, 40, T, 3, 2, 0, 30);
	check_loader(dfd, 300, T, 2, 3, 0, 5);
	/* T + 1 = 600 leaves shard 1 (517 tokens) without a window. */
	check_loader(dfd, 3, 599, 3, 2, 0, 10);
	free_shards();
	close(dfd);
}

/* O_DIRECT needs a disk-backed file system: a directory under /var/tmp. */
static void test_loader_direct(void **unused)
{
	(void)unused;
	arm_alarm(HANG_S);
	assert_int_equal(make_dir_in("/var/tmp"), 0);
	int dfd = tmp_fd();
	write_shards(dfd);
	struct strata_shard_loader_cfg cfg = {
	    .dirfd = dfd,
	    .names = shard_names,
	    .n_names = N_SHARDS,
	    .vocab = VOCAB,
	    .B = 8,
	    .T = 15,
	    .threads = 1,
	    .prefetch = 1,
	    .direct = 1,
	};
	struct strata_shard_loader *l;
	char err[512];
	if (strata_shards_open(&l, &cfg, err, sizeof(err)) != 0) {
		/* The only acceptable failure: the file system refuses O_DIRECT,
		 * said clearly. */
		assert_non_null(strstr(err, "O_DIRECT"));
		assert_non_null(strstr(err, "direct: false"));
		assert_non_null(strstr(err, "s0.tok"));
		print_message("skipping the O_DIRECT check: %s\n", err);
	} else {
		strata_shards_close(l);
		check_loader(dfd, 8, 15, 1, 1, 1, 120);
		check_loader(dfd, 8, 15, 3, 4, 1, 120);
		check_loader(dfd, 1, 2000, 2, 2, 1, 5); /* one unaligned window a batch */
	}
	free_shards();
	close(dfd);
	remove_tmp(NULL);

	/* tmpfs before Linux 6.6 refuses O_DIRECT: the message must say so. */
	arm_alarm(HANG_S);
	if (make_dir_in("/dev/shm") != 0) {
		print_message("no /dev/shm: the tmpfs refusal is not checked\n");
		return;
	}
	dfd = tmp_fd();
	free(write_shard(dfd, "t.tok", 1000, 1));
	const char *one[] = {"t.tok"};
	cfg.names = one;
	cfg.n_names = 1;
	if (strata_shards_open(&l, &cfg, err, sizeof(err)) == 0) {
		print_message("tmpfs takes O_DIRECT on this kernel: its refusal is not checked\n");
		assert_non_null(strata_shards_next(l, err, sizeof(err)));
		strata_shards_close(l);
	} else {
		print_message("tmpfs refused O_DIRECT: %s\n", err);
		assert_non_null(strstr(err, "t.tok"));
		assert_non_null(strstr(err, "direct: false"));
	}
	close(dfd);
}

/* A shard cut short after the loader opened it: the batches before it
 * arrive, then NULL naming the file, for that batch and after. */
static void test_loader_read_error(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	write_shards(dfd);
	struct strata_shard_loader_cfg cfg = {
	    .dirfd = dfd,
	    .names = shard_names,
	    .n_names = N_SHARDS,
	    .vocab = VOCAB,
	    .B = 4,
	    .T = 15,
	    .threads = 3,
	    .prefetch = 2,
	};
	struct strata_shard_loader *l;
	char err[256];
	assert_int_equal(strata_shards_open(&l, &cfg, err, sizeof(err)), 0);
	/* Shard 2 starts at window 94 = batch 23.5; cut it to its first 2
	 * windows: windows 94, 95 remain, batch 24 (96..99) fails. */
	int fd = openat(dfd, "s2.tok", O_WRONLY);
	assert_int_equal(ftruncate(fd, 64 + 2 * 32), 0);
	close(fd);
	for (int c = 0; c < 24; c++) {
		const uint16_t *tok = strata_shards_next(l, err, sizeof(err));
		if (!tok)
			fail_msg("batch %d: %s", c, err);
	}
	for (int again = 0; again < 2; again++) {
		err[0] = '\0';
		assert_null(strata_shards_next(l, err, sizeof(err)));
		if (!strstr(err, "s2.tok") || !strstr(err, "offset"))
			fail_msg("\"%s\" does not name s2.tok and the offset", err);
	}
	strata_shards_close(l);
	free_shards();
	close(dfd);
}

static void test_loader_close(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	write_shards(dfd);
	arm_alarm(20);
	struct strata_shard_loader_cfg cfg = {
	    .dirfd = dfd,
	    .names = shard_names,
	    .n_names = N_SHARDS,
	    .vocab = VOCAB,
	    .B = 4,
	    .T = 15,
	    .threads = 3,
	    .prefetch = 2,
	};
	struct strata_shard_loader *l;
	char err[256];
	struct timespec nap = {0, 50 * 1000 * 1000};
	/* Readers blocked on a full queue, nothing taken. */
	assert_int_equal(strata_shards_open(&l, &cfg, err, sizeof(err)), 0);
	uint64_t bytes = 0;
	const uint64_t full = 3 * 4 * 16 * 2; /* prefetch + 1 batches, then they wait */
	for (int i = 0; i < 200 && bytes < full; i++) {
		nanosleep(&nap, NULL);
		strata_shards_counters(l, &bytes, NULL, NULL);
	}
	nanosleep(&nap, NULL);
	strata_shards_counters(l, &bytes, NULL, NULL);
	assert_int_equal(bytes, full);
	strata_shards_close(l);
	/* One taken and held. */
	assert_int_equal(strata_shards_open(&l, &cfg, err, sizeof(err)), 0);
	assert_non_null(strata_shards_next(l, err, sizeof(err)));
	nanosleep(&nap, NULL);
	strata_shards_close(l);
	/* Closed at once, readers still starting or mid-read. */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(strata_shards_open(&l, &cfg, err, sizeof(err)), 0);
		strata_shards_close(l);
	}
	strata_shards_close(NULL);
	free_shards();
	close(dfd);
}

static void test_loader_bad_cfg(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	write_shards(dfd);
	struct strata_shard_loader_cfg good = {
	    .dirfd = dfd,
	    .names = shard_names,
	    .n_names = N_SHARDS,
	    .vocab = VOCAB,
	    .B = 4,
	    .T = 15,
	    .threads = 1,
	    .prefetch = 1,
	};
	struct {
		struct strata_shard_loader_cfg cfg;
		const char *field;
	} cases[] = {
	    {good, "n_names"}, {good, "vocab"},    {good, "B"}, {good, "T"},
	    {good, "threads"}, {good, "prefetch"}, {good, "T"}, {good, "nope.tok"},
	};
	cases[0].cfg.n_names = 0;
	cases[1].cfg.vocab = 0;
	cases[2].cfg.B = 0;
	cases[3].cfg.T = 0;
	cases[4].cfg.threads = 0;
	cases[5].cfg.prefetch = 0;
	cases[6].cfg.T = 5000; /* no shard holds a window */
	const char *missing[] = {"s0.tok", "nope.tok"};
	cases[7].cfg.names = missing;
	cases[7].cfg.n_names = 2;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strata_shard_loader *l = (void *)1;
		char err[256] = "";
		assert_int_equal(strata_shards_open(&l, &cases[i].cfg, err, sizeof(err)), -1);
		assert_null(l);
		if (!strstr(err, cases[i].field))
			fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].field);
	}
	free_shards();
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_header_corruption, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_loader_order, make_tmp, remove_tmp),
	    cmocka_unit_test_teardown(test_loader_direct, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_loader_read_error, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_loader_close, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_loader_bad_cfg, make_tmp, remove_tmp),
	};
	return cmocka_run_group_tests(tests, setup_chain, release_chain);
}
