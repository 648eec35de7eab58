/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The volume store: <root>/volumes/<name>/{record.json,_data/,image}. A volume is
 * built in .staging/ and renamed into place; each volume's operations are
 * serialised by an flock on .locks/<name>, across threads and processes alike. */
#include "volumes-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <libmount.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#define STAGING_DIR  ".staging"
#define STAGING_LOCK ".staging.lock" /* shared while building or removing, exclusive to clean */
#define LOCKS_DIR    ".locks"

struct cvol_volume_store {
	char *path; /* canonical <root>/volumes */
	int dirfd;
	int staging_fd;
	int locks_fd;
};

const char *cvol_volume_backend_name(enum cvol_volume_backend backend)
{
	static const char *const names[] = {
		[CVOL_BACKEND_DIR] = "dir",   [CVOL_BACKEND_BIND] = "bind",   [CVOL_BACKEND_TMPFS] = "tmpfs",
		[CVOL_BACKEND_LOOP] = "loop", [CVOL_BACKEND_MOUNT] = "mount",
	};
	return backend < ARRAY_SIZE(names) ? names[backend] : "?";
}

static int check_name(const char *name, struct cvol_error *err)
{
	if (!cvol_name_is_valid(name))
		return cvol_error_setx(
			err, EINVAL,
			"invalid volume name `%s`: use 1-255 of [A-Za-z0-9_.-], starting with a letter or "
			"digit",
			name ? name : "");
	return 0;
}

/* Lock volume @name (even one that does not exist yet); returns the lock fd. */
static int lock_volume(struct cvol_volume_store *store, const char *name, struct cvol_error *err)
{
	int fd = openat(store->locks_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cvol_error_set(err, errno, "lock volume `%s`", name);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int r = cvol_error_set(err, errno, "lock volume `%s`", name);
			close(fd);
			return r;
		}
	return fd;
}

static char *volume_dir(struct cvol_volume_store *store, const char *name)
{
	char *dir = NULL;
	return asprintf(&dir, "%s/%s", store->path, name) < 0 ? NULL : dir;
}

static bool data_is_mounted(const char *dir)
{
	char data[4096];
	snprintf(data, sizeof(data), "%s/_data", dir);
	return is_mount_root(AT_FDCWD, data);
}

/* A loaded volume: its directory, record and parsed options; locked when lock_fd >= 0. */
struct volume {
	char *dir;
	int dirfd;
	int lock_fd;
	struct volume_record rec;
	struct volume_opts opts;
	bool dirty; /* rec differs from the file (IDs of an earlier boot dropped) */
};

static void volume_done(struct volume *v)
{
	volume_record_done(&v->rec);
	free(v->dir);
	cvol_closep(&v->dirfd);
	cvol_closep(&v->lock_fd); /* closing drops the flock */
	*v = (struct volume){ .dirfd = -1, .lock_fd = -1 };
}

/* Mount IDs recorded in an earlier boot belong to containers that are gone. */
static int forget_earlier_boot(struct volume *v, struct cvol_error *err)
{
	if (strcmp(v->rec.boot_id, volume_boot_id()) == 0)
		return 0;
	char **none = calloc(1, sizeof(char *));
	if (!none)
		return cvol_error_set(err, ENOMEM, "read volume");
	cvol_strv_free(v->rec.ids);
	v->rec.ids = none;
	snprintf(v->rec.boot_id, sizeof(v->rec.boot_id), "%s", volume_boot_id());
	v->dirty = true;
	return 0;
}

