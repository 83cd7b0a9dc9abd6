/* test_storage.c: unit tests of the storage kernels (kernels/cpu/storage_*.c)
 * and of the storage suites' checks, run as one MPI singleton rank.
 *
 * Covers: IOR layout offsets (file-per-rank, segmented, strided) against
 * hand-computed values; the shuffle being a bijection; pattern fill, stamp
 * and check, a corrupted byte caught with its offset (body and header), a
 * sector of another file caught; a file written through both engines, a
 * byte corrupted on disk and the read-back naming the offset; the storage
 * suite's verify naming file and offset, and its work directory removed;
 * the free-space refusal; AU arithmetic, steps and queue sizing, and the
 * accelerator-count search against every threshold; a loader epoch
 * consuming exactly its samples and catching a corrupted one; the metadata
 * phases and their check; mountinfo parsing; removal that never follows a
 * symlink.  Not a benchmark: nothing here is timed.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/suite.h"
#include "kernels/cpu/storage_fs.h"
#include "kernels/cpu/storage_io.h"
#include "kernels/cpu/storage_layout.h"
#include "kernels/cpu/storage_loader.h"
#include "kernels/cpu/storage_meta.h"
#include "kernels/cpu/storage_pattern.h"

extern const struct strata_suite strata_suite_storage;

/* A private temporary directory per test, removed after it. */
static char tmpdir[256];

static int make_tmp(void **unused)
{
	(void)unused;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/strata-unit-XXXXXX", base);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmp(void **unused)
{
	(void)unused;
	char *slash = strrchr(tmpdir, '/');
	*slash = '\0';
	int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	int rc = strata_storage_rmtree_at(fd, slash + 1);
	close(fd);
	*slash = '/';
	return rc;
}

static int tmp_fd(void)
{
	int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

/* ---- layout ------------------------------------------------------------------- */

static void test_layout_offsets(void **unused)
{
	(void)unused;
	/* R = 3 ranks, B = 4096, 5 blocks each: S = 20480. */
	struct strata_layout l = {.rank = 2, .nranks = 3, .block_bytes = 4096, .blocks = 5};
	l.kind = STRATA_LAYOUT_FILE_PER_RANK;
	assert_int_equal(strata_layout_offset(&l, 0), 0);
	assert_int_equal(strata_layout_offset(&l, 4), 16384);
	assert_int_equal(strata_layout_file_bytes(&l), 20480);
	l.kind = STRATA_LAYOUT_SHARED_SEGMENTED; /* r x S + i x B */
	assert_int_equal(strata_layout_offset(&l, 0), 40960);
	assert_int_equal(strata_layout_offset(&l, 3), 40960 + 12288);
	assert_int_equal(strata_layout_file_bytes(&l), 61440);
	l.kind = STRATA_LAYOUT_SHARED_STRIDED; /* (i x R + r) x B */
	assert_int_equal(strata_layout_offset(&l, 0), 8192);
	assert_int_equal(strata_layout_offset(&l, 1), 20480);
	assert_int_equal(strata_layout_offset(&l, 4), (4 * 3 + 2) * 4096);
	/* Every byte of the shared file is owned by exactly one (rank, i). */
	for (int kind = 1; kind <= 2; kind++) {
		unsigned char owned[15] = {0};
		for (int r = 0; r < 3; r++) {
			struct strata_layout m = {.kind = (enum strata_layout_kind)kind,
			                          .rank = r,
			                          .nranks = 3,
			                          .block_bytes = 4096,
			                          .blocks = 5};
			for (uint64_t i = 0; i < 5; i++)
				owned[strata_layout_offset(&m, i) / 4096]++;
		}
		for (int b = 0; b < 15; b++)
			assert_int_equal(owned[b], 1);
	}
	assert_int_equal(strata_layout_kind_parse("shared-strided"), STRATA_LAYOUT_SHARED_STRIDED);
	assert_int_equal(strata_layout_kind_parse("nope"), -1);
}

static void test_shuffle_is_bijection(void **unused)
{
	(void)unused;
	static const uint64_t sizes[] = {1, 2, 3, 5, 7, 64, 1000, 4097, 65536};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t n = sizes[k];
		unsigned char *seen = calloc(n, 1);
		assert_non_null(seen);
		uint64_t fixed = 0;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t j = strata_layout_shuffle(i, n, 12345 + k);
			assert_true(j < n);
			assert_int_equal(seen[j], 0);
			seen[j] = 1;
			fixed += j == i;
		}
		if (n >= 64)
			assert_true(fixed < n / 4); /* it does move things */
		free(seen);
	}
	/* another key, another order */
	int differ = 0;
	for (uint64_t i = 0; i < 100; i++)
		differ += strata_layout_shuffle(i, 1000, 1) != strata_layout_shuffle(i, 1000, 2);
	assert_true(differ > 50);
	/* a shuffled layout still covers every block once */
	struct strata_layout l = {.kind = STRATA_LAYOUT_SHARED_STRIDED,
	                          .rank = 1,
	                          .nranks = 2,
	                          .block_bytes = 4096,
	                          .blocks = 100,
	                          .shuffled = 1,
	                          .key = 9};
	unsigned char hit[200] = {0};
	for (uint64_t i = 0; i < 100; i++)
		hit[strata_layout_offset(&l, i) / 4096]++;
	for (int b = 0; b < 200; b++)
		assert_int_equal(hit[b], b % 2 == 1);
}

