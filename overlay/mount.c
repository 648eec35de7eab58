/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checking and running an overlay mount: layers opened once, by fd, then mounted
 * through fsopen/lowerdir+ (by fd where the kernel takes it) or mount(2). */
#include "overlay-internal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

/* The layers of one mount, opened O_PATH once and used for every check and the mount. */
struct opened_layers {
	int *lowers;
	size_t n_lowers;
	int upper;
	int work;
	int merged;
};

static void opened_layers_close(struct opened_layers *o)
{
	for (size_t i = 0; i < o->n_lowers; i++)
		cvol_closep(&o->lowers[i]);
	free(o->lowers);
	cvol_closep(&o->upper);
	cvol_closep(&o->work);
	cvol_closep(&o->merged);
}

static int open_dir(int base, const char *path, const char *role, struct cvol_error *err)
{
	int fd = openat(base, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return cvol_error_setx(err, ENOENT, "%s `%s` does not exist", role, path);
	if (errno == ENOTDIR)
		return cvol_error_setx(err, ENOTDIR, "%s `%s` is not a directory", role, path);
	return cvol_error_set(err, errno, "open %s `%s`", role, path);
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Refuse an upper that is a lower or lies inside one (the kernel does not always):
 * walk up from the upper to /, comparing each directory with every lower. */
static int check_upper_outside_lowers(const struct cvol_overlay_config *cfg, struct opened_layers *o,
				      struct cvol_error *err)
{
	_cleanup_free_ struct stat *lower_st = calloc(o->n_lowers, sizeof(struct stat));
	if (!lower_st)
		return cvol_error_set(err, ENOMEM, "check upper `%s`", cfg->upper);
	for (size_t i = 0; i < o->n_lowers; i++)
		if (fstat(o->lowers[i], &lower_st[i]) < 0)
			return cvol_error_set(err, errno, "stat lower `%s`", cfg->lowers[i]);

	_cleanup_close_ int fd = fcntl(o->upper, F_DUPFD_CLOEXEC, 3);
	struct stat st, parent;
	if (fd < 0 || fstat(fd, &st) < 0)
		return cvol_error_set(err, errno, "stat upper `%s`", cfg->upper);
	for (;;) {
		for (size_t i = 0; i < o->n_lowers; i++)
			if (same_inode(&st, &lower_st[i]))
				return cvol_error_setx(err, EINVAL, "upper `%s` is inside lower `%s`",
						       cfg->upper, cfg->lowers[i]);
		int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			return cvol_error_set(err, errno, "walk up from upper `%s`", cfg->upper);
		close(fd);
		fd = up;
		if (fstat(fd, &parent) < 0)
			return cvol_error_set(err, errno, "walk up from upper `%s`", cfg->upper);
		if (same_inode(&parent, &st))
			return 0;
		st = parent;
	}
}

static int open_layers(const struct cvol_overlay_config *cfg, const char *merged, struct opened_layers *o,
		       struct cvol_error *err)
{
	int base = cfg->base_dirfd;
	int r;

	size_t n = strv_length(cfg->lowers);
	o->lowers = malloc(n * sizeof(int));
	if (!o->lowers)
		return cvol_error_set(err, ENOMEM, "open lower layers");
	o->n_lowers = n;
	for (size_t i = 0; i < o->n_lowers; i++)
		o->lowers[i] = -1;

	o->merged = r = open_dir(base, merged, "mount point", err);
	if (r < 0)
		return r;
	if (is_mount_root(o->merged, ""))
		return cvol_error_setx(err, EBUSY, "mount point `%s` is already a mount", merged);
	for (size_t i = 0; i < o->n_lowers; i++) {
		o->lowers[i] = r = open_dir(base, cfg->lowers[i], "lower", err);
		if (r < 0)
			return r;
	}
	if (!cfg->upper)
		return 0;
	o->upper = r = open_dir(base, cfg->upper, "upper", err);
	if (r < 0)
		return r;
	return check_upper_outside_lowers(cfg, o, err);
}

/* ---- steps ---------------------------------------------------------------- */

static int ensure_work_dir(const struct mount_plan *plan, struct mount_step *step, struct opened_layers *o,
			   struct cvol_error *err)
{
	int base = plan->cfg->base_dirfd;
	struct stat upper_st, work_st;

	if (mkdirat(base, step->path, 0700) == 0)
		step->done = true;
	else if (errno != EEXIST)
		return cvol_error_set(err, errno, "create work dir `%s`", step->path);
	o->work = open_dir(base, step->path, "work dir", err);
	if (o->work < 0)
		return o->work;
	if (fstat(o->upper, &upper_st) < 0 || fstat(o->work, &work_st) < 0)
		return cvol_error_set(err, errno, "stat work dir `%s`", step->path);
	if (upper_st.st_dev != work_st.st_dev)
		return cvol_error_setx(err, EXDEV,
				       "work dir `%s` is on a different filesystem from upper `%s`",
				       step->path, plan->cfg->upper);
	if (same_inode(&upper_st, &work_st))
		return cvol_error_setx(err, EINVAL, "work dir `%s` is the upper dir itself", step->path);
	return 0;
}

static bool has_option(char **options, const char *name)
{
	for (char **o = options; o && *o; o++)
		if (strcmp(*o, name) == 0)
			return true;
	return false;
}

/* The d_type and feature checks, run on the work dir (same fs as the upper). */
static int check_backing_fs(const struct mount_plan *plan, struct opened_layers *o, struct cvol_error *err)
{
	struct cvol_backing_fs fs;
	/* the O_PATH fd does: fstatfs, statx and the *at() calls of a probe take it */
	int r = cvol_backing_fs_probe_cached(o->work, plan->work, &fs, err);
	if (r < 0)
		return r;
	return cvol_backing_fs_check(&fs, plan->cfg->upper, has_option(plan->cfg->options, "userxattr"), err);
}

/* ---- the new mount API ------------------------------------------------------ */

static void append_kernel_line(struct cvol_error *err, const char *line)
{
	size_t len = strlen(err->msg);
	if (len < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, " (kernel: %s)", line);
}

/* Append the fs context's error log (the kernel's own words) to @err. */
static void add_fs_context_log(int fsfd, struct cvol_error *err)
{
	char line[512];

	for (;;) {
		ssize_t n = read(fsfd, line, sizeof(line) - 1);
		if (n <= 0)
			break;
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'e' || line[0] == 'w')
			append_kernel_line(err, line + 2);
	}
}

/* Most of overlay's refusals go to the kernel log, not the fs context: open
 * /dev/kmsg at its end before mounting, so that the lines the mount adds can be read. */
static int kmsg_open_at_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0)
		cvol_closep(&fd), fd = -1;
	return fd;
}

