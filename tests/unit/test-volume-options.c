/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Volume options (`-o key=value`): the backend each set of options picks, every
 * refusal and its message, sizes, the "exists with other options" phrase, and
 * record.json written and read back. No root needed; records go to /tmp. */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../volumes/volumes-internal.h"

/* Parse the JSON text @opts_json; the options keep pointing into *@ret_doc. */
static int parse(const char *opts_json, json_t **ret_doc, struct volume_opts *ret, struct cvol_error *err)
{
	json_error_t jerr;
	json_t *doc = json_loads(opts_json, 0, &jerr);
	if (!doc)
		fail_msg("bad fixture `%s`: %s", opts_json, jerr.text);
	*ret_doc = doc;
	return volume_opts_parse(doc, ret, err);
}

/* Fail unless @opts_json is refused with EINVAL and exactly @msg, leaving the output untouched. */
static void expect_refused(const char *opts_json, const char *msg)
{
	struct cvol_error err = { 0 };
	struct volume_opts o, sentinel;
	json_t *doc;

	memset(&o, 0xa5, sizeof(o));
	memset(&sentinel, 0xa5, sizeof(sentinel));
	int r = parse(opts_json, &doc, &o, &err);
	if (r != -EINVAL)
		fail_msg("`%s`: got %d, want -EINVAL", opts_json, r);
	assert_int_equal(err.code, EINVAL);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("`%s`: message `%s`, want `%s`", opts_json, err.msg, msg);
	assert_memory_equal(&o, &sentinel, sizeof(o)); /* ret_* untouched on failure */
	json_decref(doc);
}

/* Fail unless @opts_json is refused with EINVAL and a message holding @part. */
static void expect_refused_containing(const char *opts_json, const char *part)
{
	struct cvol_error err = { 0 };
	struct volume_opts o;
	json_t *doc;

	int r = parse(opts_json, &doc, &o, &err);
	if (r != -EINVAL)
		fail_msg("`%s`: got %d, want -EINVAL", opts_json, r);
	if (!strstr(err.msg, part))
		fail_msg("`%s`: message `%s`, want it to hold `%s`", opts_json, err.msg, part);
	json_decref(doc);
}

/* Fail unless @opts_json parses (a stored volume with it still loads) but a new volume with
 * it is refused with EINVAL and exactly @msg. */
static void expect_refused_new(const char *opts_json, const char *msg)
{
	struct cvol_error err = { 0 };
	struct volume_opts o;
	json_t *doc;

	if (parse(opts_json, &doc, &o, &err) != 0)
		fail_msg("`%s`: refused by the parse: %s", opts_json, err.msg);
	int r = volume_opts_check_new(&o, &err);
	if (r != -EINVAL)
		fail_msg("`%s`: got %d, want -EINVAL", opts_json, r);
	assert_int_equal(err.code, EINVAL);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("`%s`: message `%s`, want `%s`", opts_json, err.msg, msg);
	json_decref(doc);
}

/* Parse @opts_json, which must be accepted, into *@o; free *@ret_doc after. */
static void expect_ok(const char *opts_json, json_t **ret_doc, struct volume_opts *o)
{
	struct cvol_error err = { 0 };
	int r = parse(opts_json, ret_doc, o, &err);
	if (r == 0)
		r = volume_opts_check_new(o, &err);
	if (r != 0)
		fail_msg("`%s`: refused (%d): %s", opts_json, r, err.msg);
}

static bool needs_mount(const struct volume_opts *o)
{
	return volume_backend_ops(o->backend)->needs_mount(o);
}

/* ---- backend decisions ------------------------------------------------------- */

