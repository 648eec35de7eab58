/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The volume plugin protocol without a socket: cvol_plugin_handle() fed JSON the way
 * dockerd sends it, on a real volume store in a fresh /tmp directory. Only the "dir"
 * backend is used, whose Mount mounts nothing, so no root is needed. */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../plugin/plugin.h"

struct fixture {
	char dir[64];
	char volumes[PATH_MAX]; /* the canonical <dir>/volumes */
	struct cvol_plugin_config cfg;
	struct cvol_volume_store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cvol_error err = { 0 };
	char path[128];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cvol-test-plugin.XXXXXX");
	if (!mkdtemp(f->dir) || cvol_volume_store_open(f->dir, &f->store, &err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/volumes", f->dir);
	if (!realpath(path, f->volumes))
		return -1;
	f->cfg = (struct cvol_plugin_config){ .root = f->dir };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cvol_volume_store_close(f->store);
	dir_remove_tree(AT_FDCWD, f->dir, NULL);
	free(f);
	return 0;
}

/* POST @body to @path; the reply must be a JSON object, handed out in *@ret_reply. */
static unsigned call(struct fixture *f, const char *path, const char *body, json_t **ret_reply)
{
	char *text = NULL;
	json_error_t jerr;

	unsigned status = cvol_plugin_handle(f->store, &f->cfg, path, body, strlen(body), &text);
	if (!text)
		fail_msg("%s %s: no reply body", path, body);
	json_t *reply = json_loads(text, 0, &jerr);
	if (!reply || !json_is_object(reply))
		fail_msg("%s %s: reply `%s` is not a JSON object", path, body, text);
	free(text);
	*ret_reply = reply;
	return status;
}

/* The reply's "Err"; fails when it is missing or not a string. */
static const char *err_of(json_t *reply)
{
	json_t *e = json_object_get(reply, "Err");
	if (!json_is_string(e))
		fail_msg("reply has no string `Err`");
	return json_string_value(e);
}

/* Call @path with @body; fail unless the status is @status and Err is "" (200) or contains @err_part. */
static void expect(struct fixture *f, const char *path, const char *body, unsigned status,
		   const char *err_part)
{
	json_t *reply;
	unsigned got = call(f, path, body, &reply);
	if (got != status)
		fail_msg("%s %s: status %u (Err `%s`), want %u", path, body, got,
			 json_string_value(json_object_get(reply, "Err")), status);
	if (status == 200)
		assert_string_equal(err_of(reply), "");
	else
		assert_contains(err_of(reply), err_part);
	json_decref(reply);
}

/* {"Name": @name} as JSON, escaped properly; free the result. */
static char *name_body(const char *name)
{
	json_t *o = json_pack("{s:s}", "Name", name);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_non_null(text);
	return text;
}

static bool exists(const struct fixture *f, const char *rel)
{
	char path[PATH_MAX + 256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", f->volumes, rel);
	return lstat(path, &st) == 0;
}

/* Entries of <volumes>/@rel ("" for the store itself), "." and ".." left out. */
static size_t count_entries(const struct fixture *f, const char *rel)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", f->volumes, rel);
	DIR *d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Get @name (which must succeed) and return its "Volume" object, with the reply in *@ret_reply. */
static json_t *get_volume(struct fixture *f, const char *name, json_t **ret_reply)
{
	_cleanup_free_ char *body = name_body(name);
	json_t *reply;
	unsigned status = call(f, "/VolumeDriver.Get", body, &reply);
	if (status != 200)
		fail_msg("Get `%s`: %u %s", name, status, json_string_value(json_object_get(reply, "Err")));
	assert_string_equal(err_of(reply), "");
	json_t *v = json_object_get(reply, "Volume");
	assert_true(json_is_object(v));
	*ret_reply = reply;
	return v;
}

static json_int_t mounts_of(struct fixture *f, const char *name)
{
	json_t *reply, *v = get_volume(f, name, &reply);
	json_t *n = json_object_get(json_object_get(v, "Status"), "Mounts");
	assert_true(json_is_integer(n));
	json_int_t count = json_integer_value(n);
	assert_int_equal(json_array_size(json_object_get(json_object_get(v, "Status"), "MountIDs")), count);
	json_decref(reply);
	return count;
}

/* True for exactly YYYY-MM-DDTHH:MM:SSZ. */
static bool is_rfc3339_utc(const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
	if (strlen(s) != sizeof(pattern) - 1)
		return false;
	for (size_t i = 0; pattern[i]; i++)
		if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pattern[i])
			return false;
	return true;
}

/* ---- the handshake ------------------------------------------------------------- */

static void test_activate(void **state)
{
	struct fixture *f = *state;
	json_t *reply;

	assert_int_equal(call(f, "/Plugin.Activate", "", &reply), 200);
	json_t *impl = json_object_get(reply, "Implements");
	assert_true(json_is_array(impl));
	assert_int_equal(json_array_size(impl), 1);
	assert_string_equal(json_string_value(json_array_get(impl, 0)), "VolumeDriver");
	assert_int_equal(json_object_size(reply), 1);
	json_decref(reply);

	assert_int_equal(call(f, "/Plugin.Activate", "{}", &reply), 200);
	assert_non_null(json_object_get(reply, "Implements"));
	json_decref(reply);
}

/* A body is its bytes, not a C string: a blank one that is not NUL-terminated is read no
 * further than its length (ASan in check-asan caught the fuzzer's input past it). */
static void test_body_without_nul(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	char *body = malloc(3);

	assert_non_null(body);
	memcpy(body, " \n ", 3);
	assert_int_equal(cvol_plugin_handle(f->store, &f->cfg, "/VolumeDriver.List", body, 3, &text), 200);
	assert_contains(text, "\"Volumes\"");
	free(text);
	free(body);
}

static void test_capabilities(void **state)
{
	struct fixture *f = *state;
	json_t *reply;

	assert_int_equal(call(f, "/VolumeDriver.Capabilities", "", &reply), 200);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(reply, "Capabilities"), "Scope")), "local");
	json_decref(reply);

	f->cfg.global_scope = true;
	assert_int_equal(call(f, "/VolumeDriver.Capabilities", "{}", &reply), 200);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(reply, "Capabilities"), "Scope")),
		"global");
	json_decref(reply);
}