/* Append overlayfs's lines logged since kmsg_open_at_end() to @err. */
static void add_kmsg_lines(int kfd, struct cvol_error *err)
{
	char record[1024];

	for (int i = 0; kfd >= 0 && i < 64; i++) {
		ssize_t n = read(kfd, record, sizeof(record) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* overwritten records */
		if (n <= 0)
			break;
		record[n] = '\0';
		record[strcspn(record, "\n")] = '\0';
		char *text = strchr(record, ';');
		if (text && strncmp(text + 1, "overlayfs: ", 11) == 0)
			append_kernel_line(err, text + 1);
	}
}

/* Explain a failed mount in the kernel's words: the fs context log, then the kernel log. */
static void add_kernel_words(int fsfd, int kfd, struct cvol_error *err)
{
	if (!err)
		return;
	size_t before = strlen(err->msg);

	if (fsfd >= 0)
		add_fs_context_log(fsfd, err);
	if (strlen(err->msg) == before)
		add_kmsg_lines(kfd, err);
}

/* fsconfig takes strings of at most 255 bytes */
#define FSCONFIG_STRING_MAX 255

/* Pass one layer: by fd, or by its path when that is absolute and short enough for
 * fsconfig (what mountinfo will show), else by /proc/self/fd/N. */
static int fsconfig_layer(int fsfd, enum cvol_mount_api api, const char *key, const char *path, int fd)
{
	char proc_path[64];

	if (api == CVOL_MOUNT_API_FD)
		return fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, fd);
	if (path[0] == '/' && strlen(path) <= FSCONFIG_STRING_MAX)
		return fsconfig(fsfd, FSCONFIG_SET_STRING, key, path, 0);
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	return fsconfig(fsfd, FSCONFIG_SET_STRING, key, proc_path, 0);
}

static int fsconfig_option(int fsfd, const char *option)
{
	const char *eq = strchr(option, '=');
	if (!eq)
		return fsconfig(fsfd, FSCONFIG_SET_FLAG, option, NULL, 0);
	char key[64];
	if (snprintf(key, sizeof(key), "%.*s", (int)(eq - option), option) >= (int)sizeof(key)) {
		errno = EINVAL; /* no option has so long a name: never pass a cut one, that may be another */
		return -1;
	}
	return fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
}