/* ---- pattern ------------------------------------------------------------------ */

static void test_pattern_fill_stamp_check(void **unused)
{
	(void)unused;
	struct strata_pattern p;
	strata_pattern_init(&p, 42, 7);
	enum { N = 5 * 4096 };
	unsigned char *a = malloc(N), *b = malloc(N);
	assert_non_null(a);
	assert_non_null(b);
	strata_pattern_fill(&p, 8192, a, N);
	assert_int_equal(strata_pattern_check(&p, 8192, a, N, NULL), 0);
	/* the same bytes at another offset are wrong in every sector header */
	assert_int_equal(strata_pattern_check(&p, 0, a, N, NULL), 5);
	/* stamping a buffer of offset 0 for offset 8192 gives fill(8192) */
	strata_pattern_fill(&p, 0, b, N);
	strata_pattern_stamp(&p, 8192, b, N);
	assert_memory_equal(a, b, N);
	/* unaligned pieces agree with the whole */
	unsigned char piece[5000];
	strata_pattern_fill(&p, 8192 + 1234, piece, sizeof(piece));
	assert_memory_equal(piece, a + 1234, sizeof(piece));
	assert_int_equal(strata_pattern_check(&p, 8192 + 1234, piece, sizeof(piece), NULL), 0);
	free(a);
	free(b);
}

static void test_pattern_catches_corruption(void **unused)
{
	(void)unused;
	struct strata_pattern p, other;
	strata_pattern_init(&p, 42, 7);
	strata_pattern_init(&other, 42, 8);
	enum { N = 4 * 4096 };
	unsigned char *a = malloc(N);
	assert_non_null(a);
	strata_pattern_fill(&p, 65536, a, N);
	struct strata_pattern_error e;
	/* a body byte of the third sector */
	a[2 * 4096 + 1000] ^= 0x10;
	assert_int_equal(strata_pattern_check(&p, 65536, a, N, &e), 1);
	assert_int_equal(e.offset, 65536 + 2 * 4096 + 1000);
	assert_int_equal(e.actual, e.expected ^ 0x10);
	assert_false(e.in_header);
	a[2 * 4096 + 1000] ^= 0x10;
	/* a sector of file 8 in place of the second: caught in its header, which names it */
	strata_pattern_fill(&other, 65536 + 4096, a + 4096, 4096);
	assert_int_equal(strata_pattern_check(&p, 65536, a, N, &e), 1);
	assert_true(e.in_header);
	assert_int_equal(e.offset, 65536 + 4096 + 8); /* the file-id word differs first */
	assert_int_equal(e.header_file, 8);
	assert_int_equal(e.header_offset, 65536 + 4096);
	/* another seed (stale data of another case) is wrong everywhere */
	struct strata_pattern stale;
	strata_pattern_init(&stale, 43, 7);
	strata_pattern_fill(&stale, 65536, a, N);
	assert_int_equal(strata_pattern_check(&p, 65536, a, N, NULL), 4);
	free(a);
}

