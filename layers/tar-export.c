/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Write a layer's diff as a tar (pax) with OCI whiteouts: an overlay whiteout becomes
 * `.wh.NAME`, an opaque directory gets `.wh..wh..opq`. Names in sorted order, hardlinks
 * as tar hardlinks, xattrs but overlay's own, a file with holes as a sparse entry (GNU
 * sparse 1.0 in pax, as GNU tar and libarchive write it) that holds its data only.
 * Importing the result gives the same tree. */
#include "layers-internal.h"

#include "../common/walk.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/limits.h>
#include <sys/xattr.h>

struct linked {
	dev_t dev;
	ino_t ino;
	char *path;
};

/* A file's data: what is not a hole. */
struct region {
	off_t off, len;
};

/* Regions a sparse entry may list: libarchive keeps its map in memory (about 150 bytes a
 * region in the entry, its copy, the writer's list and the map text). When a file has more,
 * regions are joined (the hole between them written as zeros) until half are left, those
 * with the smallest holes between them first: as few zeros as a map of this size allows. */
#define SPARSE_REGIONS_MAX 16384

/* A hole is skipped by handing the pax writer that many bytes it does not read: this much of
 * a read-only zero mapping at a time (1,024 calls for a hole of 1 TiB). */
#define HOLE_CHUNK ((size_t)1 << 30)

struct exporter {
	struct archive *a;
	struct archive_entry *e;
	struct linked *links;
	size_t n_links, cap_links;
	struct region *regions; /* of the file being written; SPARSE_REGIONS_MAX */
	const void *zeros;	/* HOLE_CHUNK bytes of zeros (mapped), or hole_buf */
	size_t zeros_len;
};

static int write_header(struct exporter *ex, const char *path, struct cvol_error *err)
{
	if (archive_write_header(ex->a, ex->e) != ARCHIVE_OK)
		return cvol_error_setx(err, EIO, "write `%s` to the archive: %s", path,
				       archive_error_string(ex->a));
	return 0;
}

/* An empty regular file named @name in @dir: the OCI whiteout forms. */
/* Write the whiteout marker @name in the directory whose path is the first @dir_len bytes of @dir. */
static int write_marker(struct exporter *ex, const char *dir, size_t dir_len, const char *name,
			const struct stat *st, struct cvol_error *err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%.*s%s%s", (int)dir_len, dir, dir_len ? "/" : "", name) < 0)
		return cvol_error_set(err, ENOMEM, "export `%s`", name);
	archive_entry_clear(ex->e);
	archive_entry_set_pathname(ex->e, path);
	archive_entry_set_filetype(ex->e, AE_IFREG);
	archive_entry_set_perm(ex->e, 0600);
	archive_entry_set_size(ex->e, 0);
	archive_entry_set_mtime(ex->e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	return write_header(ex, path, err);
}

static void add_xattrs(struct exporter *ex, int fd)
{
	ssize_t size = flistxattr(fd, NULL, 0);
	if (size <= 0)
		return;
	_cleanup_free_ char *names = malloc((size_t)size);
	_cleanup_free_ char *value = malloc(XATTR_SIZE_MAX);
	ssize_t len = names && value ? flistxattr(fd, names, (size_t)size) : -1;

	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		if (cvol_whiteout_xattr_is_overlay(name))
			continue;
		ssize_t n = fgetxattr(fd, name, value, XATTR_SIZE_MAX);
		if (n >= 0)
			archive_entry_xattr_add_entry(ex->e, name, value, (size_t)n);
	}
}

/* Join regions of @r with holes of at most @gap between them, in place, until @target are
 * left (or none of the rest is that close); returns how many are left. */
static size_t join_regions(struct region *r, size_t n, off_t gap, size_t target)
{
	size_t kept = 1;
	for (size_t i = 1; i < n; i++) {
		struct region *last = &r[kept - 1];
		if (kept + (n - i) > target && r[i].off - (last->off + last->len) <= gap)
			last->len = r[i].off + r[i].len - last->off;
		else
			r[kept++] = r[i];
	}
	return kept;
}

/* The data regions of the file @fd of @size bytes into ex->regions: 0 and their number, 1
 * region [0, size) for a file without holes (or where SEEK_DATA is not known). */