/* ---- the volume's life -------------------------------------------------------------- */

static void test_create_and_get(void **state)
{
	struct fixture *f = *state;
	json_t *reply;
	char want[PATH_MAX + 64];

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{}}", 200, NULL);
	assert_true(exists(f, "data/_data"));
	assert_true(exists(f, "data/record.json"));

	time_t now = time(NULL);
	json_t *v = get_volume(f, "data", &reply);
	assert_string_equal(json_string_value(json_object_get(v, "Name")), "data");
	snprintf(want, sizeof(want), "%s/data/_data", f->volumes);
	assert_string_equal(json_string_value(json_object_get(v, "Mountpoint")), want);

	const char *created = json_string_value(json_object_get(v, "CreatedAt"));
	assert_non_null(created);
	if (!is_rfc3339_utc(created))
		fail_msg("CreatedAt `%s` is not YYYY-MM-DDTHH:MM:SSZ", created);
	struct tm tm = { 0 };
	assert_non_null(strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm));
	time_t t = timegm(&tm);
	if (t > now + 5 || t < now - 300)
		fail_msg("CreatedAt `%s` is not about now", created);

	json_t *status = json_object_get(v, "Status");
	assert_true(json_is_object(status));
	assert_string_equal(json_string_value(json_object_get(status, "Backend")), "dir");
	assert_true(json_is_false(json_object_get(status, "Mounted")));
	assert_int_equal(json_integer_value(json_object_get(status, "Mounts")), 0);
	assert_true(json_is_array(json_object_get(status, "MountIDs")));
	assert_int_equal(json_array_size(json_object_get(status, "MountIDs")), 0);
	assert_true(json_is_object(json_object_get(status, "Options")));
	assert_int_equal(json_object_size(json_object_get(status, "Options")), 0);
	assert_true(json_integer_value(json_object_get(status, "Size")) > 0); /* the fs under /tmp */
	json_decref(reply);

	/* options given at create come back, and a dir volume applies the mode to _data */
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"private\",\"Opts\":{\"mode\":\"0700\"}}", 200, NULL);
	v = get_volume(f, "private", &reply);
	json_t *opts = json_object_get(json_object_get(v, "Status"), "Options");
	assert_int_equal(json_object_size(opts), 1);
	assert_string_equal(json_string_value(json_object_get(opts, "mode")), "0700");
	json_decref(reply);
	struct stat st;
	snprintf(want, sizeof(want), "%s/private/_data", f->volumes);
	assert_int_equal(stat(want, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* "Opts": null is no options at all */
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"nulled\",\"Opts\":null}", 200, NULL);
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"nulled\"}", 200, NULL);
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	json_t *reply;
	char want[PATH_MAX + 64];

	assert_int_equal(call(f, "/VolumeDriver.List", "", &reply), 200);
	assert_string_equal(err_of(reply), "");
	assert_true(json_is_array(json_object_get(reply, "Volumes")));
	assert_int_equal(json_array_size(json_object_get(reply, "Volumes")), 0);
	json_decref(reply);

	/* neither creation order nor its reverse is sorted */
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"mid\"}", 200, NULL);
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"alpha\"}", 200, NULL);
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"zeta\"}", 200, NULL);
	assert_int_equal(call(f, "/VolumeDriver.List", "{}", &reply), 200);
	assert_string_equal(err_of(reply), "");
	json_t *list = json_object_get(reply, "Volumes");
	assert_int_equal(json_array_size(list), 3); /* not .staging or .locks */
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "Name")), "alpha");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "Name")), "mid");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "Name")), "zeta");
	snprintf(want, sizeof(want), "%s/zeta/_data", f->volumes);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "Mountpoint")), want);
	json_decref(reply);
}