/* ---- engines and the read-back -------------------------------------------------- */

static void write_check_corrupt(enum strata_io_engine engine)
{
	int dfd = tmp_fd();
	char name[32];
	snprintf(name, sizeof(name), "io-%d.dat", (int)engine);
	int fd = openat(dfd, name, O_CREAT | O_EXCL | O_RDWR, 0600);
	assert_true(fd >= 0);
	struct strata_io io;
	char err[256];
	if (strata_io_init(&io, engine, 4, 16384, err, sizeof(err)) != 0) {
		print_message("skipping %s: %s\n", strata_io_engine_name(engine), err);
		close(fd);
		close(dfd);
		return;
	}
	struct strata_pattern p;
	strata_pattern_init(&p, 99, 1);
	struct strata_layout l = {.kind = STRATA_LAYOUT_FILE_PER_RANK,
	                          .nranks = 1,
	                          .block_bytes = 16384,
	                          .blocks = 20,
	                          .shuffled = 1,
	                          .key = 5};
	strata_io_prefill(&io, &p);
	struct strata_io_job job = {.fd = fd,
	                            .write = 1,
	                            .layout = &l,
	                            .pattern = &p,
	                            .fsync_every_bytes = 65536,
	                            .fsync_at_end = 1};
	struct strata_io_result res;
	assert_int_equal(strata_io_run(&io, &job, &res, err, sizeof(err)), 0);
	assert_int_equal(res.bytes, 20 * 16384);
	assert_int_equal(res.transfers, 20);
	assert_int_equal(res.fsyncs, 5 + 1);
	/* read it all back through the engine, then check the buffers */
	struct strata_io_job rjob = {.fd = fd, .write = 0, .layout = &l};
	assert_int_equal(strata_io_run(&io, &rjob, &res, err, sizeof(err)), 0);
	struct strata_io_check chk = {0};
	strata_io_check_slots(&io, &p, &chk);
	assert_true(chk.transfers >= 1);
	assert_int_equal(chk.wrong_sectors, 0);
	/* corrupt one byte on disk: the read-back names its offset */
	unsigned char x = 0;
	assert_int_equal(pread(fd, &x, 1, 123456), 1);
	x ^= 0xff;
	assert_int_equal(pwrite(fd, &x, 1, 123456), 1);
	memset(&chk, 0, sizeof(chk));
	assert_int_equal(
	    strata_io_check_file(fd, &l, &p, 1.0, 0, io.buf[0], &chk, err, sizeof(err)), 0);
	assert_int_equal(chk.wrong_sectors, 1);
	assert_int_equal(chk.first.offset, 123456);
	assert_int_equal(chk.bytes, 20 * 16384);
	/* a sample of the blocks reads fewer, but always the first and last */
	memset(&chk, 0, sizeof(chk));
	assert_int_equal(
	    strata_io_check_file(fd, &l, &p, 0.1, 3, io.buf[0], &chk, err, sizeof(err)), 0);
	assert_true(chk.transfers >= 2 && chk.transfers < 20);
	strata_io_release(&io);
	close(fd);
	close(dfd);
}

static void test_engines_write_read_corrupt(void **unused)
{
	(void)unused;
	write_check_corrupt(STRATA_IO_PSYNC);
	write_check_corrupt(STRATA_IO_URING);
}