/* Open and read volume @name; -ENOENT with "no such volume" when it does not exist. */
static int volume_load(struct cvol_volume_store *store, const char *name, struct volume *v,
		       struct cvol_error *err)
{
	*v = (struct volume){ .dirfd = -1, .lock_fd = -1 };
	v->dirfd = openat(store->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (v->dirfd < 0)
		return errno == ENOENT ? cvol_error_setx(err, ENOENT, "no such volume")
				       : cvol_error_set(err, errno, "open volume");
	v->dir = volume_dir(store, name);
	if (!v->dir)
		return cvol_error_set(err, ENOMEM, "open volume");
	int r = volume_record_load(v->dirfd, &v->rec, err);
	if (r == 0)
		r = volume_opts_parse(v->rec.options, &v->opts, err);
	if (r == 0)
		r = forget_earlier_boot(v, err);
	return r;
}

/* ---- open and reconcile -------------------------------------------------------- */

static int attach(struct volume *v, struct cvol_error *err);

static int remove_staged(int dirfd, const char *name, unsigned char d_type, void *data,
			 struct cvol_error *err)
{
	char data_dir[512];
	(void)d_type;
	(void)data;
	/* a create that died while its loop image was mounted to set its owner */
	snprintf(data_dir, sizeof(data_dir), "%s/_data", name);
	if (is_mount_root(dirfd, data_dir)) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "/proc/self/fd/%d/%s", dirfd, data_dir) > 0)
			umount2(path, MNT_DETACH);
	}
	return dir_remove_tree(dirfd, name, err);
}

struct reconcile_ctx {
	struct cvol_volume_store *store;
	struct libmnt_table *mountinfo;
	int failed;		/* volumes that could not be brought in line */
	struct cvol_error last; /* why the last of them could not */
};

/* Make what is mounted match the record: re-attach a volume whose mount IDs need it,
 * unmount one that no ID holds (a crash between mount and record), save an earlier
 * boot's record without its IDs. Returns 0, or -errno with the reason in @err. */
static int reconcile_one(struct reconcile_ctx *c, const char *name, struct cvol_error *err)
{
	struct volume v = { .dirfd = -1, .lock_fd = -1 };
	char data[4096];
	int r;

	int lock = lock_volume(c->store, name, err);
	if (lock < 0)
		return lock;
	r = volume_load(c->store, name, &v, err);
	v.lock_fd = lock;
	if (r < 0)
		goto out;
	snprintf(data, sizeof(data), "%s/_data", v.dir);
	bool needs = volume_backend_needs_mount(&v.opts);
	bool mounted = needs && c->mountinfo && mnt_table_find_target(c->mountinfo, data, MNT_ITER_BACKWARD);
	bool held = v.rec.ids[0] != NULL;

	if (needs && held && !mounted) {
		log_debug(CVOL_LOG_VOLUME, "volume `%s`: re-attaching for its mount IDs", name);
		r = attach(&v, err);
	} else if (needs && !held && mounted) {
		log_debug(CVOL_LOG_VOLUME, "volume `%s`: unmounting, no mount ID holds it", name);
		r = volume_backend_umount(v.dir, err);
	}
	if (r == 0 && v.dirty)
		r = volume_record_save(v.dirfd, &v.rec, err);
out:
	volume_done(&v);
	return r < 0 ? cvol_error_wrap(err, r, "reconcile volume `%s`", name) : 0;
}

static int reconcile_entry(int dirfd, const char *name, unsigned char d_type, void *data,
			   struct cvol_error *err)
{
	struct reconcile_ctx *c = data;
	(void)dirfd;
	(void)err;
	if (!cvol_name_is_valid(name) || (d_type != DT_DIR && d_type != DT_UNKNOWN))
		return 0;
	if (reconcile_one(c, name, &c->last) < 0)
		c->failed++; /* one volume's trouble does not stop the others */
	return 0;
}

int cvol_volume_store_reconcile(struct cvol_volume_store *store, struct cvol_error *err)
{
	struct reconcile_ctx c = { .store = store,
				   .mountinfo = mnt_new_table_from_file("/proc/self/mountinfo") };
	int r = dir_for_each(store->dirfd, reconcile_entry, &c, err);
	mnt_unref_table(c.mountinfo);
	if (r < 0)
		return r;
	if (c.failed && err)
		*err = c.last;
	return c.failed;
}