static void test_path(void **state)
{
	struct fixture *f = *state;
	json_t *reply;
	char want[PATH_MAX + 64];

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 200, NULL);
	assert_int_equal(call(f, "/VolumeDriver.Path", "{\"Name\":\"data\"}", &reply), 200);
	assert_string_equal(err_of(reply), "");
	snprintf(want, sizeof(want), "%s/data/_data", f->volumes);
	assert_string_equal(json_string_value(json_object_get(reply, "Mountpoint")), want);
	json_decref(reply);

	assert_int_equal(call(f, "/VolumeDriver.Path", "{\"Name\":\"nope\"}", &reply), 404);
	assert_contains(err_of(reply), "no such volume");
	assert_null(json_object_get(reply, "Mountpoint"));
	json_decref(reply);
}

static void test_mount_unmount_remove(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	json_t *reply;
	char want[PATH_MAX + 64];

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 200, NULL);
	snprintf(want, sizeof(want), "%s/data/_data", f->volumes);

	assert_int_equal(call(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"c1\"}", &reply), 200);
	assert_string_equal(err_of(reply), "");
	assert_string_equal(json_string_value(json_object_get(reply, "Mountpoint")), want);
	json_decref(reply);
	assert_int_equal(mounts_of(f, "data"), 1);

	/* dockerd may repeat a Mount: the same ID counts once */
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"c1\"}", 200, NULL);
	assert_int_equal(mounts_of(f, "data"), 1);
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"c2\"}", 200, NULL);
	assert_int_equal(mounts_of(f, "data"), 2);

	json_t *v = get_volume(f, "data", &reply);
	json_t *ids = json_object_get(json_object_get(v, "Status"), "MountIDs");
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "c1");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "c2");
	assert_true(json_is_false(
		json_object_get(json_object_get(v, "Status"), "Mounted"))); /* a dir: nothing mounted */
	json_decref(reply);

	/* an unknown ID is not an error, and changes nothing */
	expect(f, "/VolumeDriver.Unmount", "{\"Name\":\"data\",\"ID\":\"zz\"}", 200, NULL);
	assert_int_equal(mounts_of(f, "data"), 2);

	expect(f, "/VolumeDriver.Remove", "{\"Name\":\"data\"}", 409, "it is in use by 2 mounts: c1, c2");
	assert_true(exists(f, "data/_data"));

	/* the IDs are in the record, so a restarted plugin still knows them */
	cvol_volume_store_close(f->store);
	f->store = NULL;
	assert_int_equal(cvol_volume_store_open(f->dir, &f->store, &err), 0);
	size_t failed = 99; /* reconcile as the plugin does at start */
	assert_int_equal(cvol_volume_store_reconcile(f->store, &failed, &err), 0);
	assert_int_equal(failed, 0);
	assert_int_equal(mounts_of(f, "data"), 2);

	expect(f, "/VolumeDriver.Unmount", "{\"Name\":\"data\",\"ID\":\"c1\"}", 200, NULL);
	assert_int_equal(mounts_of(f, "data"), 1);
	expect(f, "/VolumeDriver.Remove", "{\"Name\":\"data\"}", 409,
	       "remove volume `data`: it is in use by 1 mount: c2");
	expect(f, "/VolumeDriver.Unmount", "{\"Name\":\"data\",\"ID\":\"c2\"}", 200, NULL);
	assert_int_equal(mounts_of(f, "data"), 0);
	expect(f, "/VolumeDriver.Unmount", "{\"Name\":\"data\",\"ID\":\"c2\"}", 200, NULL);

	expect(f, "/VolumeDriver.Remove", "{\"Name\":\"data\"}", 200, NULL);
	assert_false(exists(f, "data"));
	assert_int_equal(count_entries(f, ".staging"), 0);
	expect(f, "/VolumeDriver.Get", "{\"Name\":\"data\"}", 404, "no such volume");
	expect(f, "/VolumeDriver.Remove", "{\"Name\":\"data\"}", 404, "no such volume");
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"c3\"}", 404, "no such volume");
	expect(f, "/VolumeDriver.Unmount", "{\"Name\":\"data\",\"ID\":\"c3\"}", 404, "no such volume");
}