static int configure_fs_context(int fsfd, const struct mount_plan *plan, enum cvol_mount_api api,
				struct opened_layers *o, const char **ret_what)
{
	const struct cvol_overlay_config *cfg = plan->cfg;

	*ret_what = "source";
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "cvol", 0) < 0)
		return -errno;
	for (size_t i = 0; i < o->n_lowers; i++) {
		*ret_what = cfg->lowers[i];
		if (fsconfig_layer(fsfd, api, "lowerdir+", cfg->lowers[i], o->lowers[i]) < 0)
			return -errno;
	}
	if (cfg->upper) {
		*ret_what = cfg->upper;
		if (fsconfig_layer(fsfd, api, "upperdir", cfg->upper, o->upper) < 0)
			return -errno;
		*ret_what = plan->work;
		if (fsconfig_layer(fsfd, api, "workdir", plan->work, o->work) < 0)
			return -errno;
	}
	for (char **opt = cfg->options; opt && *opt; opt++) {
		*ret_what = *opt;
		if (fsconfig_option(fsfd, *opt) < 0)
			return -errno;
	}
	*ret_what = NULL;
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* Mount through fsopen with @api. *@ret_api_refused tells a failure that may mean the kernel
 * lacks @api (fsopen refused, or the first lowerdir+ refused as invalid) from any other. */
