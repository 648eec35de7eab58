/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The volume backends' table: the source, type and option string each backend mounts for a
 * set of options (what libmount gets), whether it needs a mount, what Status shows as size and
 * use, and the preparations that need no root (dir owner and mode, the bind source). */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../volumes/volumes-internal.h"

#define VOL_DIR "/srv/cvol/volumes/v"

/* A volume in @dir (opened when @dirfd >= 0) with the options @opts_json; free with volume_free(). */
struct test_volume {
	struct volume v;
	json_t *doc; /* the options point into it */
};

static void volume_setup(struct test_volume *t, const char *opts_json, const char *dir, int dirfd)
{
	struct cvol_error err = { 0 };
	json_error_t jerr;

	t->doc = json_loads(opts_json, 0, &jerr);
	if (!t->doc)
		fail_msg("bad fixture `%s`: %s", opts_json, jerr.text);
	t->v = (struct volume){ .dirfd = dirfd, .lock_fd = -1, .host_root_fd = -1 };
	if (volume_opts_parse(t->doc, &t->v.opts, &err) < 0)
		fail_msg("`%s`: refused: %s", opts_json, err.msg);
	t->v.ops = volume_backend_ops(t->v.opts.backend);
	assert_non_null(t->v.ops);
	t->v.dir = strdup(dir);
	assert_int_not_equal(asprintf(&t->v.data, "%s/" VOLUME_DATA_DIR, dir), -1);
}

static void volume_free(struct test_volume *t)
{
	free(t->v.dir);
	free(t->v.data);
	json_decref(t->doc);
}

/* Fail unless the backend of @opts_json mounts @source (type @fstype, NULL: a bind) with @options. */
static void expect_mount(const char *opts_json, const char *source, const char *fstype, const char *options)
{
	struct cvol_error err = { 0 };
	struct test_volume t;
	struct volume_mount m;

	volume_setup(&t, opts_json, VOL_DIR, -1);
	if (t.v.ops->mount_args(&t.v, &m, &err) < 0)
		fail_msg("`%s`: %s", opts_json, err.msg);
	if (strcmp(m.source, source) != 0)
		fail_msg("`%s`: source `%s`, want `%s`", opts_json, m.source, source);
	if (!fstype && m.fstype)
		fail_msg("`%s`: type `%s`, want a bind mount", opts_json, m.fstype);
	if (fstype && (!m.fstype || strcmp(m.fstype, fstype) != 0))
		fail_msg("`%s`: type `%s`, want `%s`", opts_json, m.fstype ? m.fstype : "(bind)", fstype);
	if (strcmp(m.options, options) != 0)
		fail_msg("`%s`: options `%s`, want `%s`", opts_json, m.options, options);
	assert_int_equal(m.options_len, strlen(options));
	volume_free(&t);
}

/* ---- the table ------------------------------------------------------------------ */