static void test_backend_dir(void **state)
{
	struct cvol_error err = { 0 };
	struct volume_opts o;
	json_t *doc;
	(void)state;

	memset(&o, 0xa5, sizeof(o));
	assert_int_equal(volume_opts_parse(NULL, &o, &err), 0);
	assert_int_equal(o.backend, CVOL_BACKEND_DIR);
	assert_null(o.type);
	assert_null(o.device);
	assert_null(o.fs);
	assert_int_equal(o.size, 0);
	assert_false(o.ro);
	assert_false(o.create);
	assert_false(o.has_uid || o.has_gid || o.has_mode);

	expect_ok("{}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_DIR);
	json_decref(doc);

	expect_ok("{\"ro\": \"true\", \"mode\": \"0700\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_DIR);
	assert_true(o.ro);
	assert_true(o.has_mode);
	assert_int_equal(o.mode, 0700);
	assert_true(needs_mount(&o)); /* a read-only dir is a bind mount */
	json_decref(doc);

	expect_ok("{}", &doc, &o);
	assert_false(needs_mount(&o));
	json_decref(doc);
}

static void test_backend_loop(void **state)
{
	struct volume_opts o;
	json_t *doc;
	(void)state;

	expect_ok("{\"size\": \"512M\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_LOOP);
	assert_int_equal(o.size, 512ull << 20);
	assert_non_null(o.fs);
	assert_string_equal(o.fs, "ext4"); /* the default */
	assert_null(o.type);
	assert_true(needs_mount(&o));
	json_decref(doc);

	expect_ok("{\"size\": \"10G\", \"fs\": \"xfs\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_LOOP);
	assert_int_equal(o.size, 10ull << 30);
	assert_string_equal(o.fs, "xfs");
	json_decref(doc);

	expect_ok("{\"fs\": \"ext4\", \"size\": \"1G\", \"uid\": \"1000\", \"gid\": \"100\", \"mode\": "
		  "\"0750\"}",
		  &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_LOOP);
	assert_string_equal(o.fs, "ext4");
	assert_true(o.has_uid && o.has_gid && o.has_mode);
	assert_int_equal(o.uid, 1000);
	assert_int_equal(o.gid, 100);
	assert_int_equal(o.mode, 0750);
	json_decref(doc);
}

static void test_backend_bind(void **state)
{
	struct volume_opts o;
	json_t *doc;
	(void)state;

	expect_ok("{\"type\": \"bind\", \"device\": \"/srv/data\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_BIND);
	assert_string_equal(o.type, "bind");
	assert_string_equal(o.device, "/srv/data");
	assert_false(o.create);
	assert_false(o.ro);
	assert_true(needs_mount(&o));
	json_decref(doc);

	expect_ok("{\"type\": \"bind\", \"device\": \"/srv/new\", \"create\": \"true\", \"ro\": \"1\"}", &doc,
		  &o);
	assert_int_equal(o.backend, CVOL_BACKEND_BIND);
	assert_true(o.create);
	assert_true(o.ro);
	json_decref(doc);

	expect_refused("{\"type\": \"bind\", \"device\": \"srv/data\"}",
		       "type=bind needs `device` set to an absolute host path");
	expect_refused("{\"type\": \"bind\"}", "type=bind needs `device` set to an absolute host path");
	expect_refused("{\"type\": \"bind\", \"device\": \"\"}",
		       "type=bind needs `device` set to an absolute host path");
}

static void test_backend_tmpfs(void **state)
{
	struct volume_opts o;
	json_t *doc;
	(void)state;

	expect_ok("{\"type\": \"tmpfs\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_TMPFS);
	assert_string_equal(o.type, "tmpfs");
	assert_int_equal(o.size, 0);
	assert_null(o.fs);
	assert_true(needs_mount(&o));
	json_decref(doc);

	expect_ok("{\"type\": \"tmpfs\", \"size\": \"64m\", \"o\": \"nr_inodes=1k\", \"mode\": \"1777\"}",
		  &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_TMPFS);
	assert_int_equal(o.size, 64ull << 20);
	assert_string_equal(o.o, "nr_inodes=1k");
	assert_int_equal(o.mode, 01777);
	assert_null(o.fs); /* no loop default for tmpfs */
	json_decref(doc);

	expect_refused("{\"type\": \"tmpfs\", \"device\": \"/dev/sda\"}",
		       "type=tmpfs takes no `device` or `fs`");
	expect_refused("{\"type\": \"tmpfs\", \"fs\": \"ext4\"}", "type=tmpfs takes no `device` or `fs`");
}

static void test_backend_generic(void **state)
{
	struct volume_opts o;
	json_t *doc;
	(void)state;

	expect_ok("{\"type\": \"nfs\", \"device\": \":/export\", \"o\": \"addr=10.0.0.1,rw\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_MOUNT);
	assert_string_equal(o.type, "nfs");
	assert_string_equal(o.device, ":/export");
	assert_string_equal(o.o, "addr=10.0.0.1,rw");
	assert_true(needs_mount(&o));
	json_decref(doc);

	expect_ok("{\"type\": \"fuse.sshfs\", \"device\": \"me@host:/x\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_MOUNT);
	json_decref(doc);

	expect_refused("{\"type\": \"ext4\"}", "type=ext4 needs `device`");
	expect_refused("{\"type\": \"ext4\", \"device\": \"/dev/sdb1\", \"size\": \"1G\"}",
		       "type=ext4 takes no `size` or `fs`");
	expect_refused("{\"type\": \"ext4\", \"device\": \"/dev/sdb1\", \"fs\": \"xfs\"}",
		       "type=ext4 takes no `size` or `fs`");
	/* a comma would smuggle mount options in through the type */
	expect_refused("{\"type\": \"ext4,bind\", \"device\": \"/dev/sdb1\"}",
		       "option `type=ext4,bind`: not a filesystem type name");
	expect_refused("{\"type\": \"EXT4\", \"device\": \"/dev/sdb1\"}",
		       "option `type=EXT4`: not a filesystem type name");
	expect_refused("{\"type\": \"\", \"device\": \"/dev/sdb1\"}",
		       "option `type=`: not a filesystem type name");
	expect_refused("{\"type\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"device\": \"/dev/sdb1\"}",
		       "option `type=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`: not a filesystem type name");
}

/* ---- refusals ------------------------------------------------------------------ */

static void test_refused_keys_and_values(void **state)
{
	struct cvol_error err = { 0 };
	struct volume_opts o;
	(void)state;

	expect_refused(
		"{\"sise\": \"1G\"}",
		"unknown option `sise` (known: type, device, o, size, fs, uid, gid, mode, ro, create)");
	expect_refused(
		"{\"size\": \"1G\", \"Size\": \"1G\"}",
		"unknown option `Size` (known: type, device, o, size, fs, uid, gid, mode, ro, create)");
	expect_refused("{\"size\": 1024}", "option `size` must be a string");
	expect_refused("{\"ro\": true}", "option `ro` must be a string");
	expect_refused("{\"device\": null}", "option `device` must be a string");
	expect_refused("{\"o\": [\"rw\"]}", "option `o` must be a string");
	expect_refused("{\"size\": \"lots\"}", "option `size=lots`: use a size such as 512M or 10G");
	expect_refused("{\"size\": \"0\"}", "option `size=0`: use a size such as 512M or 10G");

	json_t *array = json_array();
	memset(&o, 0xa5, sizeof(o));
	assert_int_equal(volume_opts_parse(array, &o, &err), -EINVAL);
	assert_string_equal(err.msg, "options must be an object of strings");
	assert_int_equal(o.size, 0xa5a5a5a5a5a5a5a5ull);
	json_decref(array);
}

static void test_refused_combinations(void **state)
{
	struct volume_opts o;
	json_t *doc;
	(void)state;

	expect_refused("{\"fs\": \"xfs\"}", "option `fs` needs `size` (a loop image)");
	expect_refused("{\"size\": \"1G\", \"fs\": \"btrfs\"}", "option `fs=btrfs`: use ext4 or xfs");
	expect_refused("{\"create\": \"true\"}", "option `create` is for type=bind");
	expect_refused("{\"type\": \"tmpfs\", \"create\": \"true\"}", "option `create` is for type=bind");
	expect_refused("{\"type\": \"bind\", \"device\": \"/srv\", \"size\": \"1G\"}",
		       "type=bind takes no `o`, `size` or `fs`");
	expect_refused("{\"type\": \"bind\", \"device\": \"/srv\", \"o\": \"noexec\"}",
		       "type=bind takes no `o`, `size` or `fs`");
	expect_refused("{\"device\": \"/dev/sdb1\"}", "options `device` and `o` need a `type`");
	expect_refused("{\"o\": \"noexec\"}", "options `device` and `o` need a `type`");

	/* create=false says nothing, so any backend takes it */
	expect_ok("{\"create\": \"false\"}", &doc, &o);
	assert_int_equal(o.backend, CVOL_BACKEND_DIR);
	assert_false(o.create);
	json_decref(doc);
}

/* `o` holds filesystem options only: one that changes what is mounted or how is refused at
 * Create, naming it, instead of failing every Mount after. */
static void test_o_mount_flags_refused(void **state)
{
	static const struct {
		const char *o, *name;
	} refused[] = {
		{ "remount", "remount" },
		{ "remount,ro", "remount" },
		{ "ro,remount", "remount" },
		{ "bind", "bind" },
		{ "rbind", "rbind" },
		{ "move", "move" },
		{ "size=1m,bind", "bind" },
		{ "shared", "shared" },
		{ "rshared", "rshared" },
		{ "private", "private" },
		{ "rprivate", "rprivate" },
		{ "slave", "slave" },
		{ "rslave", "rslave" },
		{ "unbindable", "unbindable" },
		{ "runbindable", "runbindable" },
		{ "make-private", "make-private" },
		{ "make-rshared", "make-rshared" },
		{ "user", "user" },
		{ "users", "users" },
		{ "owner", "owner" },
		{ "group", "group" },
		{ "helper=foo", "helper" },
		{ "uhelper=foo", "uhelper" },
		{ "X-mount.mkdir", "X-mount.mkdir" },
		{ "X-mount.owner=0", "X-mount.owner" },
		{ "x-systemd.automount", "x-systemd.automount" },
	};
	char json[256], want[256];
	struct volume_opts o;
	json_t *doc;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		snprintf(json, sizeof(json), "{\"type\": \"tmpfs\", \"o\": \"%s\"}", refused[i].o);
		snprintf(
			want, sizeof(want),
			"option `o`: `%s` is not a filesystem option; it would change what is mounted or how",
			refused[i].name);
		expect_refused_new(json, want);
	}
	/* a newline or another control character: one line of Err, one option per Mount */
	expect_refused_new("{\"type\": \"tmpfs\", \"o\": \"size=1m\\nbind\"}",
			   "option `o`: a control character (such as a newline) is not allowed");
	expect_refused_new("{\"type\": \"ext4\", \"device\": \"/dev/sdb1\", \"o\": \"noatime\\t\"}",
			   "option `o`: a control character (such as a newline) is not allowed");

	/* filesystem options, and names that only start like a refused one, stay accepted */
	expect_ok("{\"type\": \"tmpfs\", \"o\": \"size=1m,nr_inodes=100,noexec,nosuid,ro\"}", &doc, &o);
	json_decref(doc);
	expect_ok("{\"type\": \"nfs\", \"device\": \":/x\", \"o\": \"addr=10.0.0.1,bindx,mover,users_ok=1\"}",
		  &doc, &o);
	json_decref(doc);
	expect_ok("{\"type\": \"cifs\", \"device\": \"//h/s\", \"o\": \"username=me,uid=1000\"}", &doc, &o);
	json_decref(doc);
	expect_ok("{\"type\": \"ext4\", \"device\": \"/srv/fs.img\", \"o\": \"loop,noatime\"}", &doc, &o);
	json_decref(doc);
	expect_ok("{\"type\": \"tmpfs\", \"o\": \"\"}", &doc, &o);
	json_decref(doc);
}

static void test_owner_and_mode(void **state)
{
	struct volume_opts o;
	json_t *doc;
	(void)state;

	expect_ok("{\"uid\": \"0\", \"gid\": \"4294967294\", \"mode\": \"0750\"}", &doc, &o);
	assert_true(o.has_uid && o.has_gid && o.has_mode);
	assert_int_equal(o.uid, 0);
	assert_int_equal(o.gid, 4294967294u);
	assert_int_equal(o.mode, 0750);
	json_decref(doc);

	expect_ok("{\"mode\": \"750\"}", &doc, &o); /* octal with or without the leading 0 */
	assert_int_equal(o.mode, 0750);
	assert_false(o.has_uid || o.has_gid);
	json_decref(doc);

	expect_ok("{\"mode\": \"7777\"}", &doc, &o);
	assert_int_equal(o.mode, 07777);
	json_decref(doc);

	expect_refused("{\"mode\": \"8888\"}", "option `mode=8888`: not an octal number up to 7777");
	expect_refused("{\"mode\": \"0759\"}", "option `mode=0759`: not an octal number up to 7777");
	expect_refused("{\"mode\": \"10000\"}", "option `mode=10000`: not an octal number up to 7777");
	expect_refused("{\"mode\": \"rwx\"}", "option `mode=rwx`: not an octal number up to 7777");
	expect_refused("{\"uid\": \"-1\"}", "option `uid=-1`: not a decimal number up to 4294967294");
	/* (uid_t)-1 means "leave unchanged" to chown(2), so it is not a uid */
	expect_refused("{\"uid\": \"4294967295\"}",
		       "option `uid=4294967295`: not a decimal number up to 4294967294");
	expect_refused("{\"uid\": \"\"}", "option `uid=`: not a decimal number up to 4294967294");
	expect_refused("{\"uid\": \"1000x\"}", "option `uid=1000x`: not a decimal number up to 4294967294");
	expect_refused("{\"gid\": \"wheel\"}", "option `gid=wheel`: not a decimal number up to 4294967294");
	expect_refused("{\"gid\": \"99999999999999999999\"}",
		       "option `gid=99999999999999999999`: not a decimal number up to 4294967294");
}

static void test_booleans(void **state)
{
	static const struct {
		const char *json;
		bool ro, create;
	} good[] = {
		{ "{\"ro\": \"true\"}", true, false },
		{ "{\"ro\": \"1\"}", true, false },
		{ "{\"ro\": \"false\"}", false, false },
		{ "{\"ro\": \"0\"}", false, false },
		{ "{\"type\": \"bind\", \"device\": \"/x\", \"create\": \"true\"}", false, true },
		{ "{\"type\": \"bind\", \"device\": \"/x\", \"create\": \"1\"}", false, true },
		{ "{\"type\": \"bind\", \"device\": \"/x\", \"create\": \"false\", \"ro\": \"true\"}", true,
		  false },
		{ "{\"type\": \"bind\", \"device\": \"/x\", \"create\": \"0\"}", false, false },
	};
	struct volume_opts o;
	json_t *doc;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		expect_ok(good[i].json, &doc, &o);
		if (o.ro != good[i].ro || o.create != good[i].create)
			fail_msg("`%s`: ro=%d create=%d", good[i].json, o.ro, o.create);
		json_decref(doc);
	}
	expect_refused("{\"ro\": \"yes\"}", "option `ro=yes`: use true or false");
	expect_refused("{\"ro\": \"TRUE\"}", "option `ro=TRUE`: use true or false");
	expect_refused("{\"ro\": \"\"}", "option `ro=`: use true or false");
	expect_refused("{\"type\": \"bind\", \"device\": \"/x\", \"create\": \"maybe\"}",
		       "option `create=maybe`: use true or false");
}

/* ---- sizes --------------------------------------------------------------------- */

static void test_size_parse(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{ "512M", 512ull << 20 },
		{ "512m", 512ull << 20 },
		{ "10G", 10ull << 30 },
		{ "1GiB", 1ull << 30 },
		{ "1gb", 1ull << 30 },
		{ "2T", 2ull << 40 },
		{ "1k", 1024 },
		{ "1KiB", 1024 },
		{ "4096", 4096 },
		{ "4096B", 4096 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", 16777215ull << 40 },
	};
	static const char *const bad[] = {
		"0",
		"0G",
		"-1",
		"-1G",
		" -1",
		"+-1",
		"10X",
		"10 G",
		"10GiBx",
		"1iB",
		"G",
		"",
		" ",
		"1.5G",
		"18446744073709551616", /* over 2^64 - 1 */
		"16777216T",		/* 2^64 bytes */
		"17179869184G",		/* 2^64 bytes */
		"99999999999999999999999999",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		uint64_t n = 7;
		int r = volume_size_parse(good[i].text, &n);
		if (r != 0 || n != good[i].bytes)
			fail_msg("`%s`: r=%d n=%llu, want %llu", good[i].text, r, (unsigned long long)n,
				 (unsigned long long)good[i].bytes);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t n = 7;
		int r = volume_size_parse(bad[i], &n);
		if (r != -EINVAL || n != 7)
			fail_msg("`%s`: r=%d n=%llu, want -EINVAL and no output", bad[i], r,
				 (unsigned long long)n);
	}
}

/* ---- "it exists with other options: ..." ------------------------------------------ */

static void describe(const char *have_json, const char *want_json, char *buf, size_t size)
{
	json_t *have = json_loads(have_json, 0, NULL), *want = json_loads(want_json, 0, NULL);
	assert_non_null(have);
	assert_non_null(want);
	volume_opts_describe_difference(have, want, buf, size);
	json_decref(have);
	json_decref(want);
}

static void test_describe_difference(void **state)
{
	char buf[512];
	(void)state;

	describe("{\"size\": \"1G\"}", "{\"size\": \"2G\"}", buf, sizeof(buf));
	assert_string_equal(buf, "size is `1G`, not `2G`");
	describe("{}", "{\"size\": \"1G\"}", buf, sizeof(buf));
	assert_string_equal(buf, "size is left out, not `1G`");
	describe("{\"fs\": \"xfs\"}", "{}", buf, sizeof(buf));
	assert_string_equal(buf, "fs is `xfs`, not left out");
	describe("{\"size\": \"1G\", \"fs\": \"xfs\", \"ro\": \"true\"}",
		 "{\"ro\": \"true\", \"size\": \"2G\", \"uid\": \"7\"}", buf, sizeof(buf));
	assert_string_equal(buf,
			    "size is `1G`, not `2G`; fs is `xfs`, not left out; uid is left out, not `7`");
	describe("{\"size\": \"1G\", \"fs\": \"xfs\"}", "{\"fs\": \"xfs\", \"size\": \"1G\"}", buf,
		 sizeof(buf));
	assert_string_equal(buf, "");
	describe("{}", "{}", buf, sizeof(buf));
	assert_string_equal(buf, "");

	/* a short buffer is cut, never overrun (ASan watches the canary) */
	char small[12];
	memset(small, 'x', sizeof(small));
	describe("{\"size\": \"1G\", \"fs\": \"xfs\"}", "{\"size\": \"2G\", \"uid\": \"7\"}", small, 8);
	assert_string_equal(small, "size is");
	assert_int_equal(small[8], 'x');
}

/* ---- record.json ------------------------------------------------------------------- */

static void write_record(struct unit_dir *f, const char *text)
{
	struct cvol_error err = { 0 };
	if (file_write_atomic(f->fd, "record.json", text, strlen(text), &err) < 0)
		fail_msg("write record.json: %s", err.msg);
}

static void test_record_round_trip(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	struct volume_record rec = { 0 }, back = { 0 };
	char *ids[] = { "c0ffee", "deadbeef", NULL };

	snprintf(rec.created_at, sizeof(rec.created_at), "2024-05-01T12:34:56Z");
	snprintf(rec.boot_id, sizeof(rec.boot_id), "5c0e2a4e-1111-4c0a-9c1e-0123456789ab");
	rec.options = json_pack("{s:s, s:s, s:s}", "size", "1G", "fs", "xfs", "mode", "0750");
	rec.ids = ids;
	assert_int_equal(volume_record_save(f->fd, &rec, &err), 0);

	assert_int_equal(volume_record_load(f->fd, &back, &err), 0);
	assert_string_equal(back.created_at, "2024-05-01T12:34:56Z");
	assert_string_equal(back.boot_id, "5c0e2a4e-1111-4c0a-9c1e-0123456789ab");
	assert_true(json_equal(back.options, rec.options));
	assert_int_equal(strv_length(back.ids), 2);
	assert_string_equal(back.ids[0], "c0ffee");
	assert_string_equal(back.ids[1], "deadbeef");
	assert_true(volume_ids_contain(back.ids, "deadbeef"));
	assert_false(volume_ids_contain(back.ids, "dead"));
	volume_record_done(&back);
	assert_null(back.options);
	assert_null(back.ids);

	/* saved again over the old one, with no IDs left */
	char *none[] = { NULL };
	rec.ids = none;
	assert_int_equal(volume_record_save(f->fd, &rec, &err), 0);
	assert_int_equal(volume_record_load(f->fd, &back, &err), 0);
	assert_non_null(back.ids);
	assert_null(back.ids[0]);
	assert_true(json_equal(back.options, rec.options));
	volume_record_done(&back);
	json_decref(rec.options);

	/* the atomic write leaves only the record behind */
	struct stat st;
	assert_int_equal(fstatat(f->fd, "record.json", &st, 0), 0);
	assert_true(S_ISREG(st.st_mode));
	DIR *d = opendir(f->top);
	struct dirent *de;
	size_t entries = 0;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			assert_string_equal(de->d_name, "record.json");
			entries++;
		}
	closedir(d);
	assert_int_equal(entries, 1);
}

/* A record from before Boot was written still loads, with an empty boot. */
static void test_record_without_boot(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	struct volume_record back = { 0 };

	write_record(f, "{\"CreatedAt\":\"2024-01-01T00:00:00Z\",\"Mounts\":[\"a\"],\"Options\":{}}");
	assert_int_equal(volume_record_load(f->fd, &back, &err), 0);
	assert_string_equal(back.boot_id, "");
	assert_string_equal(back.ids[0], "a");
	assert_int_equal(json_object_size(back.options), 0);
	volume_record_done(&back);
}

static void test_record_corrupt(void **state)
{
	static const char *const corrupt[] = {
		"not json",
		"",
		"{\"CreatedAt\":\"2024-01-01T00:00:00Z\",\"Mounts\":[]",
		"[]",
		"{\"Mounts\":[],\"Options\":{}}",
		"{\"CreatedAt\":7,\"Mounts\":[],\"Options\":{}}",
		"{\"CreatedAt\":\"x\",\"Options\":{}}",
		"{\"CreatedAt\":\"x\",\"Mounts\":[]}",
		"{\"CreatedAt\":\"x\",\"Mounts\":{},\"Options\":{}}",
		"{\"CreatedAt\":\"x\",\"Mounts\":[],\"Options\":[]}",
		"{\"CreatedAt\":\"x\",\"Mounts\":[],\"Options\":\"size=1G\"}",
		"{\"CreatedAt\":\"x\",\"Mounts\":[\"a\",7],\"Options\":{}}",
		"{\"CreatedAt\":\"x\",\"Boot\":3,\"Mounts\":[],\"Options\":{}}",
	};
	struct unit_dir *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(corrupt); i++) {
		struct cvol_error err = { 0 };
		struct volume_record back;
		memset(&back, 0xa5, sizeof(back));
		write_record(f, corrupt[i]);
		int r = volume_record_load(f->fd, &back, &err);
		if (r != -EBADMSG)
			fail_msg("`%s`: got %d, want -EBADMSG", corrupt[i], r);
		assert_int_equal(err.code, EBADMSG);
		assert_contains(err.msg, "corrupt record.json");
		assert_int_equal((unsigned char)back.created_at[0], 0xa5); /* untouched */
	}
}

/* ---- sshfs and secrets ------------------------------------------------------------- */

static void test_backend_sshfs(void **state)
{
	struct cvol_error err = { 0 };
	struct volume_opts o;
	json_t *doc;
	(void)state;

	assert_int_equal(parse("{\"sshcmd\": \"u@h:/p\", \"password\": \"a,-b\", \"port\": \"2222\", "
			       "\"uid\": \"1000\", \"allow_other\": \"\"}",
			       &doc, &o, &err),
			 0);
	assert_int_equal(o.backend, CVOL_BACKEND_SSHFS);
	assert_string_equal(o.sshcmd, "u@h:/p");
	assert_string_equal(o.password, "a,-b"); /* on stdin: anything but a control character */
	assert_string_equal(o.port, "2222");
	assert_false(o.has_uid); /* sshfs's uid=, not cvol's */
	json_decref(doc);

	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"cache\": \"no,allow_other\"}",
				  "a value with `,`");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"cache\": \"-x\"}", "starting with `-`");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"a-b\": \"c\"}", "[A-Za-z0-9_]");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"a=b\": \"c\"}", "[A-Za-z0-9_]");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"\": \"c\"}", "[A-Za-z0-9_]");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"x\": \"a\\nb\"}", "control character");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"password\": \"a\\nb\"}", "control character");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"password\": \"\"}", "1-1024 bytes");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"password_file\": \"pw\"}", "absolute path");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"password_file\": \"/pw\", \"password\": \"x\"}",
				  "give one");
	assert_int_equal(parse("{\"sshcmd\": \"u@h:/p\", \"password_file\": \"/etc/cvol/pw,1\"}", &doc, &o, &err), 0);
	assert_string_equal(o.password_file, "/etc/cvol/pw,1"); /* read by cvol: a `,` is fine */
	assert_null(o.password);
	json_decref(doc);
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"PROXYCOMMAND\": \"nc\"}", "not allowed");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"ssh_command\": \"sh\"}", "not allowed");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"port\": \"0\"}", "port=0");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"port\": \"65536\"}", "not a decimal number");
	expect_refused_containing("{\"sshcmd\": \"u@h:/p\", \"type\": \"nfs\"}", "leave `type` out");
	expect_refused_containing("{\"sshcmd\": \"-oProxyCommand=x:/p\"}", "starting with `-`");
	expect_refused_containing("{\"sshcmd\": \"nocolon\"}", "[user@]host:path");
	expect_refused_containing("{\"sshcmd\": 7}", "must be a string");
}