static void test_create_again(void **state)
{
	struct fixture *f = *state;

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"mode\":\"0755\"}}", 200, NULL);
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"mode\":\"0755\"}}", 200, NULL);
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"mode\":\"0700\"}}", 409,
	       "create volume `data`: it exists with other options: mode is `0755`, not `0700`");
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 409,
	       "create volume `data`: it exists with other options: mode is `0755`, not left out");
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"mode\":\"0755\",\"ro\":\"false\"}}",
	       409, "ro is left out, not `false`");
	assert_int_equal(count_entries(f, ""), 4); /* data, .staging, .staging.lock, .locks */
	assert_int_equal(count_entries(f, ".staging"), 0);
}

/* After a reboot the recorded IDs belong to containers that are gone: they do not hold the volume. */
static void test_ids_of_earlier_boot(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 64];
	json_error_t jerr;

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 200, NULL);
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"c1\"}", 200, NULL);
	snprintf(path, sizeof(path), "%s/data/record.json", f->volumes);
	json_t *rec = json_load_file(path, 0, &jerr);
	assert_non_null(rec);
	assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "Mounts"), 0)), "c1");
	json_object_set_new(rec, "Boot", json_string("00000000-0000-0000-0000-000000000000"));
	assert_int_equal(json_dump_file(rec, path, JSON_COMPACT), 0);
	json_decref(rec);

	assert_int_equal(mounts_of(f, "data"), 0);
	expect(f, "/VolumeDriver.Remove", "{\"Name\":\"data\"}", 200, NULL);
	assert_false(exists(f, "data"));
}

/* ---- lock files and bounds ------------------------------------------------------------- */

/* A volume's lock file goes with the volume: .locks/ holds no file for a removed volume, nor
 * for one whose Create failed. */
