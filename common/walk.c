/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "walk.h"
#include "strv.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

/* ---- listings ------------------------------------------------------------------------ */

/* dir_for_each() from the stream position *@pos (0: the start); *@pos is left after the last
 * entry given to @fn, so that a walk stopped by @fn goes on from there. */
static int dir_for_each_from(int dirfd, long *pos, dir_entry_fn fn, void *data, struct cvol_error *err)
{
	/* A new open file description: a dup would share its offset with every other walk. */
	int walkfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (walkfd < 0)
		return cvol_error_set(err, errno, "read directory");
	DIR *d = fdopendir(walkfd);
	if (!d) {
		close(walkfd);
		return cvol_error_set(err, errno, "read directory");
	}
	if (*pos)
		seekdir(d, *pos); /* positions stay valid as entries before them are removed */
	int r = 0;
	for (;;) {
		errno = 0; /* readdir() returns NULL at the end and on an error alike */
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno != 0)
				r = cvol_error_set(err, errno, "read directory");
			break;
		}
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = fn(dirfd, de->d_name, de->d_type, data, err);
		if (r != 0)
			break;
	}
	*pos = telldir(d);
	closedir(d);
	return r;
}

int dir_for_each(int dirfd, dir_entry_fn fn, void *data, struct cvol_error *err)
{
	long pos = 0;
	return dir_for_each_from(dirfd, &pos, fn, data, err);
}

struct name_vector {
	char **v;
	size_t n, cap;
	size_t max; /* stop after this many (0: no limit) */
};

