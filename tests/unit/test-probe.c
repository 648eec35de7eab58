/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backing-fs check: which requirement each refusal names, a real probe in /tmp, and the
 * probe cache (in a scratch directory given by CVOL_PROBE_CACHE, never /run). */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../../overlay/overlay-internal.h"

static struct cvol_backing_fs fit_fs(void)
{
	struct cvol_backing_fs fs = {
		.d_type = true,
		.xattr_trusted = true,
		.xattr_user = true,
		.tmpfile = true,
		.rename_whiteout = true,
	};
	snprintf(fs.type, sizeof(fs.type), "ext4");
	return fs;
}

static void test_check_fit(void **state)
{
	(void)state;
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs = fit_fs();
	assert_int_equal(cvol_backing_fs_check(&fs, "/x", false, &err), 0);
	assert_int_equal(err.code, 0);
}

static void expect_refusal(struct cvol_backing_fs fs, bool userxattr, int code, const char *text)
{
	struct cvol_error err = { 0 };
	assert_int_equal(cvol_backing_fs_check(&fs, "/srv/upper", userxattr, &err), -code);
	assert_int_equal(err.code, code);
	assert_contains(err.msg, "`/srv/upper`");
	assert_contains(err.msg, text);
}

static void test_check_refusals(void **state)
{
	(void)state;
	struct cvol_backing_fs fs;

	fs = fit_fs();
	fs.is_overlay = true;
	expect_refusal(fs, false, EINVAL, "on overlayfs, which cannot hold an upper layer");
	fs = fit_fs();
	fs.d_type = false;
	expect_refusal(fs, false, EINVAL, "mkfs.xfs -n ftype=1");
	expect_refusal(fs, false, EINVAL, "mkfs.ext4 -O filetype");
	fs = fit_fs();
	fs.xattr_trusted = false;
	expect_refusal(fs, false, EOPNOTSUPP, "trusted.* xattrs");
	struct cvol_error err = { 0 };
	assert_int_equal(cvol_backing_fs_check(&fs, "/srv/upper", true, &err), 0); /* userxattr */
	fs = fit_fs();
	fs.xattr_user = false;
	expect_refusal(fs, true, EOPNOTSUPP, "user.* xattrs");
	fs = fit_fs();
	fs.tmpfile = false;
	expect_refusal(fs, false, EOPNOTSUPP, "O_TMPFILE");
	fs = fit_fs();
	fs.rename_whiteout = false;
	expect_refusal(fs, false, EOPNOTSUPP, "RENAME_WHITEOUT");
}

/* A real probe on /tmp: d_type works there, and the probe leaves nothing behind. */
static void test_probe_tmp(void **state)
{
	(void)state;
	char dir[] = "/tmp/cvol-test-probe.XXXXXX";
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(cvol_backing_fs_probe(dir, &fs, &err), 0);
	assert_true(fs.d_type);
	assert_true(fs.tmpfile);
	assert_false(fs.is_overlay);
	assert_true(fs.type[0] != '\0');
	DIR *d = opendir(dir);
	assert_non_null(d);
	int entries = 0;
	for (struct dirent *de; (de = readdir(d));)
		entries++;
	closedir(d);
	assert_int_equal(entries, 2); /* "." and ".." */
	assert_int_equal(rmdir(dir), 0);
}

static void test_probe_missing_dir(void **state)
{
	(void)state;
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs;
	assert_int_equal(cvol_backing_fs_probe("/nonexistent/cvol", &fs, &err), -ENOENT);
	assert_contains(err.msg, "`/nonexistent/cvol`");
}

/* ---- the probe cache ------------------------------------------------------------- */

#define CACHE_ROOT_TEMPLATE "/tmp/cvol-test-probe-cache.XXXXXX"
static char cache_root[sizeof(CACHE_ROOT_TEMPLATE)];
static char cache_dir[sizeof(cache_root) + 16];