static void test_table_names(void **state)
{
	static const struct {
		enum cvol_volume_backend backend;
		const char *name;
	} names[] = {
		{ CVOL_BACKEND_DIR, "dir" },	 { CVOL_BACKEND_BIND, "bind" },
		{ CVOL_BACKEND_TMPFS, "tmpfs" }, { CVOL_BACKEND_LOOP, "loop" },
		{ CVOL_BACKEND_MOUNT, "mount" }, { CVOL_BACKEND_SSHFS, "sshfs" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct volume_backend_ops *ops = volume_backend_ops(names[i].backend);
		assert_non_null(ops);
		assert_string_equal(ops->name, names[i].name);
		assert_string_equal(cvol_volume_backend_name(names[i].backend), names[i].name);
		/* every backend has every operation: the store never checks */
		assert_true(ops->needs_mount && ops->prepare && ops->mount_args && ops->mount &&
			    ops->unmount && ops->usage && ops->is_remote && ops->kill_daemon);
	}
	assert_null(volume_backend_ops((enum cvol_volume_backend)99));
	assert_string_equal(cvol_volume_backend_name((enum cvol_volume_backend)99), "?");
}

static void test_needs_mount(void **state)
{
	static const struct {
		const char *opts;
		bool needs;
	} cases[] = {
		{ "{}", false },
		{ "{\"mode\": \"0700\"}", false },
		{ "{\"ro\": \"true\"}", true }, /* a read-only dir is bound on itself */
		{ "{\"type\": \"bind\", \"device\": \"/srv/www\"}", true },
		{ "{\"type\": \"tmpfs\"}", true },
		{ "{\"size\": \"1G\"}", true },
		{ "{\"type\": \"nfs\", \"device\": \":/export\"}", true },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct test_volume t;
		volume_setup(&t, cases[i].opts, VOL_DIR, -1);
		if (t.v.ops->needs_mount(&t.v.opts) != cases[i].needs)
			fail_msg("`%s`: needs_mount is %d", cases[i].opts, !cases[i].needs);
		volume_free(&t);
	}
}

/* ---- what each backend mounts ------------------------------------------------------ */

static void test_mount_tmpfs(void **state)
{
	(void)state;
	expect_mount("{\"type\": \"tmpfs\"}", "tmpfs", "tmpfs", "");
	expect_mount("{\"type\": \"tmpfs\", \"o\": \"size=64m,mode=1777\"}", "tmpfs", "tmpfs",
		     "size=64m,mode=1777");
	/* size and mode as options: bytes, octal */
	expect_mount("{\"type\": \"tmpfs\", \"size\": \"64m\", \"mode\": \"1777\"}", "tmpfs", "tmpfs",
		     "size=67108864,mode=1777");
	/* the user's `o` first, then what cvol adds, `ro` last */
	expect_mount("{\"type\": \"tmpfs\", \"o\": \"nr_inodes=1k\", \"size\": \"1G\", \"uid\": \"1000\", "
		     "\"gid\": \"100\", \"mode\": \"0750\", \"ro\": \"true\"}",
		     "tmpfs", "tmpfs", "nr_inodes=1k,size=1073741824,uid=1000,gid=100,mode=750,ro");
}

static void test_mount_loop(void **state)
{
	(void)state;
	expect_mount("{\"size\": \"1G\"}", VOL_DIR "/image", "ext4", "loop");
	expect_mount("{\"size\": \"1G\", \"fs\": \"xfs\"}", VOL_DIR "/image", "xfs", "loop");
	expect_mount("{\"size\": \"512M\", \"fs\": \"ext4\", \"ro\": \"1\"}", VOL_DIR "/image", "ext4",
		     "loop,ro");
	/* owner and mode are set on the filesystem's root at create, not as options */
	expect_mount("{\"size\": \"1G\", \"uid\": \"1000\", \"mode\": \"0700\"}", VOL_DIR "/image", "ext4",
		     "loop");
}

static void test_mount_bind(void **state)
{
	(void)state;
	expect_mount("{\"type\": \"bind\", \"device\": \"/srv/www\"}", "/srv/www", NULL, "bind");
	expect_mount("{\"type\": \"bind\", \"device\": \"/srv/new\", \"create\": \"true\"}", "/srv/new", NULL,
		     "bind");
	expect_mount("{\"type\": \"bind\", \"device\": \"/srv/www\", \"create\": \"true\", \"ro\": \"true\"}",
		     "/srv/www", NULL, "bind,ro");
	/* a comma in the path is the source's, not an option */
	expect_mount("{\"type\": \"bind\", \"device\": \"/srv/a,ro=false\"}", "/srv/a,ro=false", NULL,
		     "bind");
}

static void test_mount_dir(void **state)
{
	(void)state;
	/* only a read-only dir volume is mounted: _data bound on itself */
	expect_mount("{\"ro\": \"true\"}", VOL_DIR "/_data", NULL, "bind,ro");
	expect_mount("{\"ro\": \"true\", \"mode\": \"0700\"}", VOL_DIR "/_data", NULL, "bind,ro");
}

static void test_mount_any_type(void **state)
{
	(void)state;
	expect_mount("{\"type\": \"nfs\", \"device\": \":/export\", \"o\": \"addr=10.0.0.1,rw\"}", ":/export",
		     "nfs", "addr=10.0.0.1,rw");
	expect_mount(
		"{\"type\": \"nfs\", \"device\": \":/export\", \"o\": \"addr=10.0.0.1\", \"ro\": \"true\"}",
		":/export", "nfs", "addr=10.0.0.1,ro");
	expect_mount("{\"type\": \"fuse.sshfs\", \"device\": \"me@host:/x\"}", "me@host:/x", "fuse.sshfs",
		     "");
	expect_mount("{\"type\": \"ext4\", \"device\": \"/dev/sdb1\", \"ro\": \"true\"}", "/dev/sdb1", "ext4",
		     "ro");
	/* uid and gid are applied to the mounted root, not passed to a filesystem that may not take them */
	expect_mount("{\"type\": \"ext4\", \"device\": \"/dev/sdb1\", \"uid\": \"1000\", \"gid\": \"1000\"}",
		     "/dev/sdb1", "ext4", "");
}

/* docker-volume-sshfs's options: every key but sshcmd, password and port is an sshfs `-o`, an
 * empty value a flag; cvol's defaults (host key, connect timeout, a dead server noticed, reconnect,
 * one password prompt) only when the volume sets none; the password never among them. */
static void test_mount_sshfs(void **state)
{
	(void)state;
	/* as sshfs gets them, one `-o` each: nothing escaped */
	expect_mount("{\"sshcmd\": \"u@h:/p\", \"IdentityFile\": \"/k:\\\\1\"}", "u@h:/p", "fuse.sshfs",
		     "StrictHostKeyChecking=accept-new,ConnectTimeout=10,ServerAliveInterval=5,"
		     "ServerAliveCountMax=3,reconnect,IdentityFile=/k:\\1");
	expect_mount("{\"sshcmd\": \"u@h:/p\", \"IdentityFile\": \"/k\", \"allow_other\": \"\"}", "u@h:/p",
		     "fuse.sshfs",
		     "StrictHostKeyChecking=accept-new,ConnectTimeout=10,ServerAliveInterval=5,"
		     "ServerAliveCountMax=3,reconnect,IdentityFile=/k,allow_other");
	expect_mount(
		"{\"sshcmd\": \"u@h:/p\", \"password\": \"pw,1\", \"port\": \"2222\", \"cache\": \"no\", "
		"\"stricthostkeychecking\": \"no\", \"ConnectTimeout\": \"3\"}",
		"u@h:/p", "fuse.sshfs",
		"password_stdin,ServerAliveInterval=5,ServerAliveCountMax=3,reconnect,"
		"NumberOfPasswordPrompts=1,cache=no,stricthostkeychecking=no,ConnectTimeout=3");
	/* a password file: on stdin too, the path never an sshfs option */
	expect_mount("{\"sshcmd\": \"u@h:/p\", \"password_file\": \"/etc/cvol/pw\"}", "u@h:/p", "fuse.sshfs",
		     "password_stdin,StrictHostKeyChecking=accept-new,ConnectTimeout=10,ServerAliveInterval=5,"
		     "ServerAliveCountMax=3,reconnect,NumberOfPasswordPrompts=1");
	/* the volume's own ServerAlive* and reconnect, once each */
	expect_mount("{\"sshcmd\": \"u@h:/p\", \"serveraliveinterval\": \"30\", "
		     "\"ServerAliveCountMax\": \"1\", \"reconnect\": \"\"}",
		     "u@h:/p", "fuse.sshfs",
		     "StrictHostKeyChecking=accept-new,ConnectTimeout=10,serveraliveinterval=30,"
		     "ServerAliveCountMax=1,reconnect");
}

/* Network volumes (their server may go: probed with a bound, detached lazily): sshfs, and the
 * generic types whose data is on a server or behind a FUSE daemon; never a local filesystem. */
static void test_remote(void **state)
{
	static const struct {
		const char *opts;
		bool remote;
	} cases[] = {
		{ "{\"sshcmd\": \"u@h:/p\"}", true },
		{ "{\"type\": \"nfs\", \"device\": \"h:/x\"}", true },
		{ "{\"type\": \"nfs4\", \"device\": \"h:/x\"}", true },
		{ "{\"type\": \"cifs\", \"device\": \"//h/s\"}", true },
		{ "{\"type\": \"fuse.s3fs\", \"device\": \"bucket\"}", true },
		{ "{\"type\": \"ext4\", \"device\": \"/dev/sdb1\"}", false },
		{ "{\"type\": \"nfsd\", \"device\": \"nfsd\"}", false },
		{ "{\"type\": \"tmpfs\"}", false },
		{ "{\"size\": \"1G\"}", false },
		{ "{}", false },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct test_volume t;
		volume_setup(&t, cases[i].opts, VOL_DIR, -1);
		if (volume_is_remote(&t.v) != cases[i].remote)
			fail_msg("`%s`: remote is %d, want %d", cases[i].opts, !cases[i].remote,
				 cases[i].remote);
		volume_free(&t);
	}
}

static void test_mount_too_long(void **state)
{
	char opts[6000], o[5000];
	struct cvol_error err = { 0 };
	struct test_volume t;
	struct volume_mount m;
	(void)state;

	memset(o, 'x', sizeof(o) - 1);
	o[sizeof(o) - 1] = '\0';
	snprintf(opts, sizeof(opts), "{\"type\": \"nfs\", \"device\": \":/e\", \"o\": \"%s\"}", o);
	volume_setup(&t, opts, VOL_DIR, -1);
	assert_int_equal(t.v.ops->mount_args(&t.v, &m, &err), -E2BIG);
	assert_string_equal(err.msg, "mount options for `" VOL_DIR "/_data` are too long");
	volume_free(&t);

	/* a volume dir so long that its image path does not fit */
	char dir[5000];
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	volume_setup(&t, "{\"size\": \"1G\"}", dir, -1);
	assert_int_equal(t.v.ops->mount_args(&t.v, &m, &err), -ENAMETOOLONG);
	assert_contains(err.msg, "the image path of");
	volume_free(&t);
}

/* ---- on disk, without root ---------------------------------------------------------- */

static void test_prepare_dir(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	struct test_volume t;
	struct stat st;
	char opts[128];

	snprintf(opts, sizeof(opts), "{\"uid\": \"%u\", \"mode\": \"0710\"}", (unsigned)getuid());
	volume_setup(&t, opts, f->top, f->fd);
	assert_int_equal(t.v.ops->prepare(&t.v, &err), 0);
	assert_int_equal(fstatat(f->fd, "_data", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0710);
	assert_int_equal(st.st_uid, getuid());

	/* a second prepare finds _data there and says so */
	assert_int_equal(t.v.ops->prepare(&t.v, &err), -EEXIST);
	assert_contains(err.msg, "/_data`");
	volume_free(&t);
}

static void test_prepare_bind(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	struct test_volume t;
	struct stat st;
	char opts[512];

	/* create=true makes the host directory, with the mode asked for */
	snprintf(opts, sizeof(opts),
		 "{\"type\": \"bind\", \"device\": \"%s/src\", \"create\": \"true\", \"mode\": \"0705\"}",
		 f->top);
	volume_setup(&t, opts, f->top, f->fd);
	assert_int_equal(t.v.ops->prepare(&t.v, &err), 0);
	assert_int_equal(fstatat(f->fd, "src", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0705);
	assert_int_equal(fstatat(f->fd, "_data", &st, AT_SYMLINK_NOFOLLOW), 0);
	volume_free(&t);
	assert_int_equal(unlinkat(f->fd, "_data", AT_REMOVEDIR), 0);

	/* without create, a missing source is refused with the hint */
	snprintf(opts, sizeof(opts), "{\"type\": \"bind\", \"device\": \"%s/missing\"}", f->top);
	volume_setup(&t, opts, f->top, f->fd);
	assert_int_equal(t.v.ops->prepare(&t.v, &err), -EINVAL);
	assert_contains(err.msg, "/missing` does not exist (create=true makes it)");
	volume_free(&t);
	assert_int_equal(unlinkat(f->fd, "_data", AT_REMOVEDIR), 0);

	/* a file is no bind source */
	assert_int_equal(close(openat(f->fd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
	snprintf(opts, sizeof(opts), "{\"type\": \"bind\", \"device\": \"%s/file\"}", f->top);
	volume_setup(&t, opts, f->top, f->fd);
	assert_int_equal(t.v.ops->prepare(&t.v, &err), -EINVAL);
	assert_contains(err.msg, "/file` is not a directory");
	volume_free(&t);
}

/* Status.Mount: nothing on _data is "not mounted" for any backend (no child is asked); the
 * other states as Status shows them. */
static void test_probe(void **state)
{
	struct unit_dir *f = *state;
	struct test_volume t;
	struct volume_probe p;
	char text[96];

	assert_int_equal(mkdirat(f->fd, "_data", 0755), 0);
	volume_setup(&t, "{\"sshcmd\": \"u@h:/p\"}", f->top, f->fd);
	volume_probe(&t.v, &p);
	assert_int_equal(p.health, VOLUME_NOT_MOUNTED);
	volume_probe_describe(&p, text, sizeof(text));
	assert_string_equal(text, "not mounted");
	volume_free(&t);

	p = (struct volume_probe){ .health = VOLUME_ALIVE };
	volume_probe_describe(&p, text, sizeof(text));
	assert_string_equal(text, "alive");
	p = (struct volume_probe){ .health = VOLUME_DEAD, .error = ENOTCONN };
	volume_probe_describe(&p, text, sizeof(text));
	assert_string_equal(text, "dead: Transport endpoint is not connected");
	p = (struct volume_probe){ .health = VOLUME_NO_ANSWER };
	volume_probe_describe(&p, text, sizeof(text));
	assert_string_equal(text, "no answer within 3 s");
}

static void test_usage(void **state)
{
	struct unit_dir *f = *state;
	struct test_volume t;
	uint64_t size = 0, used = 0;

	assert_int_equal(mkdirat(f->fd, "_data", 0755), 0);

	/* a dir volume: the filesystem it is on */
	volume_setup(&t, "{}", f->top, f->fd);
	t.v.ops->usage(&t.v, false, &size, &used);
	assert_true(size > 0);
	volume_free(&t);

	/* an unmounted loop volume: the image's size and the blocks it takes */
	int fd = openat(f->fd, "image", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	close(fd);
	size = used = 0;
	volume_setup(&t, "{\"size\": \"64M\"}", f->top, f->fd);
	t.v.ops->usage(&t.v, false, &size, &used);
	assert_int_equal(size, 64 << 20);
	assert_true(used < size); /* sparse */
	volume_free(&t);

	/* an unmounted tmpfs: nothing to tell */
	size = used = 0;
	volume_setup(&t, "{\"type\": \"tmpfs\"}", f->top, f->fd);
	t.v.ops->usage(&t.v, false, &size, &used);
	assert_int_equal(size, 0);
	assert_int_equal(used, 0);
	volume_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_needs_mount),
		cmocka_unit_test(test_mount_tmpfs),
		cmocka_unit_test(test_mount_loop),
		cmocka_unit_test(test_mount_bind),
		cmocka_unit_test(test_mount_dir),
		cmocka_unit_test(test_mount_any_type),
		cmocka_unit_test(test_mount_sshfs),
		cmocka_unit_test(test_mount_too_long),
		cmocka_unit_test(test_remote),
		cmocka_unit_test_setup_teardown(test_prepare_dir, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_prepare_bind, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_usage, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_probe, unit_dir_setup, unit_dir_teardown),
	};
	return cmocka_run_group_tests_name("volume-backend", tests, NULL, NULL);
}