/* Hold .staging.lock in @how (LOCK_SH or LOCK_EX|LOCK_NB); returns the fd, -EWOULDBLOCK or -errno. */
static int staging_lock(struct cvol_volume_store *store, int how, struct cvol_error *err)
{
	int fd = openat(store->dirfd, STAGING_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `" STAGING_LOCK "`");
	while (flock(fd, how) < 0) {
		if (errno == EINTR)
			continue;
		int r = errno == EWOULDBLOCK ? -EWOULDBLOCK
					     : cvol_error_set(err, errno, "lock `" STAGING_LOCK "`");
		close(fd);
		return r;
	}
	return fd;
}

/* Remove what crashed creates and removes left in .staging/, unless one is running now
 * (in another thread or process: a `cvol volume ls` must not break the plugin's Create). */
static int staging_cleanup(struct cvol_volume_store *store, struct cvol_error *err)
{
	int fd = staging_lock(store, LOCK_EX | LOCK_NB, err);
	if (fd == -EWOULDBLOCK)
		return 0;
	if (fd < 0)
		return fd;
	int r = dir_for_each(store->staging_fd, remove_staged, NULL, err);
	close(fd);
	return r;
}

int cvol_volume_store_open(const char *root, struct cvol_volume_store **ret, struct cvol_error *err)
{
	struct cvol_volume_store *s = calloc(1, sizeof(*s));
	if (!s)
		return cvol_error_set(err, ENOMEM, "open volume store `%s`", root);
	*s = (struct cvol_volume_store){ .dirfd = -1, .staging_fd = -1, .locks_fd = -1 };
	s->dirfd = dir_open_store(root, "volumes", &s->path, err);
	int r = s->dirfd < 0 ? s->dirfd : 0;
	/* then <path>/<name of 255>/_data, /image and .staging/<name> fit the 4 KiB buffers */
	if (r == 0 && strlen(s->path) + sizeof("/") + 255 + sizeof("/_data") > 4096)
		r = cvol_error_setx(err, ENAMETOOLONG, "the path `%s` is too long", s->path);
	if (r == 0 && (s->staging_fd = dir_open_at(s->dirfd, STAGING_DIR, true, err)) < 0)
		r = s->staging_fd;
	if (r == 0 && (s->locks_fd = dir_open_at(s->dirfd, LOCKS_DIR, true, err)) < 0)
		r = s->locks_fd;
	if (r == 0)
		r = staging_cleanup(s, err);
	if (r < 0) {
		cvol_volume_store_close(s);
		return cvol_error_wrap(err, r, "open volume store `%s`", root);
	}
	*ret = s;
	return 0;
}

void cvol_volume_store_close(struct cvol_volume_store *s)
{
	if (!s)
		return;
	cvol_closep(&s->dirfd);
	cvol_closep(&s->staging_fd);
	cvol_closep(&s->locks_fd);
	free(s->path);
	free(s);
}

/* ---- create ---------------------------------------------------------------------- */

static void now_rfc3339(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int staging_dir_make(struct cvol_volume_store *store, char name[32], struct cvol_error *err)
{
	uint64_t rnd;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return cvol_error_set(err, errno, "name a staging dir");
	snprintf(name, 32, "v-%016llx", (unsigned long long)rnd);
	if (mkdirat(store->staging_fd, name, 0700) < 0)
		return cvol_error_set(err, errno, "create a staging dir");
	return 0;
}

/* Build the volume in .staging/ and rename it into place. */
static int create_new(struct cvol_volume_store *store, const char *name, json_t *options,
		      const struct volume_opts *o, struct cvol_error *err)
{
	char staged[32], staged_path[4096];
	struct volume_record rec = { .options = options };
	static char *no_ids[] = { NULL };

	_cleanup_close_ int staging = staging_lock(store, LOCK_SH, err);
	if (staging < 0)
		return staging;
	int r = staging_dir_make(store, staged, err);
	if (r < 0)
		return r;
	snprintf(staged_path, sizeof(staged_path), "%s/" STAGING_DIR "/%s", store->path, staged);
	_cleanup_close_ int fd = openat(store->staging_fd, staged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = cvol_error_set(err, errno, "open the staging dir");
		goto out_remove;
	}
	rec.ids = no_ids;
	now_rfc3339(rec.created_at, sizeof(rec.created_at));
	snprintf(rec.boot_id, sizeof(rec.boot_id), "%s", volume_boot_id());
	r = volume_backend_prepare(fd, staged_path, o, err);
	if (r == 0)
		r = volume_record_save(fd, &rec, err);
	if (r == 0 && renameat2(store->staging_fd, staged, store->dirfd, name, RENAME_NOREPLACE) < 0)
		r = cvol_error_set(err, errno, "move the volume into place");
	if (r == 0)
		return dir_fsync(store->dirfd, err);
out_remove:
	(void)dir_remove_tree(store->staging_fd, staged, NULL);
	return r;
}

static int create_locked(struct cvol_volume_store *store, const char *name, json_t *options,
			 const struct volume_opts *o, struct cvol_error *err)
{
	struct volume v;
	int r = volume_load(store, name, &v, err);
	if (r == -ENOENT) {
		volume_done(&v);
		return create_new(store, name, options, o, err);
	}
	if (r == 0 && !json_equal(v.rec.options, options)) {
		char why[512];
		volume_opts_describe_difference(v.rec.options, options, why, sizeof(why));
		r = cvol_error_setx(err, EEXIST, "it exists with other options: %s", why);
	}
	volume_done(&v);
	return r;
}

int cvol_volume_create(struct cvol_volume_store *store, const char *name, json_t *options,
		       struct cvol_error *err)
{
	struct volume_opts o;
	json_auto_t *empty = json_object();

	if (!options)
		options = empty;
	int r = check_name(name, err);
	if (r < 0)
		return r;
	r = volume_opts_parse(options, &o, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "create volume `%s`", name);
	_cleanup_close_ int lock = lock_volume(store, name, err);
	if (lock < 0)
		return lock;
	r = create_locked(store, name, options, &o, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "create volume `%s`", name);
	return 0;
}

/* ---- operations on an existing volume ----------------------------------------------- */

typedef int (*volume_op)(struct cvol_volume_store *store, struct volume *v, void *data,
			 struct cvol_error *err);

/* Check @name, lock it, load it, run @op, and name the volume in any error. */
static int run_on_volume(struct cvol_volume_store *store, const char *what, const char *name, bool lock,
			 volume_op op, void *data, struct cvol_error *err)
{
	struct volume v = { .dirfd = -1, .lock_fd = -1 };
	int r = check_name(name, err);
	if (r < 0)
		return r;
	struct stat st;
	if (lock && fstatat(store->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) <
			    0) /* no lock file for a name never used */
		return cvol_error_setx(err, ENOENT, "%s volume `%s`: no such volume", what, name);
	int lock_fd = lock ? lock_volume(store, name, err) : -1;
	if (lock && lock_fd < 0)
		return lock_fd;
	r = volume_load(store, name, &v, err);
	v.lock_fd = lock_fd;
	if (r == 0)
		r = op(store, &v, data, err);
	volume_done(&v);
	if (r < 0)
		return cvol_error_wrap(err, r, "%s volume `%s`", what, name);
	return 0;
}

static int remove_op(struct cvol_volume_store *store, struct volume *v, void *data, struct cvol_error *err)
{
	const char *name = data;
	char doomed[32], ids[CVOL_ERROR_MSG_MAX - 128] = "";
	size_t len = 0;

	size_t n = cvol_strv_length(v->rec.ids);
	if (n > 0) {
		/* whole IDs only, as many as fit, and how many did not */
		size_t shown = 0;
		for (char **p = v->rec.ids; *p && len + strlen(*p) + 2 < sizeof(ids) - 16; p++, shown++)
			len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%s", len ? ", " : "", *p);
		if (shown < n)
			snprintf(ids + len, sizeof(ids) - len, "%sand %zu more", shown ? ", " : "",
				 n - shown);
		return cvol_error_setx(err, EBUSY, "it is in use by %zu mount%s: %s", n, n > 1 ? "s" : "",
				       ids);
	}
	if (volume_backend_needs_mount(&v->opts) && data_is_mounted(v->dir)) {
		int r = volume_backend_umount(v->dir, err);
		if (r < 0)
			return r;
	}
	_cleanup_close_ int staging = staging_lock(store, LOCK_SH, err);
	if (staging < 0)
		return staging;
	int r = staging_dir_make(store, doomed, err);
	if (r < 0)
		return r;
	if (renameat(store->dirfd, name, store->staging_fd, doomed) < 0) {
		r = cvol_error_set(err, errno, "move the volume out of the store");
		unlinkat(store->staging_fd, doomed, AT_REMOVEDIR);
		return r;
	}
	r = dir_fsync(store->dirfd, err);
	if (r == 0)
		r = dir_remove_tree(store->staging_fd, doomed, err);
	return r;
}

int cvol_volume_remove(struct cvol_volume_store *store, const char *name, struct cvol_error *err)
{
	return run_on_volume(store, "remove", name, true, remove_op, (void *)name, err);
}

static void fill_usage(const struct volume *v, struct cvol_volume_info *info)
{
	struct statvfs sv;
	struct stat st;
	char path[4096];

	snprintf(path, sizeof(path), "%s/_data", v->dir);
	if ((info->mounted || v->opts.backend == CVOL_BACKEND_DIR) && statvfs(path, &sv) == 0) {
		info->size_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
		info->used_bytes = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	} else if (v->opts.backend == CVOL_BACKEND_LOOP && fstatat(v->dirfd, "image", &st, 0) == 0) {
		info->size_bytes = (uint64_t)st.st_size;
		info->used_bytes = (uint64_t)st.st_blocks * 512;
	}
}

static int get_op(struct cvol_volume_store *store, struct volume *v, void *data, struct cvol_error *err)
{
	struct cvol_volume_info *info = data;
	(void)store;

	info->mountpoint = NULL;
	if (asprintf(&info->mountpoint, "%s/_data", v->dir) < 0)
		return cvol_error_set(err, ENOMEM, "describe");
	snprintf(info->created_at, sizeof(info->created_at), "%s", v->rec.created_at);
	info->backend = v->opts.backend;
	info->options = json_incref(v->rec.options);
	info->mount_ids = TAKE_PTR(v->rec.ids);
	info->mounted = data_is_mounted(v->dir);
	fill_usage(v, info);
	return 0;
}

int cvol_volume_get(struct cvol_volume_store *store, const char *name, struct cvol_volume_info *ret,
		    struct cvol_error *err)
{
	struct cvol_volume_info info = { 0 };
	int r = run_on_volume(store, "get", name, false, get_op, &info, err);
	if (r == 0)
		info.name = strdup(name);
	if (r == 0 && !info.name)
		r = cvol_error_set(err, ENOMEM, "get volume `%s`", name);
	if (r < 0) {
		cvol_volume_info_done(&info);
		return r;
	}
	*ret = info;
	return 0;
}

void cvol_volume_info_done(struct cvol_volume_info *info)
{
	free(info->name);
	free(info->mountpoint);
	json_decref(info->options);
	cvol_strv_free(info->mount_ids);
	*info = (struct cvol_volume_info){ 0 };
}

int cvol_volume_get_mountpoint(struct cvol_volume_store *store, const char *name, char **ret_path,
			       struct cvol_error *err)
{
	struct stat st;
	int r = check_name(name, err);
	if (r < 0)
		return r;
	if (fstatat(store->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return cvol_error_setx(err, ENOENT, "volume `%s`: no such volume", name);
	*ret_path = cvol_volume_mountpoint_of(store, name);
	return *ret_path ? 0 : cvol_error_set(err, ENOMEM, "volume `%s`", name);
}

int cvol_volume_list_names(struct cvol_volume_store *store, char ***ret_names, struct cvol_error *err)
{
	char **names;
	int r = dir_list_sorted(store->dirfd, &names, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "list volumes in `%s`", store->path);
	/* keep the volumes: .staging, .locks and .staging.lock are no volume names */
	size_t kept = 0;
	for (char **n = names; *n; n++) {
		if (cvol_name_is_valid(*n))
			names[kept++] = *n;
		else
			free(*n);
	}
	names[kept] = NULL;
	*ret_names = names;
	return 0;
}

char *cvol_volume_mountpoint_of(const struct cvol_volume_store *store, const char *name)
{
	char *path = NULL;
	return asprintf(&path, "%s/%s/_data", store->path, name) < 0 ? NULL : path;
}

/* ---- mount and unmount -------------------------------------------------------------- */

static int check_mount_id(const char *id, struct cvol_error *err)
{
	if (!id || !*id || strlen(id) > 255 || strchr(id, '\n'))
		return cvol_error_setx(err, EINVAL, "invalid mount ID `%s`", id ? id : "");
	return 0;
}

struct mount_req {
	const char *id;
	char *path;
};

static int attach(struct volume *v, struct cvol_error *err)
{
	char data[4096];
	snprintf(data, sizeof(data), "%s/_data", v->dir);
	int r = volume_backend_mount(v->dir, &v->opts, err);
	if (r == 0 && v->opts.backend == CVOL_BACKEND_MOUNT &&
	    (r = volume_backend_apply_owner(data, &v->opts, err)) < 0)
		(void)volume_backend_umount(v->dir, NULL);
	return r;
}

static int mount_op(struct cvol_volume_store *store, struct volume *v, void *data, struct cvol_error *err)
{
	struct mount_req *req = data;
	bool attached = false;
	int r;

	(void)store;
	if (asprintf(&req->path, "%s/_data", v->dir) < 0)
		return cvol_error_set(err, ENOMEM, "mount");
	/* never stack a second mount on the path: what is there is used */
	if (volume_backend_needs_mount(&v->opts) && !data_is_mounted(v->dir)) {
		r = attach(v, err);
		if (r < 0)
			return r;
		attached = true;
	}
	if (volume_ids_contain(v->rec.ids, req->id))
		return 0;
	if (cvol_strv_push(&v->rec.ids, req->id) < 0)
		r = cvol_error_set(err, ENOMEM, "mount");
	else
		r = volume_record_save(v->dirfd, &v->rec, err);
	if (r < 0 && attached)
		(void)volume_backend_umount(v->dir, NULL);
	return r;
}

int cvol_volume_mount(struct cvol_volume_store *store, const char *name, const char *id, char **ret_path,
		      struct cvol_error *err)
{
	struct mount_req req = { .id = id };
	int r = check_mount_id(id, err);
	if (r == 0)
		r = run_on_volume(store, "mount", name, true, mount_op, &req, err);
	if (r < 0) {
		free(req.path);
		return r;
	}
	*ret_path = req.path;
	return 0;
}

static int unmount_op(struct cvol_volume_store *store, struct volume *v, void *data, struct cvol_error *err)
{
	const char *id = data;
	char **kept = NULL;

	(void)store;
	if (!volume_ids_contain(v->rec.ids, id))
		return 0; /* an unknown ID: nothing to do, as dockerd expects */
	for (char **p = v->rec.ids; *p; p++)
		if (strcmp(*p, id) != 0 && cvol_strv_push(&kept, *p) < 0) {
			cvol_strv_free(kept);
			return cvol_error_set(err, ENOMEM, "unmount");
		}
	if (!kept && !(kept = calloc(1, sizeof(char *))))
		return cvol_error_set(err, ENOMEM, "unmount");
	cvol_strv_free(v->rec.ids);
	v->rec.ids = kept;
	/* The record first: a crash before the unmount leaves a mount no ID holds, which the
	 * next start unmounts; the other order would leave an ID dockerd has let go of. */
	int r = volume_record_save(v->dirfd, &v->rec, err);
	if (r == 0 && !kept[0] && volume_backend_needs_mount(&v->opts) && data_is_mounted(v->dir))
		r = volume_backend_umount(v->dir, err);
	return r;
}

int cvol_volume_unmount(struct cvol_volume_store *store, const char *name, const char *id,
			struct cvol_error *err)
{
	int r = check_mount_id(id, err);
	if (r < 0)
		return r;
	return run_on_volume(store, "unmount", name, true, unmount_op, (void *)id, err);
}