static int cache_setup(void **state)
{
	(void)state;
	memcpy(cache_root, CACHE_ROOT_TEMPLATE, sizeof(cache_root));
	if (!mkdtemp(cache_root))
		return -1;
	snprintf(cache_dir, sizeof(cache_dir), "%s/probe", cache_root);
	return setenv("CVOL_PROBE_CACHE", cache_dir, 1);
}

static int cache_teardown(void **state)
{
	(void)state;
	struct cvol_error err = { 0 };
	unsetenv("CVOL_PROBE_CACHE");
	return dir_remove_tree(AT_FDCWD, cache_root, &err) < 0 ? -1 : 0;
}

/* The names in the cache directory (but . and ..): how many, and the last one in @ret_name. */
static int cache_files(char *ret_name, size_t size)
{
	DIR *d = opendir(cache_dir);
	int n = 0;

	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.') {
			snprintf(ret_name, size, "%s/%s", cache_dir, de->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
	static char buf[1024];
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* A cache file of root's that claims no d_type, for the file @path names. */
static void forge_no_d_type(const char *path, char *forged, size_t size)
{
	snprintf(forged, size, "%s", read_file(path));
	char *p = strstr(forged, "d_type=1");
	assert_non_null(p);
	p[7] = '0';
	write_file(path, forged);
}

struct scratch {
	char dir[64];
	int fd;
};

static void scratch_open(struct scratch *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/cvol-test-probe.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	s->fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(s->fd >= 0);
}

static void scratch_close(struct scratch *s)
{
	close(s->fd);
	assert_int_equal(rmdir(s->dir), 0); /* no probe directory left behind */
}

/* A second probe of the same fs believes the cache: a forged d_type=0 is refused with the
 * very message a fresh probe of such a fs gives; a fresh probe puts the truth back. */
static void test_cache_reused(void **state)
{
	(void)state;
	unit_require_root("only root keeps a probe cache");
	struct scratch s;
	struct cvol_backing_fs fs;
	struct cvol_error err = { 0 };
	char file[512], forged[1024];

	scratch_open(&s);
	assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
	assert_true(fs.d_type);
	assert_int_equal(cache_files(file, sizeof(file)), 1);
	struct stat st;
	assert_int_equal(stat(cache_dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_contains(read_file(file), "cvol-probe 1\nkey=");

	forge_no_d_type(file, forged, sizeof(forged));
	assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
	assert_false(fs.d_type);
	assert_true(fs.type[0] != '\0'); /* the type comes from statfs, not the cache */
	assert_int_equal(cvol_backing_fs_check(&fs, s.dir, false, &err), -EINVAL);
	assert_contains(err.msg, "does not report file types (d_type)");
	assert_contains(err.msg, "mkfs.ext4 -O filetype");
	assert_string_equal(read_file(file), forged); /* a hit writes nothing */

	assert_int_equal(cvol_backing_fs_probe_fd(s.fd, s.dir, &fs, &err), 0); /* fresh */
	assert_true(fs.d_type);
	assert_contains(read_file(file), "\nd_type=1\n");
	assert_int_equal(cache_files(file, sizeof(file)), 1);
	scratch_close(&s);
}

/* A cache file that is not root's own regular file, or does not parse, is not believed;
 * the next probe writes a good one in its place. */
static void test_cache_untrusted(void **state)
{
	(void)state;
	unit_require_root("only root keeps a probe cache");
	struct scratch s;
	struct cvol_backing_fs fs;
	struct cvol_error err = { 0 };
	char file[512], forged[1024], elsewhere[600];

	scratch_open(&s);
	assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
	assert_int_equal(cache_files(file, sizeof(file)), 1);
	forge_no_d_type(file, forged, sizeof(forged));

	assert_int_equal(chown(file, 65534, 65534), 0); /* someone else's */
	assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
	assert_true(fs.d_type);
	assert_int_equal(stat(file, &(struct stat){ 0 }), 0);

	forge_no_d_type(file, forged, sizeof(forged));
	assert_int_equal(chmod(file, 0666), 0); /* writable by anyone */
	assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
	assert_true(fs.d_type);

	forge_no_d_type(file, forged, sizeof(forged));
	snprintf(elsewhere, sizeof(elsewhere), "%s/forged", cache_root);
	assert_int_equal(rename(file, elsewhere), 0);
	assert_int_equal(symlink(elsewhere, file), 0); /* a symlink to a forged file */
	assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
	assert_true(fs.d_type);
	struct stat st;
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(elsewhere);

	static const char *const bad[] = {
		"",
		"garbage\n",
		"cvol-probe "
		"1\nkey=other\nd_type=0\nxattr_trusted=1\nxattr_user=1\ntmpfile=1\nrename_whiteout=1\n",
		"cvol-probe 1\nd_type=0\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		write_file(file, bad[i]);
		assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
		assert_true(fs.d_type);
		assert_contains(read_file(file), "\nd_type=1\nxattr_trusted=");
	}
	scratch_close(&s);
}

static void test_cache_off(void **state)
{
	(void)state;
	unit_require_root("only root keeps a probe cache");
	struct scratch s;
	struct cvol_backing_fs fs;
	struct cvol_error err = { 0 };
	char file[512];

	scratch_open(&s);
	dir_remove_tree(AT_FDCWD, cache_dir, &err);
	assert_int_equal(setenv("CVOL_PROBE_CACHE", "off", 1), 0);
	assert_int_equal(cvol_backing_fs_probe_cached(s.fd, s.dir, &fs, &err), 0);
	assert_int_equal(setenv("CVOL_PROBE_CACHE", cache_dir, 1), 0);
	assert_true(fs.d_type);
	assert_int_equal(cache_files(file, sizeof(file)), 0);
	scratch_close(&s);
}

/* One key per mounted filesystem: the same in a subdirectory, another on another mount. */
static void test_cache_key(void **state)
{
	(void)state;
	struct probe_cache a, b, c;
	struct statfs sfs_tmp, sfs_proc;

	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int proc = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int tmp_dot = open("/tmp/.", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(tmp >= 0 && proc >= 0 && tmp_dot >= 0);
	assert_int_equal(fstatfs(tmp, &sfs_tmp), 0);
	assert_int_equal(fstatfs(proc, &sfs_proc), 0);
	if (geteuid() != 0) {
		assert_int_equal(probe_cache_key(tmp, &sfs_tmp, &a), -EOPNOTSUPP);
	} else {
		assert_int_equal(probe_cache_key(tmp, &sfs_tmp, &a), 0);
		assert_int_equal(probe_cache_key(tmp_dot, &sfs_tmp, &b), 0);
		assert_int_equal(probe_cache_key(proc, &sfs_proc, &c), 0);
		assert_string_equal(a.key, b.key);
		assert_string_not_equal(a.key, c.key);
		assert_null(strchr(a.key, '/'));
		assert_string_equal(a.dir, cache_dir);
		sfs_tmp.f_flags |= ST_RDONLY; /* a read-only fs: probed, never cached */
		assert_int_equal(probe_cache_key(tmp, &sfs_tmp, &a), -EOPNOTSUPP);
	}
	close(tmp);
	close(proc);
	close(tmp_dot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_fit),
		cmocka_unit_test(test_check_refusals),
		cmocka_unit_test(test_probe_tmp),
		cmocka_unit_test(test_probe_missing_dir),
	};
	const struct CMUnitTest cache_tests[] = {
		cmocka_unit_test(test_cache_reused),
		cmocka_unit_test(test_cache_untrusted),
		cmocka_unit_test(test_cache_off),
		cmocka_unit_test(test_cache_key),
	};
	int r = cmocka_run_group_tests_name("probe", tests, cache_setup, cache_teardown);
	return r | cmocka_run_group_tests_name("probe cache", cache_tests, cache_setup, cache_teardown);
}
