/* test_confine.c: each attack on a confined directory is refused: '..' and
 * absolute paths, a symlink planted where a file will be created, a
 * symlink on the way to a file, a symlink inside a directory being deleted,
 * and the directory itself swapped for a symlink before it is deleted.
 * Every refusal is checked by what it left outside: nothing written,
 * nothing deleted. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/confine.h"

static char base[256];    /* where confined directories are made */
static char outside[512]; /* what an attacker wants written or deleted */
static char secret[600];  /* a file in outside */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void assert_secret_intact(void)
{
	char buf[64] = "";
	FILE *f = fopen(secret, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "keep me");
}

static int setup(void **unused)
{
	(void)unused;
	snprintf(base, sizeof(base), "/tmp/strata-test-confine-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(secret, sizeof(secret), "%s/secret.txt", outside);
	mkdir(outside, 0700);
	write_file(secret, "keep me");
	return 0;
}

/* Plain unlink/rmdir of the test tree (the code under test is not trusted
 * to clean up after itself here). */
static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", path);
		assert_int_equal(system(cmd), 0);
	} else {
		unlink(path);
	}
}

static int teardown(void **unused)
{
	(void)unused;
	rm_tree(base);
	return 0;
}

static void test_relative_paths(void **unused)
{
	(void)unused;
	char err[512];
	const char *ok[] = {"a", "a/b", "./a", "a//b", "a/./b", "..a", "a..", "a/.../b", "a/b/"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(strata_confine_check_relative(ok[i], err, sizeof(err)), 0);
	const char *bad[] = {"",     "/etc/passwd", "/",      "..",   "../x",    "a/../../x",
	                     "a/..", "a/b/..",      "a/../b", "./..", "a//..//b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(strata_confine_check_relative(bad[i], err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
	strata_confine_check_relative("/etc/passwd", err, sizeof(err));
	assert_non_null(strstr(err, "absolute"));
	strata_confine_check_relative("a/../../x", err, sizeof(err));
	assert_non_null(strstr(err, "'..'"));
}

static void test_fresh_directories(void **unused)
{
	(void)unused;
	struct strata_confined_dir a, b;
	char err[512];
	assert_int_equal(strata_confine_create(&a, base, "storage", err, sizeof(err)), 0);
	assert_int_equal(strata_confine_create(&b, base, "storage", err, sizeof(err)), 0);
	assert_string_not_equal(a.path, b.path);
	struct stat st;
	assert_int_equal(stat(a.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* a file is created once, then never reused */
	int fd = strata_confine_open(&a, "x/data.bin", O_WRONLY | O_CREAT, 0600, err, sizeof(err));
	assert_int_equal(fd, -1); /* x does not exist: open never creates directories */
	assert_int_equal(strata_confine_mkdirs(&a, "x/y", err, sizeof(err)), 0);
	fd = strata_confine_open(&a, "x/y/data.bin", O_WRONLY | O_CREAT, 0600, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(
	    strata_confine_open(&a, "x/y/data.bin", O_WRONLY | O_CREAT, 0600, err, sizeof(err)),
	    -1);
	assert_int_equal(errno, EEXIST);
	fd = strata_confine_open(&a, "x/y/data.bin", O_RDONLY, 0, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(strata_confine_remove(&a, "x", err, sizeof(err)), 0);
	assert_int_equal(strata_confine_destroy(&a, err, sizeof(err)), 0);
	assert_int_equal(strata_confine_destroy(&b, err, sizeof(err)), 0);
	assert_false(exists(a.path));
	assert_false(exists(b.path));
	assert_int_equal(strata_confine_create(&a, "/nonexistent/strata", "s", err, sizeof(err)),
	                 -1);
	assert_int_equal(strata_confine_create(&a, base, "../up", err, sizeof(err)), -1);
}

static void test_dotdot_and_absolute_refused(void **unused)
{
	(void)unused;
	struct strata_confined_dir d;
	char err[512], escaped[600];
	assert_int_equal(strata_confine_create(&d, base, "t", err, sizeof(err)), 0);
	assert_int_equal(
	    strata_confine_open(&d, "../escaped", O_WRONLY | O_CREAT, 0600, err, sizeof(err)), -1);
	snprintf(escaped, sizeof(escaped), "%s/escaped", base);
	assert_false(exists(escaped));
	snprintf(escaped, sizeof(escaped), "%s/abs", outside);
	assert_int_equal(
	    strata_confine_open(&d, escaped, O_WRONLY | O_CREAT, 0600, err, sizeof(err)), -1);
	assert_false(exists(escaped));
	assert_int_equal(strata_confine_open(&d, secret, O_RDONLY, 0, err, sizeof(err)), -1);
	assert_int_equal(strata_confine_mkdirs(&d, "a/../../escaped-dir", err, sizeof(err)), -1);
	snprintf(escaped, sizeof(escaped), "%s/escaped-dir", base);
	assert_false(exists(escaped));
	assert_int_equal(strata_confine_remove(&d, "../outside", err, sizeof(err)), -1);
	assert_int_equal(strata_confine_remove(&d, outside, err, sizeof(err)), -1);
	assert_secret_intact();
	assert_int_equal(strata_confine_destroy(&d, err, sizeof(err)), 0);
}

static void test_planted_symlinks_refused(void **unused)
{
	(void)unused;
	struct strata_confined_dir d;
	char err[512], via[700];
	assert_int_equal(strata_confine_create(&d, base, "t", err, sizeof(err)), 0);
	/* where a file will be created: a symlink to the secret */
	assert_int_equal(symlinkat(secret, d.dirfd, "data.bin"), 0);
	assert_int_equal(strata_confine_open(&d, "data.bin", O_WRONLY | O_CREAT | O_TRUNC, 0600,
	                                     err, sizeof(err)),
	                 -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "data.bin"));
	assert_int_equal(
	    strata_confine_open(&d, "data.bin", O_WRONLY | O_TRUNC, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, ELOOP);
	assert_secret_intact();
	/* a dangling symlink, which O_CREAT alone would follow and create */
	snprintf(via, sizeof(via), "%s/created-through-link", outside);
	assert_int_equal(symlinkat(via, d.dirfd, "dangling"), 0);
	assert_int_equal(
	    strata_confine_open(&d, "dangling", O_WRONLY | O_CREAT, 0600, err, sizeof(err)), -1);
	assert_false(exists(via));
	/* on the way: a directory component that is a symlink to outside */
	assert_int_equal(symlinkat(outside, d.dirfd, "sub"), 0);
	assert_int_equal(
	    strata_confine_open(&d, "sub/new.bin", O_WRONLY | O_CREAT, 0600, err, sizeof(err)), -1);
	assert_true(errno == ELOOP || errno == ENOTDIR);
	snprintf(via, sizeof(via), "%s/new.bin", outside);
	assert_false(exists(via));
	assert_int_equal(strata_confine_open(&d, "sub/secret.txt", O_RDONLY, 0, err, sizeof(err)),
	                 -1);
	assert_int_equal(strata_confine_mkdirs(&d, "sub/deeper", err, sizeof(err)), -1);
	snprintf(via, sizeof(via), "%s/deeper", outside);
	assert_false(exists(via));
	assert_int_equal(strata_confine_remove(&d, "sub/secret.txt", err, sizeof(err)), -1);
	assert_secret_intact();
	assert_int_equal(strata_confine_destroy(&d, err, sizeof(err)), 0);
	assert_secret_intact();
	assert_true(exists(outside));
}

static void test_delete_never_follows_symlinks(void **unused)
{
	(void)unused;
	struct strata_confined_dir d;
	char err[512];
	assert_int_equal(strata_confine_create(&d, base, "t", err, sizeof(err)), 0);
	assert_int_equal(strata_confine_mkdirs(&d, "shards/0", err, sizeof(err)), 0);
	int fd = strata_confine_open(&d, "shards/0/part.bin", O_WRONLY | O_CREAT, 0600, err,
	                             sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	/* symlinks inside the tree being deleted: to the outside directory and
	 * to the secret, at two depths */
	int shards = openat(d.dirfd, "shards/0", O_RDONLY | O_DIRECTORY);
	assert_true(shards >= 0);
	assert_int_equal(symlinkat(outside, shards, "to-outside"), 0);
	assert_int_equal(symlinkat(secret, shards, "to-secret"), 0);
	close(shards);
	assert_int_equal(symlinkat(outside, d.dirfd, "top-link"), 0);
	assert_int_equal(strata_confine_remove(&d, "top-link", err, sizeof(err)), 0);
	assert_true(exists(outside));
	assert_int_equal(strata_confine_remove(&d, "shards", err, sizeof(err)), 0);
	assert_secret_intact();
	assert_int_equal(symlinkat(outside, d.dirfd, "again"), 0);
	char path[4200];
	snprintf(path, sizeof(path), "%s/again", d.path);
	assert_int_equal(strata_confine_destroy(&d, err, sizeof(err)), 0);
	assert_false(exists(path));
	assert_false(exists(d.path));
	assert_secret_intact();
}

static void test_swapped_directory_left_alone(void **unused)
{
	(void)unused;
	struct strata_confined_dir d;
	char err[512], moved[4200];
	assert_int_equal(strata_confine_create(&d, base, "t", err, sizeof(err)), 0);
	int fd = strata_confine_open(&d, "mine.bin", O_WRONLY | O_CREAT, 0600, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	/* the attacker moves the directory away and puts a symlink to outside
	 * in its place: the files strata made go (through the open directory),
	 * outside stays, and the symlink is left with an error */
	snprintf(moved, sizeof(moved), "%s.moved", d.path);
	assert_int_equal(rename(d.path, moved), 0);
	assert_int_equal(symlink(outside, d.path), 0);
	assert_int_equal(strata_confine_destroy(&d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "left alone"));
	assert_secret_intact();
	char mine[4300];
	snprintf(mine, sizeof(mine), "%s/mine.bin", moved);
	assert_false(exists(mine));
	assert_true(exists(d.path)); /* the symlink itself */
	unlink(d.path);
	rmdir(moved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_relative_paths),
	    cmocka_unit_test_setup_teardown(test_fresh_directories, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dotdot_and_absolute_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_planted_symlinks_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_never_follows_symlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_swapped_directory_left_alone, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