static int add_to_vector(int dirfd, const char *name, unsigned char d_type, void *data,
			 struct cvol_error *err)
{
	struct name_vector *nv = data;
	(void)dirfd;
	(void)d_type;
	if (nv->n + 2 > nv->cap) {
		size_t cap = nv->cap ? nv->cap * 2 : 16;
		char **grown = realloc(nv->v, cap * sizeof(char *));
		if (!grown)
			return cvol_error_set(err, ENOMEM, "list a directory");
		nv->v = grown;
		nv->cap = cap;
	}
	if (!(nv->v[nv->n] = strdup(name)))
		return cvol_error_set(err, ENOMEM, "list a directory");
	nv->v[++nv->n] = NULL;
	return nv->max && nv->n == nv->max ? 1 : 0; /* 1: full, stop reading */
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* At most @max names (0: all) of @dirfd from the stream position *@pos, sorted; *@ret_more
 * tells whether some were left, *@pos where the next listing goes on. */
static int dir_list_some(int dirfd, size_t max, long *pos, char ***ret_names, bool *ret_more,
			 struct cvol_error *err)
{
	struct name_vector nv = { .max = max };
	int r = dir_for_each_from(dirfd, pos, add_to_vector, &nv, err);
	bool more = r == 1;
	if (more)
		r = 0;
	if (r == 0 && !nv.v && !(nv.v = calloc(1, sizeof(char *))))
		r = cvol_error_set(err, ENOMEM, "list a directory");
	if (r < 0) {
		cvol_strv_free(nv.v);
		return r;
	}
	if (nv.n > 1)
		qsort(nv.v, nv.n, sizeof(char *), compare_names);
	*ret_names = nv.v;
	if (ret_more)
		*ret_more = more;
	return 0;
}

int dir_list_sorted(int dirfd, char ***ret_names, struct cvol_error *err)
{
	long pos = 0;
	return dir_list_some(dirfd, 0, &pos, ret_names, NULL, err);
}

/* ---- tree walks ---------------------------------------------------------------------- */

/* A directory being walked: its sorted names, the next one, and who it is. Its path is the
 * first path_len bytes of the walker's one path buffer, so memory grows with the depth, not
 * with its square. */
struct frame {
	char **names;
	size_t next;
	bool more;	 /* a batch: the directory holds names not listed yet */
	long pos;	 /* where the next batch is read from */
	size_t path_len; /* 0 for the root */
	struct stat st;
};

struct walker {
	const struct walk_ops *ops;
	void *data;
	struct frame *frames;
	size_t depth, cap;
	char *path; /* the entry at hand, from the root */
	size_t path_cap;
	int fd; /* the directory of the top frame */
};

/* Make the path the entry @name of the top frame; returns 0 or -ENOMEM. */
static int walker_set_path(struct walker *w, const char *name)
{
	size_t at = w->depth ? w->frames[w->depth - 1].path_len : 0;
	size_t need = at + 1 + strlen(name) + 1;
	if (need > w->path_cap) {
		size_t cap = need * 2;
		char *grown = realloc(w->path, cap);
		if (!grown)
			return -ENOMEM;
		w->path = grown;
		w->path_cap = cap;
	}
	if (at > 0)
		w->path[at++] = '/';
	strcpy(w->path + at, name);
	return 0;
}

static int walker_push(struct walker *w, int fd, size_t path_len, const struct stat *st,
		       struct cvol_error *err)
{
	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct frame *grown = realloc(w->frames, cap * sizeof(*grown));
		if (!grown)
			return cvol_error_set(err, ENOMEM, "walk `%s`", w->path);
		w->frames = grown;
		w->cap = cap;
	}
	struct frame *f = &w->frames[w->depth];
	*f = (struct frame){ .path_len = path_len, .st = *st };
	int r = dir_list_some(fd, w->ops->batch, &f->pos, &f->names, &f->more, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "read `%s`", path_len ? w->path : "/");
	w->depth++;
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Into the directory @name of the top frame (whose lstat is @st); w->path is its path. */
static int walker_descend(struct walker *w, const char *name, const struct stat *st, struct cvol_error *err)
{
	struct stat now;
	int fd = openat(w->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", w->path);
	if (fstat(fd, &now) < 0 || !same_file(&now, st)) {
		close(fd);
		return cvol_error_setx(err, ESTALE, "`%s` changed while it was read", w->path);
	}
	int r = walker_push(w, fd, strlen(w->path), st, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	close(w->fd);
	w->fd = fd;
	return 0;
}

/* Out of the top frame, back into its parent's directory (checked to be the one it left),
 * then leave() the directory. */
static int walker_ascend(struct walker *w, struct cvol_error *err)
{
	struct frame done = w->frames[--w->depth];
	const struct frame *parent = &w->frames[w->depth - 1];
	struct stat now;
	int r = 0;

	w->path[done.path_len] = '\0';
	int fd = openat(w->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = cvol_error_set(err, errno, "open the parent of `%s`", w->path);
	else if (fstat(fd, &now) < 0 || !same_file(&now, &parent->st))
		r = cvol_error_setx(err, ESTALE, "`%s` moved while it was read", w->path);
	if (r == 0) {
		close(w->fd);
		w->fd = TAKE_FD(fd);
	}
	if (r == 0 && w->ops->leave) {
		size_t name_at = parent->path_len ? parent->path_len + 1 : 0;
		struct walk_entry e = { w->fd, w->path + name_at, w->path, &done.st };
		r = w->ops->leave(&e, w->data, err);
	}
	cvol_closep(&fd);
	cvol_strv_free(done.names);
	return r;
}

/* The next names of the top frame's directory, read on from where the batch before stopped
 * (not from its start: that would read the directory once per batch). */
static int walker_next_batch(struct walker *w, struct cvol_error *err)
{
	struct frame *f = &w->frames[w->depth - 1];
	char **names = NULL;
	int r = dir_list_some(w->fd, w->ops->batch, &f->pos, &names, &f->more, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "read `%s`", f->path_len ? w->path : "/");
	cvol_strv_free(f->names);
	f->names = names;
	f->next = 0;
	return 0;
}

/* The next entry of the top frame. */
static int walker_step(struct walker *w, struct cvol_error *err)
{
	struct frame *f = &w->frames[w->depth - 1];
	const char *name = f->names[f->next++];
	struct stat st;

	if (walker_set_path(w, name) < 0)
		return cvol_error_set(err, ENOMEM, "walk `%s`", name);
	if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) /* gone since the listing: no entry */
		return errno == ENOENT ? 0 : cvol_error_set(err, errno, "stat `%s`", w->path);
	struct walk_entry e = { w->fd, name, w->path, &st };
	int r = w->ops->enter(&e, w->data, err);
	if (r == WALK_CONTINUE && S_ISDIR(st.st_mode))
		return walker_descend(w, name, &st, err);
	return r < 0 ? r : 0;
}

int tree_walk(int rootfd, const struct walk_ops *ops, void *data, struct cvol_error *err)
{
	struct walker w = { .ops = ops, .data = data };
	struct stat st;
	int r = 0;

	w.fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.fd < 0 || fstat(w.fd, &st) < 0)
		r = cvol_error_set(err, errno, "open the tree");
	if (r == 0 && walker_set_path(&w, "") < 0)
		r = cvol_error_set(err, ENOMEM, "walk");
	if (r == 0)
		r = walker_push(&w, w.fd, 0, &st, err);
	while (r == 0 && w.depth > 0) {
		struct frame *f = &w.frames[w.depth - 1];
		if (f->names[f->next])
			r = walker_step(&w, err);
		else if (f->more)
			r = walker_next_batch(&w, err);
		else if (w.depth > 1)
			r = walker_ascend(&w, err);
		else
			cvol_strv_free(w.frames[--w.depth].names);
	}
	while (w.depth > 0)
		cvol_strv_free(w.frames[--w.depth].names);
	free(w.frames);
	free(w.path);
	cvol_closep(&w.fd);
	return r;
}