static int mount_with_fsopen(const struct mount_plan *plan, enum cvol_mount_api api, struct opened_layers *o,
			     const char *merged, bool *ret_api_refused, struct cvol_error *err)
{
	const char *what = NULL;

	*ret_api_refused = false;
	_cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		*ret_api_refused = true;
		return cvol_error_set(err, errno, "fsopen overlay for `%s`", merged);
	}
	_cleanup_close_ int kfd = kmsg_open_at_end();
	int r = configure_fs_context(fsfd, plan, api, o, &what);
	if (r < 0) {
		*ret_api_refused = r == -EINVAL && what == plan->cfg->lowers[0];
		if (what)
			cvol_error_set(err, -r, "mount overlay on `%s`: set `%s`", merged, what);
		else
			cvol_error_set(err, -r, "mount overlay on `%s`", merged);
		add_kernel_words(fsfd, kfd, err);
		return r;
	}
	unsigned attrs = plan->cfg->read_only ? MOUNT_ATTR_RDONLY : 0;
	_cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0) {
		r = cvol_error_set(err, errno, "mount overlay on `%s`", merged);
		add_kernel_words(fsfd, kfd, err);
		return r;
	}
	if (move_mount(mfd, "", o->merged, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cvol_error_set(err, errno, "attach overlay on `%s`", merged);
	return 0;
}

/* ---- mount(2), for kernels without lowerdir+ --------------------------------- */

struct legacy_mount {
	int base_dirfd;
	const char *target;
	const char *data;
	unsigned long flags;
	int result;
};

/* Runs in its own thread so that chdir to the store does not move the caller. */
static void *legacy_mount_thread(void *arg)
{
	struct legacy_mount *m = arg;

	m->result = 0;
	if (m->base_dirfd != AT_FDCWD && (unshare(CLONE_FS) < 0 || fchdir(m->base_dirfd) < 0))
		m->result = -errno;
	else if (mount("cvol", m->target, "overlay", m->flags, m->data) < 0)
		m->result = -errno;
	return NULL;
}

static int mount_with_mount2(const struct mount_plan *plan, const char *merged, struct cvol_error *err)
{
	long page = sysconf(_SC_PAGESIZE);
	_cleanup_free_ char *data = malloc((size_t)page);
	if (!data)
		return cvol_error_set(err, ENOMEM, "mount overlay on `%s`", merged);
	int r = overlay_data_build(plan->cfg, plan->work, data, (size_t)page, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "mount overlay on `%s`", merged);

	struct legacy_mount m = {
		.base_dirfd = plan->cfg->base_dirfd,
		.target = merged,
		.data = data,
		.flags = plan->cfg->read_only ? MS_RDONLY : 0,
	};
	_cleanup_close_ int kfd = kmsg_open_at_end();
	if (m.base_dirfd == AT_FDCWD) {
		legacy_mount_thread(&m);
	} else {
		pthread_t t;
		r = pthread_create(&t, NULL, legacy_mount_thread, &m);
		if (r != 0)
			return cvol_error_set(err, r, "start the mount thread for `%s`", merged);
		pthread_join(t, NULL);
	}
	if (m.result < 0) {
		cvol_error_set(err, -m.result, "mount overlay on `%s`", merged);
		add_kernel_words(-1, kfd, err);
		return m.result;
	}
	return 0;
}

/* ---- running the plan ---------------------------------------------------------- */

/* The best API is tried first, without probing the kernel in a context of its own: most
 * kernels have it. Only a refusal that may mean it is missing, or CVOL_MOUNT_API, makes the
 * kernel's features be probed; when they show the API was there, the refusal stands. */
static int mount_overlay_step(const struct mount_plan *plan, struct mount_step *step, struct opened_layers *o,
			      struct cvol_error *err)
{
	struct cvol_kernel_features k;
	const char *want = getenv("CVOL_MOUNT_API");
	bool api_refused = false;
	int r;

	if (plan->cfg->upper) {
		r = check_backing_fs(plan, o, err);
		if (r < 0)
			return r;
	}
	if (!want || !*want) {
		log_debug(CVOL_LOG_OVERLAY, "mount `%s` with %zu lower layers via %s", step->path,
			  o->n_lowers, cvol_mount_api_name(CVOL_MOUNT_API_FD));
		r = mount_with_fsopen(plan, CVOL_MOUNT_API_FD, o, step->path, &api_refused, err);
		if (r == 0)
			step->done = true;
		if (!api_refused)
			return r;
		struct cvol_error refused = *err;
		int refused_r = r;
		r = cvol_kernel_features_probe(&k, err);
		if (r < 0)
			return r;
		if (k.api == CVOL_MOUNT_API_FD) {
			*err = refused;
			return refused_r;
		}
	} else {
		r = cvol_kernel_features_probe(&k, err);
		if (r < 0)
			return r;
	}
	log_debug(CVOL_LOG_OVERLAY, "mount `%s` with %zu lower layers via %s", step->path, o->n_lowers,
		  cvol_mount_api_name(k.api));
	if (k.api == CVOL_MOUNT_API_LEGACY)
		r = mount_with_mount2(plan, step->path, err);
	else
		r = mount_with_fsopen(plan, k.api, o, step->path, &api_refused, err);
	if (r == 0)
		step->done = true;
	return r;
}

static void undo_step(const struct mount_plan *plan, struct mount_step *step)
{
	if (!step->done)
		return;
	switch (step->kind) {
	case MOUNT_STEP_ENSURE_DIR:
		/* made by us: whatever the kernel put in it goes too */
		(void)dir_remove_tree(plan->cfg->base_dirfd, step->path, NULL);
		break;
	case MOUNT_STEP_MOUNT_OVERLAY:
		umount2(step->path, UMOUNT_NOFOLLOW | MNT_DETACH);
		break;
	}
	step->done = false;
}

static int run_step(const struct mount_plan *plan, struct mount_step *step, struct opened_layers *o,
		    struct cvol_error *err)
{
	switch (step->kind) {
	case MOUNT_STEP_ENSURE_DIR:
		return ensure_work_dir(plan, step, o, err);
	case MOUNT_STEP_MOUNT_OVERLAY:
		return mount_overlay_step(plan, step, o, err);
	}
	return cvol_error_setx(err, EINVAL, "unknown mount step");
}

int cvol_overlay_mount(const struct cvol_overlay_config *cfg, const char *merged, struct cvol_error *err)
{
	struct mount_plan plan;
	struct opened_layers o = { .upper = -1, .work = -1, .merged = -1 };
	int r;

	r = mount_plan_build(cfg, merged, &plan, err);
	if (r < 0)
		return r;
	r = open_layers(cfg, merged, &o, err);
	for (size_t i = 0; r == 0 && i < plan.n_steps; i++)
		r = run_step(&plan, &plan.steps[i], &o, err);
	if (r < 0)
		for (size_t i = plan.n_steps; i > 0; i--)
			undo_step(&plan, &plan.steps[i - 1]);
	opened_layers_close(&o);
	mount_plan_done(&plan);
	return r;
}

int cvol_overlay_umount(const char *merged, struct cvol_error *err)
{
	struct statfs sfs;

	_cleanup_close_ int fd = open(merged, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "unmount `%s`", merged);
	if (!is_mount_root(fd, ""))
		return cvol_error_setx(err, EINVAL, "unmount `%s`: not a mount point", merged);
	if (fstatfs(fd, &sfs) < 0)
		return cvol_error_set(err, errno, "unmount `%s`", merged);
	if (sfs.f_type != OVERLAYFS_SUPER_MAGIC)
		return cvol_error_setx(err, EINVAL, "unmount `%s`: not an overlay mount", merged);
	cvol_closep(&fd); /* an open fd on the mount would keep it busy */
	fd = -1;
	if (umount2(merged, UMOUNT_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "unmount `%s`", merged);
	return 0;
}