static void test_read_of_short_file_fails_with_offset(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	int fd = openat(dfd, "short.dat", O_CREAT | O_EXCL | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	struct strata_io io;
	char err[256];
	assert_int_equal(strata_io_init(&io, STRATA_IO_PSYNC, 1, 4096, err, sizeof(err)), 0);
	struct strata_layout l = {.nranks = 1, .block_bytes = 4096, .blocks = 4};
	struct strata_io_job job = {.fd = fd, .layout = &l};
	struct strata_io_result res;
	assert_int_equal(strata_io_run(&io, &job, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "offset 8192"));
	strata_io_release(&io);
	close(fd);
	close(dfd);
}

/* ---- the storage suite ------------------------------------------------------------ */

struct test_case {
	struct strata_params params;
	struct strata_case c;
	char err[1024];
};

static void make_case(struct test_case *tc, const char *const *kv)
{
	const struct strata_suite *suite = &strata_suite_storage;
	memset(tc, 0, sizeof(*tc));
	tc->params.suite = suite;
	for (size_t i = 0; i < suite->n_params; i++) {
		const struct strata_param_def *def = &suite->params[i];
		const char *text = def->def;
		if (!strcmp(def->name, "pattern"))
			text = "seq-write"; /* the default is a list */
		for (const char *const *p = kv; *p; p += 2)
			if (!strcmp(def->name, p[0]))
				text = p[1];
		char why[256];
		if (strata_value_parse(def, text, &tc->params.v[i], why, sizeof(why)) != 0)
			fail_msg("parse %s = %s: %s", def->name, text, why);
	}
	tc->c = (struct strata_case){.comm = MPI_COMM_WORLD,
	                             .rank = 0,
	                             .nranks = 1,
	                             .local_rank = 0,
	                             .local_size = 1,
	                             .params = &tc->params,
	                             .err = tc->err,
	                             .err_len = sizeof(tc->err)};
}

static void test_suite_verify_names_file_and_offset(void **unused)
{
	(void)unused;
	const char *kv[] = {"pattern", "seq-write", "file_size", "256K",   "block", "64K", "dir",
	                    tmpdir,    "engine",    "psync",     "direct", "false", NULL};
	struct test_case tc;
	make_case(&tc, kv);
	void *state = NULL;
	assert_int_equal(strata_suite_storage.setup(&tc.c, &state), STRATA_OK);
	assert_int_equal(strata_suite_storage.run_once(state, &tc.c), STRATA_OK);
	assert_int_equal(strata_suite_storage.verify(state, &tc.c), 0);
	json_t *d = json_object();
	strata_suite_storage.describe(state, &tc.c, d);
	char workdir[512];
	snprintf(workdir, sizeof(workdir), "%s",
	         json_string_value(json_object_get(json_object_get(d, "dir"), "workdir")));
	assert_int_equal(json_integer_value(
	                     json_object_get(json_object_get(d, "verification"), "bytes_checked")),
	                 262144);
	json_decref(d);
	/* the work directory is inside the plan's dir, private */
	assert_int_equal(strncmp(workdir, tmpdir, strlen(tmpdir)), 0);
	struct stat st;
	assert_int_equal(stat(workdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* corrupt one byte of the file: verify names the file and the offset */
	char path[700];
	snprintf(path, sizeof(path), "%s/rank000000.dat", workdir);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char x = 0x5a;
	assert_int_equal(pwrite(fd, &x, 1, 70000), 1);
	close(fd);
	int64_t wrong = strata_suite_storage.verify(state, &tc.c);
	assert_int_equal(wrong, 1);
	assert_non_null(strstr(tc.err, "rank000000.dat offset 70000"));
	strata_suite_storage.teardown(state);
	assert_int_equal(stat(workdir, &st), -1); /* removed */
}

static void test_suite_refuses_without_space(void **unused)
{
	(void)unused;
	const char *kv[] = {"pattern", "seq-read", "file_size", "60T", "dir", tmpdir, NULL};
	struct test_case tc;
	make_case(&tc, kv);
	void *state = NULL;
	assert_int_equal(strata_suite_storage.setup(&tc.c, &state), STRATA_SKIP);
	assert_non_null(strstr(tc.err, "not enough free space"));
	assert_non_null(strstr(tc.err, tmpdir));
	assert_non_null(strstr(tc.err, "65970697666560")); /* 60 TiB needed */
	/* and nothing was left behind */
	int fd = tmp_fd();
	assert_int_equal(strata_storage_count_entries(fd), 0);
	close(fd);
}

/* ---- loader ------------------------------------------------------------------------- */

static void test_au_arithmetic(void **unused)
{
	(void)unused;
	const int64_t ms = 1000000;
	assert_float_equal(strata_loader_au(10, ms, 0, 10 * ms), 1.0, 1e-12);
	assert_float_equal(strata_loader_au(10, ms, 5 * ms, 25 * ms), 0.5, 1e-12);
	assert_float_equal(strata_loader_au(0, ms, 0, 10 * ms), 0.0, 0);
	assert_float_equal(strata_loader_au(3, ms, 7, 7), 0.0, 0);
	assert_int_equal(strata_loader_steps(100, 8, 3), 4); /* drop_last */
	assert_int_equal(strata_loader_steps(7, 8, 1), 0);
	struct strata_loader_cfg cfg = {.batch = 8,
	                                .accelerators = 3,
	                                .prefetch = 2,
	                                .sample_bytes = 5000,
	                                .max_queue_bytes = 1 << 30};
	assert_int_equal(strata_loader_queue_slots(&cfg), 48);
	cfg.max_queue_bytes = 10 * 8192; /* 5000 bytes take 8 KiB slots */
	assert_int_equal(strata_loader_queue_slots(&cfg), 10);
	cfg.max_queue_bytes = 8192;
	assert_int_equal(strata_loader_queue_slots(&cfg), 8); /* never below one batch */
}

static void test_au_search(void **unused)
{
	(void)unused;
	for (unsigned max = 1; max <= 70; max += 3) {
		for (unsigned threshold = 0; threshold <= 72; threshold++) {
			struct strata_au_search s;
			strata_au_search_init(&s, max);
			while (s.next) {
				assert_true(s.next >= 1 && s.next <= max);
				strata_au_search_report(&s, s.next, s.next <= threshold);
				assert_true(s.probes <= 16);
			}
			unsigned want = threshold < max ? threshold : max;
			if (s.pass != want)
				fail_msg("max %u threshold %u: found %u", max, threshold, s.pass);
		}
	}
}

static void test_loader_epoch(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	struct strata_loader_cfg cfg = {.dirfd = dfd,
	                                .rank = 0,
	                                .samples = 37,
	                                .sample_bytes = 5000,
	                                .batch = 4,
	                                .accelerators = 3,
	                                .readers = 2,
	                                .prefetch = 1,
	                                .compute_ns = 200000,
	                                .decode_ns = 10000,
	                                .seed = 77,
	                                .max_queue_bytes = 1 << 20};
	char err[256];
	assert_int_equal(strata_loader_make_dataset(&cfg, err, sizeof(err)), 0);
	struct strata_loader_epoch ep;
	assert_int_equal(strata_loader_epoch(&cfg, 1, &ep, err, sizeof(err)), 0);
	assert_int_equal(ep.batches, 3 * 3); /* 37 / 4 / 3 = 3 steps each */
	assert_int_equal(ep.samples, 3 * 3 * 4);
	assert_int_equal(ep.bytes, 36 * 5000);
	assert_int_equal(ep.wrong, 0);
	assert_true(ep.au_mean > 0 && ep.au_mean <= 1.0 + 1e-9);
	assert_true(ep.au_min <= ep.au_mean + 1e-12);
	assert_float_equal(ep.compute_s, 9 * 200e-6, 1e-9);
	assert_true(ep.io_s > 0 && ep.decode_s >= 36 * 10e-6);
	/* corrupt every sample's byte 3000: each one read is caught, with its name */
	for (int i = 0; i < 37; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		int fd = openat(dfd, name, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "Z", 1, 3000), 1);
		close(fd);
	}
	assert_int_equal(strata_loader_epoch(&cfg, 2, &ep, err, sizeof(err)), 0);
	assert_int_equal(ep.wrong, 36);
	assert_non_null(strstr(ep.first_wrong, "byte 3000"));
	assert_non_null(strstr(ep.first_wrong, "sample s"));
	/* a missing sample is an error that names it */
	assert_int_equal(unlinkat(dfd, "s0", 0), 0);
	cfg.samples = 1;
	cfg.batch = 1;
	cfg.accelerators = 1;
	assert_int_equal(strata_loader_epoch(&cfg, 3, &ep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "s0"));
	close(dfd);
}

/* ---- metadata ------------------------------------------------------------------------ */

static void test_meta_phases_and_check(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	struct strata_meta m;
	char err[256];
	assert_int_equal(strata_meta_init(&m, dfd, 3, 50, 700, 11, err, sizeof(err)), 0);
	for (int p = 0; p < STRATA_META_NPHASES; p++)
		assert_int_equal(strata_meta_phase(&m, (enum strata_meta_phase)p, err, sizeof(err)),
		                 0);
	assert_int_equal(strata_meta_count_own(&m), 0);
	assert_int_equal(strata_meta_check(&m, err, sizeof(err)), 0);
	assert_int_equal(m.wrong, 0);
	/* a file of the wrong size is caught by the stat phase, by name */
	assert_int_equal(strata_meta_phase(&m, STRATA_META_CREATE, err, sizeof(err)), 0);
	int fd = openat(dfd, "f.3.17", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 10), 0);
	close(fd);
	assert_int_equal(strata_meta_phase(&m, STRATA_META_STAT, err, sizeof(err)), 0);
	assert_int_equal(m.wrong, 1);
	assert_non_null(strstr(m.first_wrong, "f.3.17"));
	/* leftovers after the unlink phase are caught by the check */
	assert_int_equal(strata_meta_phase(&m, STRATA_META_UNLINK, err, sizeof(err)), 0);
	fd = openat(dfd, "f.3.4", O_CREAT | O_WRONLY, 0600);
	close(fd);
	m.wrong = 0;
	assert_int_equal(strata_meta_check(&m, err, sizeof(err)), 0);
	assert_int_equal(m.wrong, 1);
	assert_non_null(strstr(m.first_wrong, "left"));
	unlinkat(dfd, "f.3.4", 0);
	strata_meta_release(&m);
	close(dfd);
}

/* ---- file system facts and safety ------------------------------------------------------- */

static void test_mountinfo_parse(void **unused)
{
	(void)unused;
	struct strata_storage_mount m;
	const char *line = "36 35 98:0 /mnt1 /mnt/my\\040disk rw,noatime master:1 shared:2 - ext4 "
	                   "/dev/nvme0n1p2 rw,errors=continue\n";
	assert_int_equal(strata_storage_mountinfo_parse(line, &m), 0);
	assert_string_equal(m.mount_point, "/mnt/my disk");
	assert_string_equal(m.fstype, "ext4");
	assert_string_equal(m.source, "/dev/nvme0n1p2");
	assert_string_equal(m.options, "rw,noatime");
	assert_string_equal(m.super_options, "rw,errors=continue");
	assert_int_equal(m.dev_major, 98);
	assert_int_equal(m.dev_minor, 0);
	assert_int_equal(strata_storage_mountinfo_parse("garbage", &m), -1);
	/* the real table finds a mount for our directory */
	assert_int_equal(strata_storage_mount_find(tmpdir, &m), 0);
	assert_true(m.found && m.fstype[0] && m.mount_point[0] == '/');
}

static void test_rmtree_never_follows_symlinks(void **unused)
{
	(void)unused;
	int dfd = tmp_fd();
	/* outside/keep.txt must survive removing tree/, which links to it */
	assert_int_equal(mkdirat(dfd, "outside", 0700), 0);
	int fd = openat(dfd, "outside/keep.txt", O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mkdirat(dfd, "tree", 0700), 0);
	assert_int_equal(mkdirat(dfd, "tree/a", 0700), 0);
	assert_int_equal(mkdirat(dfd, "tree/a/b", 0700), 0);
	fd = openat(dfd, "tree/a/b/f", O_CREAT | O_WRONLY, 0600);
	close(fd);
	char target[400];
	snprintf(target, sizeof(target), "%s/outside", tmpdir);
	assert_int_equal(symlinkat(target, dfd, "tree/a/link-to-dir"), 0);
	snprintf(target, sizeof(target), "%s/outside/keep.txt", tmpdir);
	assert_int_equal(symlinkat(target, dfd, "tree/link-to-file"), 0);
	assert_int_equal(strata_storage_rmtree_at(dfd, "tree"), 0);
	struct stat st;
	assert_int_equal(fstatat(dfd, "tree", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(fstatat(dfd, "outside/keep.txt", &st, 0), 0);
	/* removing a symlink by name removes the link, not what it points to */
	snprintf(target, sizeof(target), "%s/outside", tmpdir);
	assert_int_equal(symlinkat(target, dfd, "alias"), 0);
	assert_int_equal(strata_storage_rmtree_at(dfd, "alias"), -1); /* not a directory: refused */
	assert_int_equal(fstatat(dfd, "outside/keep.txt", &st, 0), 0);
	unlinkat(dfd, "alias", 0);
	close(dfd);
}

static void test_workspace_open_close(void **unused)
{
	(void)unused;
	struct strata_storage_ws ws;
	char err[512];
	assert_int_equal(
	    strata_storage_ws_open(&ws, MPI_COMM_WORLD, 0, 1, 0, 1, tmpdir, err, sizeof(err)), 0);
	assert_true(ws.shared);
	assert_string_equal(ws.base_source, "plan");
	assert_int_equal(strncmp(ws.name, "strata-", 7), 0);
	struct stat st;
	assert_int_equal(stat(ws.path, &st), 0);
	char path[sizeof(ws.path)];
	snprintf(path, sizeof(path), "%s", ws.path);
	strata_storage_ws_close(&ws);
	assert_int_equal(stat(path, &st), -1);
	/* a directory that does not exist is refused with its name */
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/does-not-exist", tmpdir);
	assert_int_equal(
	    strata_storage_ws_open(&ws, MPI_COMM_WORLD, 0, 1, 0, 1, missing, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does-not-exist"));
	/* the default: $TMPDIR, else /tmp */
	const char *src;
	setenv("TMPDIR", "/var/tmp", 1);
	assert_string_equal(strata_storage_default_dir("", &src), "/var/tmp");
	assert_string_equal(src, "TMPDIR");
	unsetenv("TMPDIR");
	assert_string_equal(strata_storage_default_dir(NULL, &src), "/tmp");
	assert_string_equal(strata_storage_default_dir("/x", &src), "/x");
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_offsets),
	    cmocka_unit_test(test_shuffle_is_bijection),
	    cmocka_unit_test(test_pattern_fill_stamp_check),
	    cmocka_unit_test(test_pattern_catches_corruption),
	    cmocka_unit_test(test_au_arithmetic),
	    cmocka_unit_test(test_au_search),
	    cmocka_unit_test_setup_teardown(test_mountinfo_parse, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_engines_write_read_corrupt, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_read_of_short_file_fails_with_offset, make_tmp,
	                                    remove_tmp),
	    cmocka_unit_test_setup_teardown(test_suite_verify_names_file_and_offset, make_tmp,
	                                    remove_tmp),
	    cmocka_unit_test_setup_teardown(test_suite_refuses_without_space, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_loader_epoch, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_meta_phases_and_check, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(test_rmtree_never_follows_symlinks, make_tmp,
	                                    remove_tmp),
	    cmocka_unit_test_setup_teardown(test_workspace_open_close, make_tmp, remove_tmp),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return failed;
}