static void test_secrets(void **state)
{
	char buf[256];
	(void)state;

	assert_true(volume_opt_is_secret("password"));
	assert_true(volume_opt_is_secret("Password"));
	assert_true(volume_opt_is_secret("PASSWD"));
	assert_true(volume_opt_is_secret("key_passphrase"));
	assert_true(volume_opt_is_secret("client_secret"));
	assert_true(volume_opt_is_secret("auth_token"));
	assert_true(volume_opt_is_secret("credentials"));
	assert_false(volume_opt_is_secret("sshcmd"));
	assert_false(volume_opt_is_secret("IdentityFile"));
	assert_false(volume_opt_is_secret("port"));

	volume_optstr_redact("username=u,password=p,vers=3.0", buf, sizeof(buf));
	assert_string_equal(buf, "username=u,password=********,vers=3.0");
	volume_optstr_redact("pass=\"a,b\",ro,Secret=x", buf, sizeof(buf));
	assert_string_equal(buf, "pass=\"a,b\",ro,Secret=********");
	volume_optstr_redact("", buf, sizeof(buf));
	assert_string_equal(buf, "");

	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "sshcmd", "u@h:/p", "password", "pw", "My_Token", "t",
			      "o", "a=1,passwd=z");
	json_t *r = volume_opts_redacted(o);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "sshcmd")), "u@h:/p");
	assert_string_equal(json_string_value(json_object_get(r, "password")), "********");
	assert_string_equal(json_string_value(json_object_get(r, "My_Token")), "********");
	assert_string_equal(json_string_value(json_object_get(r, "o")), "a=1,passwd=********");
	assert_string_equal(json_string_value(json_object_get(o, "password")), "pw"); /* a copy */
	json_decref(r);
	json_decref(o);

	/* "it exists with other options: ...": never a secret's value */
	describe("{\"password\": \"old\", \"port\": \"22\"}", "{\"password\": \"new\", \"port\": \"2222\"}",
		 buf, sizeof(buf));
	assert_string_equal(buf, "password differs; port is `22`, not `2222`");
	describe("{\"password\": \"old\"}", "{}", buf, sizeof(buf));
	assert_string_equal(buf, "password is `********`, not left out");
	describe("{}", "{\"password\": \"new\"}", buf, sizeof(buf));
	assert_string_equal(buf, "password is left out, not `********`");
	describe("{\"o\": \"password=a,vers=3\"}", "{\"o\": \"password=b,vers=3\"}", buf, sizeof(buf));
	assert_string_equal(buf, "o differs");
	describe("{\"o\": \"password=a,vers=3\"}", "{\"o\": \"password=a,vers=2\"}", buf, sizeof(buf));
	assert_string_equal(buf, "o is `password=********,vers=3`, not `password=********,vers=2`");
}

static void test_record_missing(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	struct volume_record back;

	/* -EBADMSG, not -ENOENT: "no such volume" is for a volume without a directory */
	assert_int_equal(volume_record_load(f->fd, &back, &err), -EBADMSG);
	assert_contains(err.msg, "the volume has no record.json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_dir),
		cmocka_unit_test(test_backend_loop),
		cmocka_unit_test(test_backend_bind),
		cmocka_unit_test(test_backend_tmpfs),
		cmocka_unit_test(test_backend_generic),
		cmocka_unit_test(test_refused_keys_and_values),
		cmocka_unit_test(test_refused_combinations),
		cmocka_unit_test(test_o_mount_flags_refused),
		cmocka_unit_test(test_owner_and_mode),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_describe_difference),
		cmocka_unit_test(test_backend_sshfs),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test_setup_teardown(test_record_round_trip, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_record_without_boot, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_record_corrupt, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_record_missing, unit_dir_setup, unit_dir_teardown),
	};
	return cmocka_run_group_tests_name("volume-options", tests, NULL, NULL);
}