static void test_lock_file_removed(void **state)
{
	struct fixture *f = *state;

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 200, NULL);
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"c1\"}", 200, NULL);
	assert_true(exists(f, ".locks/data"));
	expect(f, "/VolumeDriver.Unmount", "{\"Name\":\"data\",\"ID\":\"c1\"}", 200, NULL);
	expect(f, "/VolumeDriver.Remove", "{\"Name\":\"data\"}", 200, NULL);
	assert_false(exists(f, "data"));
	assert_false(exists(f, ".locks/data"));
	assert_int_equal(count_entries(f, ".locks"), 0);

	for (int i = 0; i < 50; i++) { /* the same name over and over leaves nothing either */
		expect(f, "/VolumeDriver.Create", "{\"Name\":\"again\"}", 200, NULL);
		expect(f, "/VolumeDriver.Remove", "{\"Name\":\"again\"}", 200, NULL);
	}
	expect(f, "/VolumeDriver.Create",
	       "{\"Name\":\"broken\",\"Opts\":{\"type\":\"bind\",\"device\":\"/nonexistent/cvol\"}}", 400,
	       "does not exist");
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"gone\",\"ID\":\"c1\"}", 404, "no such volume");
	assert_int_equal(count_entries(f, ".locks"), 0);
	assert_int_equal(count_entries(f, ""), 3); /* .staging, .staging.lock, .locks */

	/* lock files an older cvol left go when the store opens; a held one (a Create in
	 * flight elsewhere) and a live volume's stay */
	char path[PATH_MAX + 64];
	struct cvol_error err = { 0 };
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"live\"}", 200, NULL);
	snprintf(path, sizeof(path), "%s/.locks/old", f->volumes);
	close(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	snprintf(path, sizeof(path), "%s/.locks/busy", f->volumes);
	int busy = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(busy >= 0);
	assert_int_equal(flock(busy, LOCK_EX), 0);
	cvol_volume_store_close(f->store);
	f->store = NULL;
	assert_int_equal(cvol_volume_store_open(f->dir, &f->store, &err), 0);
	assert_false(exists(f, ".locks/old"));
	assert_true(exists(f, ".locks/busy"));
	assert_true(exists(f, ".locks/live"));
	close(busy);
}

struct mount_thread {
	struct fixture *f;
	unsigned status;
	bool done;
};

static void *mount_c1(void *data)
{
	struct mount_thread *t = data;
	char *text = NULL;
	const char *body = "{\"Name\":\"data\",\"ID\":\"c1\"}";
	t->status =
		cvol_plugin_handle(t->f->store, &t->f->cfg, "/VolumeDriver.Mount", body, strlen(body), &text);
	free(text);
	__atomic_store_n(&t->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

/* A lock file removed while someone waits for it: the waiter, once it has the old file,
 * sees that it is no longer the one at .locks/<name> and waits for the one there now, so two
 * lockers never run at once. */
static void test_lock_waiter_retakes_removed_file(void **state)
{
	struct fixture *f = *state;
	char lock[PATH_MAX + 64];
	struct mount_thread t = { .f = f };
	pthread_t th;

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 200, NULL);
	snprintf(lock, sizeof(lock), "%s/.locks/data", f->volumes);
	int old = open(lock, O_RDWR | O_CLOEXEC);
	assert_true(old >= 0);
	assert_int_equal(flock(old, LOCK_EX), 0);
	assert_int_equal(pthread_create(&th, NULL, mount_c1, &t), 0);
	usleep(200 * 1000); /* the Mount now waits on the old file */
	assert_false(__atomic_load_n(&t.done, __ATOMIC_SEQ_CST));

	/* as a Remove does: unlink while held; then another locker takes a new file there */
	assert_int_equal(unlink(lock), 0);
	int fresh = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fresh >= 0);
	assert_int_equal(flock(fresh, LOCK_EX), 0);
	close(old);
	usleep(300 * 1000);
	assert_false(__atomic_load_n(&t.done, __ATOMIC_SEQ_CST)); /* it waits for the new holder */
	assert_int_equal(mounts_of(f, "data"), 0);

	close(fresh);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.status, 200);
	assert_int_equal(mounts_of(f, "data"), 1);
}

