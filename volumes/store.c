/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The volume store: <root>/volumes/<name>/{record.json,_data/,image}. A volume is
 * built in .staging/ and renamed into place; each volume's operations are
 * serialised by an flock on .locks/<name>, across threads and processes alike. */
#include "volumes-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/mountinfo.h"
#include "../common/staging.h"

#define LOCKS_DIR ".locks"

struct cvol_volume_store {
	char *path;	    /* canonical <root>/volumes */
	char *staging_path; /* <path>/.staging */
	int dirfd;
	int locks_fd;
	struct staging staging;	       /* .staging/ and .staging.lock */
	struct volume_publish publish; /* the mount dir, when there is one */
	int host_root_fd;	       /* bind volumes' device paths start here; -1: at `/` */
};

static int check_name(const char *name, struct cvol_error *err)
{
	if (!name_is_valid(name))
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
	int fd = lock_file_take(store->locks_fd, name, LOCK_EX, err);
	return fd < 0 ? cvol_error_wrap(err, fd, "lock volume `%s`", name) : fd;
}

/* Unlock volume @name, taken with lock_volume() as @fd; when there is no such volume (now
 * removed, or never made), its lock file goes too, so .locks/ holds only the files of existing volumes. */
static void unlock_volume(struct cvol_volume_store *store, const char *name, int fd)
{
	struct stat st;
	if (fd < 0)
		return;
	if (fstatat(store->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		lock_file_remove(store->locks_fd, name, fd);
	else
		close(fd);
}

/* <@parent>/@name and its _data into @v: the one place a volume's paths are made. */
static int volume_set_paths(struct volume *v, const char *parent, const char *name, struct cvol_error *err)
{
	if (asprintf(&v->dir, "%s/%s", parent, name) < 0) {
		v->dir = NULL;
		return cvol_error_set(err, ENOMEM, "open volume");
	}
	if (asprintf(&v->data, "%s/" VOLUME_DATA_DIR, v->dir) < 0) {
		v->data = NULL;
		return cvol_error_set(err, ENOMEM, "open volume");
	}
	return 0;
}

static bool data_is_mounted(const struct volume *v)
{
	return is_mount_root(v->dirfd, VOLUME_DATA_DIR);
}

static void volume_done(struct volume *v)
{
	volume_record_done(&v->rec);
	free(v->dir);
	free(v->data);
	cvol_closep(&v->dirfd);
	cvol_closep(&v->lock_fd); /* closing drops the flock */
	*v = (struct volume){ .dirfd = -1, .lock_fd = -1, .host_root_fd = -1 };
}

/* Mount IDs recorded in an earlier boot belong to containers that are gone. */
static int forget_earlier_boot(struct volume *v, struct cvol_error *err)
{
	if (strcmp(v->rec.boot_id, boot_id()) == 0)
		return 0;
	char **none = calloc(1, sizeof(char *));
	if (!none)
		return cvol_error_set(err, ENOMEM, "read volume");
	cvol_strv_free(v->rec.ids);
	v->rec.ids = none;
	snprintf(v->rec.boot_id, sizeof(v->rec.boot_id), "%s", boot_id());
	v->dirty = true;
	return 0;
}

/* Open and read volume @name; -ENOENT with "no such volume" when it does not exist. */
static int volume_load(struct cvol_volume_store *store, const char *name, struct volume *v,
		       struct cvol_error *err)
{
	*v = (struct volume){ .name = name, .dirfd = -1, .lock_fd = -1, .host_root_fd = store->host_root_fd };
	v->dirfd = openat(store->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (v->dirfd < 0)
		return errno == ENOENT ? cvol_error_setx(err, ENOENT, "no such volume")
				       : cvol_error_set(err, errno, "open volume");
	int r = volume_set_paths(v, store->path, name, err);
	if (r == 0)
		r = volume_record_load(v->dirfd, &v->rec, err);
	if (r == 0)
		r = volume_opts_parse(v->rec.options, &v->opts, err);
	if (r == 0)
		v->ops = volume_backend_ops(v->opts.backend);
	if (r == 0)
		r = forget_earlier_boot(v, err);
	return r;
}

/* ---- open and reconcile -------------------------------------------------------- */

struct reconcile_ctx {
	struct cvol_volume_store *store;
	struct libmnt_table *mountinfo;
	size_t failed;		/* volumes that could not be brought in line */
	struct cvol_error last; /* why the last of them could not */
};

/* Make what is mounted match the record: re-attach a volume whose mount IDs need it,
 * unmount one that no ID holds (a crash between mount and record), save an earlier
 * boot's record without its IDs. Returns 0, or -errno with the reason in @err. */
static int reconcile_one(struct reconcile_ctx *c, const char *name, struct cvol_error *err)
{
	struct volume v = { .dirfd = -1, .lock_fd = -1 };
	int r;

	int lock = lock_volume(c->store, name, err);
	if (lock < 0)
		return lock;
	r = volume_load(c->store, name, &v, err);
	v.lock_fd = lock;
	if (r < 0)
		goto out;
	bool needs = v.ops->needs_mount(&v.opts);
	bool mounted = needs && mountinfo_has(c->mountinfo, v.data, NULL, 0);
	bool held = v.rec.ids[0] != NULL;
	/* a network volume's server may not answer for long: its next Mount mounts it again, and
	 * the plugin answers at once */
	bool later = needs && held && !mounted && volume_is_remote(&v);

	if (later) {
		log_warning("volume `%s` is held by mount IDs but `%s` is not mounted: its next Mount "
			    "mounts it again",
			    name, v.data);
	} else if (needs && held && !mounted) {
		/* An admin's umount, or the mount namespace it was made in is gone: a managed plugin
		 * whose store is not a shared mount on the host loses its mounts with its process.
		 * Containers still running keep the old mount; the new one is not theirs. */
		log_warning("volume `%s` is held by mount IDs but `%s` is not mounted: mounting it again%s%s",
			    name, v.data, strcmp(v.ops->name, "tmpfs") == 0 ? " (empty)" : "",
			    c->store->publish.path ? "; if the plugin restarted, its store is not a shared "
						     "mount on the host (docs/managed-plugin.md)"
						   : "");
		r = v.ops->mount(&v, err);
	} else if (needs && !held && mounted) {
		log_debug(CVOL_LOG_VOLUME, "volume `%s`: unmounting, no mount ID holds it", name);
		r = volume_unpublish(&c->store->publish, name, err);
		if (r == 0)
			r = v.ops->unmount(&v, err);
	}
	/* dockerd tears the mount dir down when it stops a managed plugin: bind again what is held */
	if (r == 0)
		r = held && !later ? volume_publish(&c->store->publish, &v, name, err)
				   : volume_unpublish(&c->store->publish, name, err);
	if (r == 0 && v.dirty)
		r = volume_record_save(v.dirfd, &v.rec, err);
out:
	unlock_volume(c->store, name, TAKE_FD(v.lock_fd));
	volume_done(&v);
	return r < 0 ? cvol_error_wrap(err, r, "reconcile volume `%s`", name) : 0;
}

static int reconcile_entry(int dirfd, const char *name, unsigned char d_type, void *data,
			   struct cvol_error *err)
{
	struct reconcile_ctx *c = data;
	(void)dirfd;
	(void)err;
	if (!name_is_valid(name) || (d_type != DT_DIR && d_type != DT_UNKNOWN))
		return 0;
	if (reconcile_one(c, name, &c->last) < 0)
		c->failed++; /* one volume's trouble does not stop the others */
	return 0;
}

int cvol_volume_store_reconcile(struct cvol_volume_store *store, size_t *ret_failed, struct cvol_error *err)
{
	struct reconcile_ctx c = { .store = store, .mountinfo = mountinfo_load() };
	int r = dir_for_each(store->dirfd, reconcile_entry, &c, err);
	mountinfo_free(c.mountinfo);
	if (r < 0)
		return r;
	if (c.failed && err)
		*err = c.last;
	*ret_failed = c.failed;
	return 0;
}

/* Open .staging/ and remove what crashed creates and removes left there, unless one is running
 * now (in another thread or process: a `cvol volume ls` must not break the plugin's Create). */
static int open_staging(struct cvol_volume_store *s, struct cvol_error *err)
{
	int r = staging_open(s->dirfd, s->path, &s->staging, err);
	if (r == 0 && asprintf(&s->staging_path, "%s/" STAGING_DIR, s->path) < 0) {
		s->staging_path = NULL;
		r = cvol_error_set(err, ENOMEM, "open `" STAGING_DIR "`");
	}
	return r < 0 ? r : staging_cleanup_with(&s->staging, volume_staged_unmount, NULL, err);
}

/* A lock file of no volume (an older cvol kept them after Remove) goes, unless someone holds it:
 * a Create holds its lock before the volume exists. */
static int sweep_stale_lock(int dirfd, const char *name, unsigned char d_type, void *data,
			    struct cvol_error *err)
{
	struct cvol_volume_store *s = data;
	struct stat st;
	(void)dirfd;
	(void)err;
	if (d_type != DT_REG && d_type != DT_UNKNOWN)
		return 0;
	if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return 0;
	int fd = lock_file_take(s->locks_fd, name, LOCK_EX | LOCK_NB, NULL);
	if (fd >= 0)
		unlock_volume(s, name, fd);
	return 0;
}

int cvol_volume_store_open(const char *root, struct cvol_volume_store **ret, struct cvol_error *err)
{
	struct cvol_volume_store *s = calloc(1, sizeof(*s));
	if (!s)
		return cvol_error_set(err, ENOMEM, "open volume store `%s`", root);
	*s = (struct cvol_volume_store){ .dirfd = -1,
					 .locks_fd = -1,
					 .staging = { .store_fd = -1, .dir_fd = -1 },
					 .publish = { .dirfd = -1 },
					 .host_root_fd = -1 };
	s->dirfd = dir_open_store(root, "volumes", &s->path, err);
	int r = s->dirfd < 0 ? s->dirfd : 0;
	if (r == 0 && (s->locks_fd = dir_open_at(s->dirfd, LOCKS_DIR, true, err)) < 0)
		r = s->locks_fd;
	if (r == 0)
		r = open_staging(s, err);
	if (r == 0)
		(void)dir_for_each(s->locks_fd, sweep_stale_lock, s, NULL);
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
	staging_close(&s->staging);
	cvol_closep(&s->dirfd);
	cvol_closep(&s->locks_fd);
	cvol_closep(&s->publish.dirfd);
	cvol_closep(&s->host_root_fd);
	free(s->publish.path);
	free(s->staging_path);
	free(s->path);
	free(s);
}

/* An absolute directory for a store setting: its path without trailing slashes and an fd. */
static int open_setting_dir(const char *what, const char *dir, int flags, char **ret_path,
			    struct cvol_error *err)
{
	if (!dir || dir[0] != '/')
		return cvol_error_setx(err, EINVAL, "%s `%s`: give an absolute path", what, dir ? dir : "");
	int fd = open(dir, flags | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "%s `%s`", what, dir);
	if (ret_path) {
		char *path = strdup(dir);
		if (!path) {
			close(fd);
			return cvol_error_set(err, ENOMEM, "%s `%s`", what, dir);
		}
		for (size_t len = strlen(path); len > 1 && path[len - 1] == '/';)
			path[--len] = '\0';
		*ret_path = path;
	}
	return fd;
}

int cvol_volume_store_set_mount_dir(struct cvol_volume_store *s, const char *dir, struct cvol_error *err)
{
	char *path = NULL;
	int fd = open_setting_dir("mount dir", dir, O_RDONLY, &path, err);
	if (fd < 0)
		return fd;
	cvol_closep(&s->publish.dirfd);
	free(s->publish.path);
	s->publish = (struct volume_publish){ .dirfd = fd, .path = path };
	return 0;
}

int cvol_volume_store_set_host_root(struct cvol_volume_store *s, const char *dir, struct cvol_error *err)
{
	int fd = open_setting_dir("host root", dir, O_PATH, NULL, err);
	if (fd < 0)
		return fd;
	cvol_closep(&s->host_root_fd);
	s->host_root_fd = fd;
	return 0;
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

/* Build the volume in .staging/ (its backend prepares it there) and rename it into place. */
static int create_new(struct cvol_volume_store *store, const char *name, json_t *options,
		      const struct volume_opts *o, struct cvol_error *err)
{
	static char *no_ids[] = { NULL };
	struct volume_record rec = { .options = options, .ids = no_ids };
	struct volume staged = { .lock_fd = -1,
				 .host_root_fd = store->host_root_fd,
				 .opts = *o,
				 .ops = volume_backend_ops(o->backend) };
	char staged_name[STAGING_NAME_MAX];

	_cleanup_close_ int hold = staging_hold(&store->staging, err);
	if (hold < 0)
		return hold;
	staged.dirfd = staging_make(&store->staging, 'v', staged_name, err);
	if (staged.dirfd < 0)
		return staged.dirfd;
	now_rfc3339(rec.created_at, sizeof(rec.created_at));
	snprintf(rec.boot_id, sizeof(rec.boot_id), "%s", boot_id());
	int r = volume_set_paths(&staged, store->staging_path, staged_name, err);
	if (r == 0)
		r = staged.ops->prepare(&staged, err);
	if (r == 0)
		r = volume_record_save(staged.dirfd, &rec, err);
	if (r == 0)
		r = staging_commit(&store->staging, staged_name, name, true, err);
	if (r < 0)
		staging_discard(&store->staging, staged_name);
	volume_done(&staged);
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
	if (r == 0)
		r = volume_opts_check_new(&o, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "create volume `%s`", name);
	int lock = lock_volume(store, name, err);
	if (lock < 0)
		return lock;
	r = create_locked(store, name, options, &o, err);
	unlock_volume(store, name, lock);
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
	unlock_volume(store, name, TAKE_FD(v.lock_fd));
	volume_done(&v);
	if (r < 0)
		return cvol_error_wrap(err, r, "%s volume `%s`", what, name);
	return 0;
}

static int remove_op(struct cvol_volume_store *store, struct volume *v, void *data, struct cvol_error *err)
{
	const char *name = data;
	char ids[CVOL_ERROR_MSG_MAX - 128] = "";
	size_t len = 0;

	size_t n = strv_length(v->rec.ids);
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
	/* mountinfo too: a network mount whose server has gone may not answer a stat */
	bool mounted = v->ops->needs_mount(&v->opts) &&
		       (data_is_mounted(v) || mountinfo_has(NULL, v->data, NULL, 0));
	int r = volume_unpublish(&store->publish, name, err);
	if (r == 0 && mounted)
		r = v->ops->unmount(v, err);
	if (r < 0)
		return r;
	/* Remove forgets a network volume, never deletes its data on the server: nothing goes while
	 * something is still (or again) mounted on _data (the removal never enters a mount either) */
	if (v->ops->needs_mount(&v->opts) && (data_is_mounted(v) || mountinfo_has(NULL, v->data, NULL, 0)))
		return cvol_error_setx(err, EBUSY, "`%s` is still mounted; not removing", v->data);
	_cleanup_close_ int hold = staging_hold(&store->staging, err);
	if (hold < 0)
		return hold;
	return staging_remove(&store->staging, name, true, err);
}

int cvol_volume_remove(struct cvol_volume_store *store, const char *name, struct cvol_error *err)
{
	return run_on_volume(store, "remove", name, true, remove_op, (void *)name, err);
}

/* Whether @v's mount answers, and its numbers: a network volume's from the bounded probe only. */
static void describe_mount(const struct volume *v, struct cvol_volume_info *info)
{
	struct volume_probe p;

	volume_probe(v, &p);
	volume_probe_describe(&p, info->mount_state, sizeof(info->mount_state));
	info->mounted = p.health != VOLUME_NOT_MOUNTED;
	if (!volume_is_remote(v)) {
		v->ops->usage(v, info->mounted, &info->size_bytes, &info->used_bytes);
	} else if (p.health == VOLUME_ALIVE) {
		info->size_bytes = p.size;
		info->used_bytes = p.used;
	}
}

static int get_op(struct cvol_volume_store *store, struct volume *v, void *data, struct cvol_error *err)
{
	struct cvol_volume_info *info = data;

	info->mountpoint = cvol_volume_mountpoint_of(store, v->name);
	if (!info->mountpoint)
		return cvol_error_set(err, ENOMEM, "describe");
	snprintf(info->created_at, sizeof(info->created_at), "%s", v->rec.created_at);
	info->backend = v->opts.backend;
	info->options = volume_opts_redacted(v->rec.options); /* nothing secret leaves the store */
	if (!info->options)
		return cvol_error_set(err, ENOMEM, "describe");
	info->mount_ids = TAKE_PTR(v->rec.ids);
	describe_mount(v, info);
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
		if (name_is_valid(*n))
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
	char *path;
	if (store->publish.dirfd >= 0)
		return asprintf(&path, "%s/%s", store->publish.path, name) < 0 ? NULL : path;
	struct volume v = { 0 };
	int r = volume_set_paths(&v, store->path, name, NULL);
	free(v.dir);
	return r < 0 ? NULL : v.data;
}

/* ---- mount and unmount -------------------------------------------------------------- */

/* What one volume's record holds at most: dockerd's IDs are 64 hex digits, one per container. */
#define MOUNT_ID_MAX  128
#define MOUNT_IDS_MAX 1024

static int check_mount_id(const char *id, struct cvol_error *err)
{
	if (!id || !*id)
		return cvol_error_setx(err, EINVAL, "invalid mount ID ``: it is empty");
	if (strlen(id) > MOUNT_ID_MAX)
		return cvol_error_setx(err, EINVAL, "invalid mount ID `%.32s…`: longer than %d bytes", id,
				       MOUNT_ID_MAX);
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cvol_error_setx(err, EINVAL, "invalid mount ID: it holds a control character");
	return 0;
}

struct mount_req {
	const char *id;
	char *path;
};

/* Add @id to @v's record (saved); a repeated @id changes nothing. */
static int add_mount_id(struct volume *v, const char *id, struct cvol_error *err)
{
	if (volume_ids_contain(v->rec.ids, id))
		return 0;
	if (strv_length(v->rec.ids) >= MOUNT_IDS_MAX)
		return cvol_error_setx(err, EBUSY,
				       "it is in use by %zu mounts already, the most a volume takes",
				       strv_length(v->rec.ids));
	if (strv_push(&v->rec.ids, id) < 0)
		return cvol_error_set(err, ENOMEM, "mount");
	return volume_record_save(v->dirfd, &v->rec, err);
}

/* Detach the mount on @v's _data that @p found dead or silent, with its bind in the mount dir, and
 * kill its daemon when it did not answer and no container holds the volume: containers that do
 * keep the detached mount, which a server that was only slow, or cut off for a moment, serves
 * again (a server gone for good, ssh drops by itself: ServerAlive*). @state describes it. */
static int detach_dead(struct cvol_volume_store *store, struct volume *v, const struct volume_probe *p,
		       const char *state, struct cvol_error *err)
{
	log_warning("volume `%s`: its mount is %s: detaching it and mounting it again", v->name, state);
	int r = volume_unpublish(&store->publish, v->name, err);
	if (r == 0)
		r = volume_detach_data(v, err);
	if (r == 0 && p->health == VOLUME_NO_ANSWER && !v->rec.ids[0])
		v->ops->kill_daemon(v);
	return r;
}

/* Mounts found dead on one _data (stacked) that one Mount detaches at most. */
#define DEAD_MOUNTS_MAX 4

/* A mount on @v's _data that answers: the one there when it does (never a second stacked on it),
 * else a new one, after a network mount that is dead or does not answer is detached.
 * *@ret_attached: a new mount was made. */
static int mount_alive(struct cvol_volume_store *store, struct volume *v, bool *ret_attached,
		       struct cvol_error *err)
{
	struct volume_probe p;
	char state[96] = "";

	for (int i = 0;; i++) {
		volume_probe(v, &p);
		if (p.health == VOLUME_ALIVE)
			return 0;
		if (p.health == VOLUME_NOT_MOUNTED)
			break;
		volume_probe_describe(&p, state, sizeof(state));
		if (i == DEAD_MOUNTS_MAX)
			return cvol_error_setx(err, EIO,
					       "`%s` still has a mount that is %s after %d were detached; "
					       "not stacking another",
					       v->data, state, DEAD_MOUNTS_MAX);
		int r = detach_dead(store, v, &p, state, err);
		if (r < 0)
			return r;
	}
	int r = v->ops->mount(v, err);
	*ret_attached = r == 0;
	if (r < 0 && state[0])
		return cvol_error_wrap(err, r, "its mount (%s) is detached; mounting it again", state);
	return r;
}

static int mount_op(struct cvol_volume_store *store, struct volume *v, void *data, struct cvol_error *err)
{
	struct mount_req *req = data;
	bool attached = false, published = false, held = v->rec.ids[0] != NULL;
	int r = 0;

	req->path = cvol_volume_mountpoint_of(store, v->name);
	if (!req->path)
		return cvol_error_set(err, ENOMEM, "mount");
	if (v->ops->needs_mount(&v->opts))
		r = mount_alive(store, v, &attached, err);
	if (r == 0 && !volume_is_published(&store->publish, v, v->name)) {
		r = volume_publish(&store->publish, v, v->name, err);
		published = r == 0;
	}
	if (r == 0)
		r = add_mount_id(v, req->id, err);
	/* undone only when no other mount ID holds what was made (add_mount_id() has put the new
	 * one in v->rec.ids even when the save failed) */
	if (r < 0 && !held) {
		if (published)
			volume_unpublish(&store->publish, v->name, NULL);
		if (attached)
			v->ops->unmount(v, NULL);
	}
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

	if (!volume_ids_contain(v->rec.ids, id))
		return 0; /* an unknown ID: nothing to do, as dockerd expects */
	for (char **p = v->rec.ids; *p; p++)
		if (strcmp(*p, id) != 0 && strv_push(&kept, *p) < 0) {
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
	if (r == 0 && !kept[0])
		r = volume_unpublish(&store->publish, v->name, err);
	if (r == 0 && !kept[0] && v->ops->needs_mount(&v->opts) && data_is_mounted(v))
		r = v->ops->unmount(v, err);
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