static size_t find_regions(struct exporter *ex, int fd, off_t size)
{
	struct region *r = ex->regions;
	off_t pos = 0, gap = 4096;
	size_t n = 0;

	while (pos < size) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* a hole to the end */
		if (data >= size)
			break;
		off_t hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
		if (data < 0 || hole <= data) /* no SEEK_DATA here: all of it is data */
			goto whole;
		if (hole > size)
			hole = size;
		r[n++] = (struct region){ data, hole - data };
		if (n == SPARSE_REGIONS_MAX) { /* join the closest first, the gap doubling */
			n = join_regions(r, n, gap, SPARSE_REGIONS_MAX / 2);
			while (n > SPARSE_REGIONS_MAX / 2)
				n = join_regions(r, n, gap *= 2, SPARSE_REGIONS_MAX / 2);
		}
		pos = hole;
	}
	return n;
whole:
	r[0] = (struct region){ 0, size };
	return 1;
}

static int write_failed(struct exporter *ex, const char *path, struct cvol_error *err)
{
	return cvol_error_setx(err, EIO, "write `%s` to the archive: %s", path, archive_error_string(ex->a));
}

/* Hand the writer @len bytes of a hole, which it skips without reading them. */
static int skip_hole(struct exporter *ex, off_t len, const char *path, struct cvol_error *err)
{
	static char hole_buf[64 * 1024]; /* when no zero mapping could be made */

	if (!ex->zeros) {
		void *m =
			mmap(NULL, HOLE_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		ex->zeros = m == MAP_FAILED ? hole_buf : m;
		ex->zeros_len = m == MAP_FAILED ? sizeof(hole_buf) : HOLE_CHUNK;
	}
	while (len > 0) {
		size_t n = (uint64_t)len < ex->zeros_len ? (size_t)len : ex->zeros_len;
		la_ssize_t w = archive_write_data(ex->a, ex->zeros, n);
		if (w < 0)
			return write_failed(ex, path, err);
		if (w == 0)
			return 0; /* the writer wants no more of this entry */
		len -= w;
	}
	return 0;
}

/* Copy @len bytes at @off of @fd to the archive; a file cut short meanwhile ends early (the
 * writer pads its entry with zeros). */
static int copy_range(struct exporter *ex, int fd, off_t off, off_t len, const char *path,
		      struct cvol_error *err)
{
	char buf[128 * 1024];
	while (len > 0) {
		ssize_t n = pread(fd, buf, (uint64_t)len < sizeof(buf) ? (size_t)len : sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cvol_error_set(err, errno, "read `%s`", path);
		if (n == 0)
			return 0;
		if (archive_write_data(ex->a, buf, (size_t)n) < 0)
			return write_failed(ex, path, err);
		off += n;
		len -= n;
	}
	return 0;
}

/* A regular file's header and data: a file with holes as a sparse entry of its data regions,
 * any other as it always was. */
static int write_file(struct exporter *ex, int fd, const struct stat *st, const char *path,
		      struct cvol_error *err)
{
	size_t n = st->st_size > 0 ? find_regions(ex, fd, st->st_size) : 0;
	bool whole = n == 1 && ex->regions[0].off == 0 && ex->regions[0].len == st->st_size;
	bool sparse = st->st_size > 0 && !whole;

	if (sparse) {
		for (size_t i = 0; i < n; i++)
			archive_entry_sparse_add_entry(ex->e, ex->regions[i].off, ex->regions[i].len);
		if (n == 0) /* all hole: an empty region marks it sparse, as libarchive's disk reader does */
			archive_entry_sparse_add_entry(ex->e, 0, 0);
		if (archive_entry_sparse_count(ex->e) != (int)(n ? n : 1))
			return cvol_error_set(err, ENOMEM, "export `%s`", path);
	}
	int r = write_header(ex, path, err);
	/* the sparse map goes out with the first data: a file of holes only has none */
	if (r == 0 && sparse && archive_write_data(ex->a, "", 0) < 0)
		r = write_failed(ex, path, err);
	off_t at = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = skip_hole(ex, ex->regions[i].off - at, path, err);
		if (r == 0)
			r = copy_range(ex, fd, ex->regions[i].off, ex->regions[i].len, path, err);
		at = ex->regions[i].off + ex->regions[i].len;
	}
	return r;
}

/* The path an earlier name of this inode was written under, or NULL (and remember this one). */
static const char *hardlink_of(struct exporter *ex, const struct stat *st, const char *path)
{
	for (size_t i = 0; i < ex->n_links; i++)
		if (ex->links[i].dev == st->st_dev && ex->links[i].ino == st->st_ino)
			return ex->links[i].path;
	if (ex->n_links == ex->cap_links) {
		size_t cap = ex->cap_links ? ex->cap_links * 2 : 32;
		struct linked *grown = realloc(ex->links, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		ex->links = grown;
		ex->cap_links = cap;
	}
	char *copy = strdup(path);
	if (copy)
		ex->links[ex->n_links++] = (struct linked){ st->st_dev, st->st_ino, copy };
	return NULL;
}

/* One entry of the layer; the walk goes on into a directory after its header. */
static int export_enter(const struct walk_entry *w, void *data, struct cvol_error *err)
{
	struct exporter *ex = data;
	int dirfd = w->dirfd;
	const char *name = w->name, *path = w->path;
	struct stat st = *w->st;

	if (cvol_whiteout_is(dirfd, name, &st)) {
		size_t dir_len = strlen(path) - strlen(name);
		char marker[NAME_MAX + 8];
		snprintf(marker, sizeof(marker), ".wh.%s", name);
		return write_marker(ex, path, dir_len ? dir_len - 1 : 0, marker, &st, err);
	}
	archive_entry_clear(ex->e);
	archive_entry_copy_stat(ex->e, &st);
	archive_entry_set_pathname(ex->e, path);
	archive_entry_unset_atime(ex->e);
	archive_entry_unset_ctime(ex->e);
	archive_entry_unset_birthtime(ex->e);
	if (S_ISLNK(st.st_mode)) {
		_cleanup_free_ char *target = malloc(PATH_MAX);
		ssize_t n = target ? readlinkat(dirfd, name, target, PATH_MAX - 1) : -1;
		if (n < 0)
			return cvol_error_set(err, target ? errno : ENOMEM, "read symlink `%s`", path);
		target[n] = '\0';
		archive_entry_set_symlink(ex->e, target);
		return write_header(ex, path, err);
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) /* device nodes and fifos */
		return write_header(ex, path, err);

	/* O_NONBLOCK: a FIFO put in its place since the lstat must not hang the export */
	_cleanup_close_ int fd = openat(dirfd, name,
					O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
						(S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	struct stat now;
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", path);
	if (fstat(fd, &now) < 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino)
		return cvol_error_setx(err, ESTALE, "`%s` changed while it was exported", path);
	add_xattrs(ex, fd);
	if (S_ISREG(st.st_mode)) {
		const char *first = st.st_nlink > 1 ? hardlink_of(ex, &st, path) : NULL;
		if (first) {
			archive_entry_set_hardlink(ex->e, first);
			archive_entry_set_size(ex->e, 0);
			return write_header(ex, path, err);
		}
		return write_file(ex, fd, &st, path, err);
	}
	int r = write_header(ex, path, err);
	if (r == 0 && cvol_whiteout_dir_is_opaque(fd))
		r = write_marker(ex, path, strlen(path), ".wh..wh..opq", &st, err);
	return r < 0 ? r : WALK_CONTINUE;
}

int tar_export(int rootfd, int out_fd, struct cvol_error *err)
{
	struct exporter ex = { 0 };
	int r;

	ex.a = archive_write_new();
	ex.e = archive_entry_new();
	if (!ex.a || !ex.e) {
		r = cvol_error_set(err, ENOMEM, "write the layer archive");
		goto out;
	}
	ex.regions = calloc(SPARSE_REGIONS_MAX, sizeof(*ex.regions));
	if (!ex.regions) {
		r = cvol_error_set(err, ENOMEM, "write the layer archive");
		goto out;
	}
	archive_write_set_format_pax_restricted(ex.a);
	archive_write_set_bytes_in_last_block(ex.a, 1);
	if (archive_write_open_fd(ex.a, out_fd) != ARCHIVE_OK) {
		r = cvol_error_setx(err, EIO, "write the layer archive: %s", archive_error_string(ex.a));
		goto out;
	}
	r = tree_walk(rootfd, &(const struct walk_ops){ .enter = export_enter }, &ex, err);
	if (archive_write_close(ex.a) != ARCHIVE_OK && r == 0)
		r = cvol_error_setx(err, EIO, "finish the layer archive: %s", archive_error_string(ex.a));
out:
	for (size_t i = 0; i < ex.n_links; i++)
		free(ex.links[i].path);
	free(ex.links);
	free(ex.regions);
	if (ex.zeros && ex.zeros_len == HOLE_CHUNK)
		munmap((void *)ex.zeros, HOLE_CHUNK);
	if (ex.e)
		archive_entry_free(ex.e);
	if (ex.a)
		archive_write_free(ex.a);
	return r;
}