/* A volume takes at most 1,024 mount IDs of at most 128 bytes: dockerd's are 64 hex digits. */
static void test_mount_id_bounds(void **state)
{
	struct fixture *f = *state;
	char id[200], body[300];

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 200, NULL);
	memset(id, 'a', 129);
	id[129] = '\0';
	snprintf(body, sizeof(body), "{\"Name\":\"data\",\"ID\":\"%s\"}", id);
	expect(f, "/VolumeDriver.Mount", body, 400,
	       "invalid mount ID `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…`: longer than 128 bytes");
	id[128] = '\0';
	snprintf(body, sizeof(body), "{\"Name\":\"data\",\"ID\":\"%s\"}", id);
	expect(f, "/VolumeDriver.Mount", body, 200, NULL);
	expect(f, "/VolumeDriver.Unmount", body, 200, NULL);
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"a\\tb\"}", 400,
	       "invalid mount ID: it holds a control character");

	for (int i = 0; i < 1024; i++) {
		snprintf(body, sizeof(body), "{\"Name\":\"data\",\"ID\":\"%064x\"}", i);
		expect(f, "/VolumeDriver.Mount", body, 200, NULL);
	}
	snprintf(body, sizeof(body), "{\"Name\":\"data\",\"ID\":\"%064x\"}", 1024);
	expect(f, "/VolumeDriver.Mount", body, 409,
	       "mount volume `data`: it is in use by 1024 mounts already, the most a volume takes");
	snprintf(body, sizeof(body), "{\"Name\":\"data\",\"ID\":\"%064x\"}", 7);
	expect(f, "/VolumeDriver.Mount", body, 200, NULL); /* one it holds: nothing changes */
	assert_int_equal(mounts_of(f, "data"), 1024);
	expect(f, "/VolumeDriver.Unmount", body, 200, NULL);
	snprintf(body, sizeof(body), "{\"Name\":\"data\",\"ID\":\"%064x\"}", 1024);
	expect(f, "/VolumeDriver.Mount", body, 200, NULL); /* room again */
	assert_int_equal(mounts_of(f, "data"), 1024);
}

/* ---- what is refused ------------------------------------------------------------------ */

static void test_bad_names(void **state)
{
	struct fixture *f = *state;
	char long_name[257], longest[256];
	const char *const bad[] = { "../x", "/etc", "", long_name, ".hidden", "a/b", "-x", "x y", ".." };
	static const char *const endpoints[] = { "/VolumeDriver.Create", "/VolumeDriver.Get",
						 "/VolumeDriver.Path", "/VolumeDriver.Remove" };

	memset(long_name, 'a', 256);
	long_name[256] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		for (size_t e = 0; e < ARRAY_SIZE(endpoints); e++) {
			_cleanup_free_ char *body = name_body(bad[i]);
			expect(f, endpoints[e], body, 400, "invalid volume name");
		}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *o = json_pack("{s:s, s:s}", "Name", bad[i], "ID", "c1");
		_cleanup_free_ char *body = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		expect(f, "/VolumeDriver.Mount", body, 400, "invalid volume name");
		expect(f, "/VolumeDriver.Unmount", body, 400, "invalid volume name");
	}
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"../x\"}", 400,
	       "invalid volume name `../x`: use 1-255 of [A-Za-z0-9_.-], starting with a letter or digit");

	/* nothing was made, in the store or beside it */
	assert_int_equal(count_entries(f, ""), 3); /* .staging, .staging.lock, .locks */
	assert_int_equal(count_entries(f, ".staging"), 0);
	assert_int_equal(count_entries(f, ".locks"), 0);
	assert_false(exists(f, "../x"));
	assert_int_equal(count_entries(f, ".."), 1); /* the temp dir holds only volumes/ */

	/* 255 characters is still a name */
	memset(longest, 'a', 255);
	longest[255] = '\0';
	_cleanup_free_ char *body = name_body(longest);
	expect(f, "/VolumeDriver.Create", body, 200, NULL);
	assert_true(exists(f, longest));
}

static void test_bad_options(void **state)
{
	struct fixture *f = *state;

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"sise\":\"1G\"}}", 400,
	       "create volume `data`: unknown option `sise` (known: type, device, o, size, fs, uid, gid, "
	       "mode, ro, "
	       "create)");
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"size\":1}}", 400,
	       "option `size` must be a string");
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":\"size=1G\"}", 400,
	       "options must be an object of strings");
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"fs\":\"xfs\"}}", 400,
	       "option `fs` needs `size`");
	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\",\"Opts\":{\"mode\":\"8888\"}}", 400,
	       "option `mode=8888`: not an octal number up to 7777");
	assert_false(exists(f, "data"));
	assert_int_equal(count_entries(f, ".staging"), 0);
}

static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	json_t *reply;

	assert_int_equal(call(f, "/VolumeDriver.Create", "{\"Name\":", &reply), 400);
	assert_contains(err_of(reply), "malformed JSON");
	assert_int_equal(json_object_size(reply), 1);
	json_decref(reply);
	expect(f, "/VolumeDriver.Create", "Name=data", 400, "malformed JSON");
	expect(f, "/VolumeDriver.Get", "{\"Name\":\"data\"}}", 400, "malformed JSON");
	expect(f, "/VolumeDriver.Create", "[{\"Name\":\"data\"}]", 400,
	       "the request body must be a JSON object");
	expect(f, "/VolumeDriver.Create", "[]", 400, "the request body must be a JSON object");

	expect(f, "/VolumeDriver.Create", "{}", 400, "request needs a string field `Name`");
	expect(f, "/VolumeDriver.Create", "", 400, "request needs a string field `Name`");
	expect(f, "/VolumeDriver.Create", " \r\n", 400, "request needs a string field `Name`");
	expect(f, "/VolumeDriver.Create", "{\"name\":\"data\"}", 400, "`Name`");
	expect(f, "/VolumeDriver.Create", "{\"Name\":7}", 400, "`Name`");
	expect(f, "/VolumeDriver.Get", "{}", 400, "`Name`");
	expect(f, "/VolumeDriver.Path", "{}", 400, "`Name`");
	expect(f, "/VolumeDriver.Remove", "{\"Name\":null}", 400, "`Name`");
	expect(f, "/VolumeDriver.Mount", "{\"ID\":\"c1\"}", 400, "`Name`");
	assert_false(exists(f, "data"));

	expect(f, "/VolumeDriver.Create", "{\"Name\":\"data\"}", 200, NULL);
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\"}", 400, "request needs a string field `ID`");
	expect(f, "/VolumeDriver.Unmount", "{\"Name\":\"data\"}", 400, "request needs a string field `ID`");
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"\"}", 400, "invalid mount ID");
	expect(f, "/VolumeDriver.Mount", "{\"Name\":\"data\",\"ID\":\"a\\nb\"}", 400, "invalid mount ID");
	assert_int_equal(mounts_of(f, "data"), 0);

	/* only the first @len bytes are the body */
	const char *body = "{\"Name\":\"data\"}garbage";
	char *text = NULL;
	assert_int_equal(cvol_plugin_handle(f->store, &f->cfg, "/VolumeDriver.Get", body,
					    strlen("{\"Name\":\"data\"}"), &text),
			 200);
	free(text);
}

static void test_unknown_endpoint(void **state)
{
	struct fixture *f = *state;
	json_t *reply;

	assert_int_equal(call(f, "/VolumeDriver.Destroy", "{\"Name\":\"data\"}", &reply), 404);
	assert_string_equal(err_of(reply), "unknown endpoint `/VolumeDriver.Destroy`");
	json_decref(reply);
	expect(f, "/volumedriver.create", "{\"Name\":\"data\"}", 404, "unknown endpoint");
	expect(f, "/", "", 404, "unknown endpoint `/`");
	expect(f, "/VolumeDriver.Create/", "{\"Name\":\"data\"}", 404, "unknown endpoint");
	assert_false(exists(f, "data"));
}

static void test_get_missing(void **state)
{
	struct fixture *f = *state;
	json_t *reply;

	assert_int_equal(call(f, "/VolumeDriver.Get", "{\"Name\":\"nope\"}", &reply), 404);
	assert_string_equal(err_of(reply), "get volume `nope`: no such volume");
	assert_null(json_object_get(reply, "Volume"));
	json_decref(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_activate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_without_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_unmount_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_of_earlier_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_file_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_waiter_retakes_removed_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_id_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_missing, setup, teardown),
	};
	return cmocka_run_group_tests_name("plugin-handlers", tests, NULL, NULL);
}
