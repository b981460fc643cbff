/* test_ns.c - the namespace layer (ns.h) without FUSE, on stores whose
 * backing storage is the memory backend: lookup, create, mkdir, symlinks,
 * hard links, unlink (also of an open file), rename with its flags, rmdir,
 * long names and their side files, setattr, listings; each in a store with
 * encrypted names and in one with plaintext names, and always with the
 * store totals that /.ragstore/stats reports. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "memstore.h"
#include "names.h"
#include "ns.h"
#include "ofile.h"
#include "stats.h"
#include "store.h"
#include "unit.h"

#define UID 1000
#define GID 1001

/* Only a daemon run as root gives new objects the caller's owner. */
#define OWNER_OK(st, uid, gid) \
	(geteuid() != 0 || ((st).st_uid == (uid) && (st).st_gid == (gid)))

static struct stats_totals totals(struct store *s)
{
	return memstore_stats(s).totals;
}

/* The totals are what they were at t0. */
static void check_totals(struct store *s, struct stats_totals t0)
{
	struct stats_totals t = totals(s);

	CHECK_EQ(t.files, t0.files);
	CHECK_EQ(t.dirs, t0.dirs);
	CHECK_EQ(t.logical, t0.logical);
	CHECK_EQ(t.stored, t0.stored);
}

/* Create name in dir with content len bytes of c (a check); the file stays
 * closed.  NULL if it could not be made. */
static struct inode *make_file(struct store *s, struct inode *dir, const char *name, size_t len,
			       char c)
{
	struct inode *in = NULL;
	struct ofile *f;
	struct stat st;
	char *buf = malloc(len ? len : 1);
	int r;

	CHECK(buf != NULL);
	if (!buf)
		return NULL;
	memset(buf, c, len);
	r = ns_create(s, dir, name, 0644, O_CREAT | O_EXCL | O_RDWR, UID, GID, &in, &st, &f);
	CHECK_EQ(r, 0);
	if (r == 0) {
		if (len)
			CHECK_EQ(ofile_write(s, f, buf, len, 0), len);
		CHECK_EQ(ofile_release(s, f), 0);
	}
	free(buf);
	return in;
}

static struct inode *make_dir(struct store *s, struct inode *dir, const char *name)
{
	struct inode *in = NULL;
	struct stat st;

	CHECK_EQ(ns_mkdir(s, dir, name, 0755, UID, GID, &in, &st), 0);
	return in;
}

/* The whole content of regular file in, NUL-terminated (the caller frees);
 * NULL if it cannot be read. */
static char *content(struct store *s, struct inode *in, ssize_t *len)
{
	struct ofile *f;
	char *buf = malloc(65536);

	*len = -1;
	if (!buf || ns_open(s, in, O_RDONLY, &f) < 0) {
		free(buf);
		return NULL;
	}
	*len = ofile_read(s, f, buf, 65535, 0);
	ofile_release(s, f);
	if (*len < 0) {
		free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}

static int lookup(struct store *s, struct inode *dir, const char *name, struct inode **in,
		  struct stat *st)
{
	struct stat tmp;

	return ns_lookup(s, dir, name, in, st ? st : &tmp);
}

static void test_lookup_create(struct store *s)
{
	struct inode *root = inode_root(s), *a, *again, *b;
	struct stats_totals t0 = totals(s), t;
	struct ofile *f, *f2;
	struct stat st;
	ssize_t len;
	char *data;

	CHECK_EQ(lookup(s, root, "a", &a, NULL), -ENOENT);
	CHECK_EQ(ns_create(s, root, "a", 0640, O_CREAT | O_EXCL | O_RDWR, UID, GID, &a, &st, &f),
		 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK(OWNER_OK(st, UID, GID));
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(st.st_nlink, 1);
	t = totals(s);
	CHECK_EQ(t.files, t0.files + 1);
	/* O_EXCL refuses an existing name; without it the file is opened. */
	CHECK_EQ(ns_create(s, root, "a", 0600, O_CREAT | O_EXCL | O_RDWR, UID, GID, &again, &st,
			   &f2), -EEXIST);
	CHECK_EQ(ns_create(s, root, "a", 0600, O_CREAT | O_RDWR, UID, GID, &again, &st, &f2), 0);
	CHECK(again == a);
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_EQ(ofile_write(s, f2, "hello, world", 12, 0), 12);
	CHECK_EQ(ofile_flush(s, f2), 0);
	ofile_release(s, f2);
	ofile_release(s, f);
	t = totals(s);
	CHECK_EQ(t.files, t0.files + 1);
	CHECK_EQ(t.logical, t0.logical + 12);
	CHECK(t.stored > t0.stored);
	CHECK_EQ(lookup(s, root, "a", &b, &st), 0);
	CHECK(b == a);
	CHECK_EQ(st.st_size, 12);
	CHECK_EQ(st.st_ino, inode_ino(a));
	data = content(s, a, &len);
	CHECK(data && !strcmp(data, "hello, world"));
	free(data);
	/* O_TRUNC empties the file, and the totals follow. */
	CHECK_EQ(ns_open(s, a, O_RDWR | O_TRUNC, &f), 0);
	ofile_release(s, f);
	CHECK_EQ(ns_getattr(s, a, &st), 0);
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(totals(s).logical, t0.logical);
	CHECK_EQ(lookup(s, root, ".", &b, NULL), -EINVAL);
	CHECK_EQ(ns_unlink(s, root, "a"), 0);
	CHECK_EQ(totals(s).files, t0.files);
	CHECK_EQ(totals(s).stored, t0.stored);
}

static void test_mkdir_rmdir(struct store *s)
{
	struct inode *root = inode_root(s), *d, *sub;
	struct stats_totals t0 = totals(s);
	struct stat st;

	/* Mode 0 stays 0: no forced u+rwx. */
	CHECK_EQ(ns_mkdir(s, root, "d0", 0, UID, GID, &d, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0);
	CHECK(OWNER_OK(st, UID, GID));
	CHECK_EQ(totals(s).dirs, t0.dirs + 1);
	CHECK_EQ(ns_mkdir(s, root, "d0", 0755, UID, GID, &d, &st), -EEXIST);
	CHECK_EQ(totals(s).dirs, t0.dirs + 1);
	sub = make_dir(s, d, "sub");
	CHECK(sub != NULL);
	CHECK_EQ(totals(s).dirs, t0.dirs + 2);
	CHECK_EQ(ns_getattr(s, d, &st), 0);
	CHECK_EQ(st.st_nlink, 3);
	CHECK_EQ(ns_rmdir(s, root, "d0"), -ENOTEMPTY);
	CHECK_EQ(ns_rmdir(s, d, "none"), -ENOENT);
	make_file(s, d, "f", 0, 0);
	CHECK_EQ(ns_rmdir(s, d, "f"), -ENOTDIR);
	CHECK_EQ(ns_unlink(s, d, "sub"), -EISDIR);
	CHECK_EQ(ns_unlink(s, d, "f"), 0);
	CHECK_EQ(ns_rmdir(s, d, "sub"), 0);
	CHECK_EQ(ns_rmdir(s, root, "d0"), 0);
	CHECK_EQ(lookup(s, root, "d0", &d, NULL), -ENOENT);
	CHECK_EQ(totals(s).dirs, t0.dirs);
	/* A setgid directory hands its group and bit down. */
	CHECK_EQ(ns_mkdir(s, root, "sg", 02775, UID, 4242, &d, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 02775);
	CHECK_EQ(ns_mkdir(s, d, "child", 0700, UID, GID, &sub, &st), 0);
	CHECK(OWNER_OK(st, UID, 4242));
	CHECK(st.st_mode & S_ISGID);
	CHECK_EQ(ns_rmdir(s, d, "child"), 0);
	CHECK_EQ(ns_rmdir(s, root, "sg"), 0);
}

static void test_symlink(struct store *s)
{
	struct inode *root = inode_root(s), *l, *got;
	const char *target = "../some/where/else";
	char buf[256];
	struct stat st;

	CHECK_EQ(ns_symlink(s, root, "l", target, UID, GID, &l, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	/* The length the user sees, not that of the stored (sealed) form. */
	CHECK_EQ(st.st_size, strlen(target));
	CHECK_EQ(ns_readlink(s, l, buf, sizeof(buf)), strlen(target));
	CHECK(!strcmp(buf, target));
	CHECK_EQ(ns_symlink(s, root, "l", "x", UID, GID, &got, &st), -EEXIST);
	CHECK_EQ(lookup(s, root, "l", &got, &st), 0);
	CHECK(got == l && S_ISLNK(st.st_mode) && st.st_size == (off_t)strlen(target));
	CHECK_EQ(ns_readlink(s, root, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ(ns_unlink(s, root, "l"), 0);
}

static void test_links(struct store *s)
{
	struct inode *root = inode_root(s), *a, *b, *d;
	struct stats_totals t0 = totals(s), t;
	struct ofile *f;
	struct stat st;
	ssize_t len;
	char *data;

	a = make_file(s, root, "a", 100, 'a');
	if (!a)
		return;
	d = make_dir(s, root, "dir");
	CHECK_EQ(ns_link(s, a, d, "b", &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(ns_getattr(s, a, &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(lookup(s, d, "b", &b, &st), 0);
	CHECK(b == a);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(ns_link(s, a, d, "b", &st), -EEXIST);
	CHECK_EQ(ns_link(s, d, root, "dirlink", &st), -EPERM);
	/* One file however many names: the totals count it once. */
	t = totals(s);
	CHECK_EQ(t.files, t0.files + 1);
	CHECK_EQ(t.logical, t0.logical + 100);
	/* A change through one name shows through the other at once. */
	CHECK_EQ(ns_open(s, b, O_RDWR, &f), 0);
	CHECK_EQ(ofile_write(s, f, "BBBB", 4, 200), 4);
	CHECK_EQ(ofile_flush(s, f), 0);
	ofile_release(s, f);
	CHECK_EQ(lookup(s, root, "a", &a, &st), 0);
	CHECK_EQ(st.st_size, 204);
	/* Unlinking one name leaves the other whole. */
	CHECK_EQ(ns_unlink(s, root, "a"), 0);
	CHECK_EQ(lookup(s, root, "a", &a, NULL), -ENOENT);
	CHECK_EQ(lookup(s, d, "b", &b, &st), 0);
	CHECK_EQ(st.st_nlink, 1);
	CHECK_EQ(st.st_size, 204);
	data = content(s, b, &len);
	CHECK_EQ(len, 204);
	CHECK(data && data[0] == 'a' && data[99] == 'a' && data[100] == 0 && data[200] == 'B');
	free(data);
	t = totals(s);
	CHECK_EQ(t.files, t0.files + 1);
	CHECK_EQ(t.logical, t0.logical + 204);
	CHECK_EQ(ns_unlink(s, d, "b"), 0);
	CHECK_EQ(ns_rmdir(s, root, "dir"), 0);
	check_totals(s, t0);
}

/* The last name of an open file goes: the file keeps working until the
 * last close, and leaves the totals at once. */
static void test_unlink_open(struct store *s)
{
	struct inode *root = inode_root(s), *in;
	struct stats_totals t0 = totals(s);
	struct statvfs before, during, after;
	static char big[3 * 4096];
	char buf[32];
	struct ofile *f;
	struct stat st;

	memset(big, 'x', sizeof(big));
	ns_statfs(s, &before);
	CHECK_EQ(ns_create(s, root, "gone", 0600, O_CREAT | O_RDWR, UID, GID, &in, &st, &f), 0);
	CHECK_EQ(ofile_write(s, f, big, sizeof(big), 0), sizeof(big));
	/* The totals follow the header on disk, written at flush (close). */
	CHECK_EQ(ofile_flush(s, f), 0);
	CHECK_EQ(totals(s).logical, t0.logical + (int64_t)sizeof(big));
	CHECK_EQ(ns_unlink(s, root, "gone"), 0);
	check_totals(s, t0);
	CHECK_EQ(lookup(s, root, "gone", &in, NULL), -ENOENT);
	CHECK_EQ(ns_getattr(s, in, &st), 0);
	CHECK_EQ(st.st_nlink, 0);
	CHECK_EQ(st.st_size, sizeof(big));
	CHECK_EQ(ofile_write(s, f, "tail", 4, sizeof(big)), 4);
	CHECK_EQ(ofile_read(s, f, buf, 8, sizeof(big) - 4), 8);
	CHECK(!memcmp(buf, "xxxxtail", 8));
	CHECK_EQ(ofile_truncate(s, f, 10), 0);
	CHECK_EQ(ofile_read(s, f, buf, sizeof(buf), 0), 10);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	ns_statfs(s, &during);
	/* Its changes no longer count. */
	check_totals(s, t0);
	CHECK_EQ(ofile_release(s, f), 0);
	/* The last close gives the space back. */
	ns_statfs(s, &after);
	CHECK(during.f_bfree < after.f_bfree);
	CHECK_EQ(after.f_bfree, before.f_bfree);
	check_totals(s, t0);
}

static void test_rename(struct store *s)
{
	struct inode *root = inode_root(s), *x, *y, *e1, *n2, *p, *q, *got;
	struct stats_totals t0 = totals(s), t;
	struct stat st;
	ssize_t len;
	char *data;

	/* Plain. */
	x = make_file(s, root, "x", 10, 'x');
	CHECK_EQ(ns_rename(s, root, "x", root, "y", 0), 0);
	CHECK_EQ(lookup(s, root, "x", &got, NULL), -ENOENT);
	CHECK_EQ(lookup(s, root, "y", &y, NULL), 0);
	CHECK(y == x);
	CHECK_EQ(ns_rename(s, root, "none", root, "w", 0), -ENOENT);
	/* Over a file: the file replaced leaves the totals. */
	make_file(s, root, "z", 500, 'z');
	t = totals(s);
	CHECK_EQ(t.files, t0.files + 2);
	CHECK_EQ(t.logical, t0.logical + 510);
	CHECK_EQ(ns_rename(s, root, "y", root, "z", 0), 0);
	t = totals(s);
	CHECK_EQ(t.files, t0.files + 1);
	CHECK_EQ(t.logical, t0.logical + 10);
	CHECK_EQ(lookup(s, root, "z", &got, &st), 0);
	CHECK(got == x && st.st_size == 10);
	data = content(s, got, &len);
	CHECK(data && !strcmp(data, "xxxxxxxxxx"));
	free(data);
	/* Into another directory and back. */
	e1 = make_dir(s, root, "e1");
	CHECK_EQ(ns_rename(s, root, "z", e1, "z", 0), 0);
	CHECK_EQ(lookup(s, e1, "z", &got, NULL), 0);
	CHECK(got == x);
	CHECK_EQ(ns_rename(s, e1, "z", root, "z", 0), 0);
	/* Over an empty directory. */
	make_dir(s, root, "e2");
	CHECK_EQ(totals(s).dirs, t0.dirs + 2);
	CHECK_EQ(ns_rename(s, root, "e1", root, "e2", 0), 0);
	CHECK_EQ(totals(s).dirs, t0.dirs + 1);
	CHECK_EQ(lookup(s, root, "e1", &got, NULL), -ENOENT);
	CHECK_EQ(lookup(s, root, "e2", &got, NULL), 0);
	CHECK(got == e1);
	/* Over a directory that is not empty, and the kinds that do not mix. */
	n2 = make_dir(s, root, "n2");
	make_file(s, n2, "inside", 1, 'i');
	CHECK_EQ(ns_rename(s, root, "e2", root, "n2", 0), -ENOTEMPTY);
	CHECK_EQ(lookup(s, root, "e2", &got, NULL), 0);
	CHECK_EQ(lookup(s, n2, "inside", &got, NULL), 0);
	CHECK_EQ(ns_rename(s, root, "z", root, "e2", 0), -EISDIR);
	CHECK_EQ(ns_rename(s, root, "e2", root, "z", 0), -ENOTDIR);
	CHECK_EQ(ns_rename(s, root, "e2", e1, "below", 0), -EINVAL);
	CHECK_EQ(totals(s).dirs, t0.dirs + 2);
	/* RENAME_NOREPLACE. */
	CHECK_EQ(ns_rename(s, root, "z", n2, "inside", RENAME_NOREPLACE), -EEXIST);
	CHECK_EQ(ns_rename(s, root, "z", root, "z2", RENAME_NOREPLACE), 0);
	CHECK_EQ(ns_rename(s, root, "z2", root, "z", RENAME_NOREPLACE), 0);
	/* RENAME_EXCHANGE of a file and a directory in different directories. */
	p = make_file(s, root, "p", 1, 'P');
	q = make_dir(s, n2, "q");
	CHECK_EQ(ns_rename(s, root, "p", n2, "q", RENAME_EXCHANGE), 0);
	CHECK_EQ(lookup(s, root, "p", &got, &st), 0);
	CHECK(got == q && S_ISDIR(st.st_mode));
	CHECK_EQ(lookup(s, n2, "q", &got, &st), 0);
	CHECK(got == p && S_ISREG(st.st_mode));
	data = content(s, got, &len);
	CHECK(data && !strcmp(data, "P"));
	free(data);
	CHECK_EQ(ns_rename(s, root, "p", root, "none", RENAME_EXCHANGE), -ENOENT);
	CHECK_EQ(ns_rename(s, root, "z", root, "z", RENAME_EXCHANGE | RENAME_NOREPLACE),
		 -EINVAL);
	t = totals(s);
	CHECK_EQ(t.files, t0.files + 3);
	CHECK_EQ(t.dirs, t0.dirs + 3);
	/* Two names of one file: rename does nothing. */
	CHECK_EQ(ns_link(s, x, root, "zz", &st), 0);
	CHECK_EQ(ns_rename(s, root, "z", root, "zz", 0), 0);
	CHECK_EQ(lookup(s, root, "z", &got, &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(totals(s).files, t0.files + 3);
	/* Clean up, and the totals are back where they started. */
	CHECK_EQ(ns_unlink(s, root, "z"), 0);
	CHECK_EQ(ns_unlink(s, root, "zz"), 0);
	CHECK_EQ(ns_unlink(s, n2, "q"), 0);
	CHECK_EQ(ns_unlink(s, n2, "inside"), 0);
	CHECK_EQ(ns_rmdir(s, root, "p"), 0);
	CHECK_EQ(ns_rmdir(s, root, "n2"), 0);
	CHECK_EQ(ns_rmdir(s, root, "e2"), 0);
	check_totals(s, t0);
}

/* A name of n bytes, all c. */
static char *long_name(size_t n, char c)
{
	char *name = malloc(n + 1);

	if (name) {
		memset(name, c, n);
		name[n] = '\0';
	}
	return name;
}

struct listing {
	int n;
	char names[16][NAME_PLAIN_MAX + 1];
};

static int fill(void *arg, const char *name, const struct stat *st, struct inode *in,
		off_t next)
{
	struct listing *l = arg;

	if (strcmp(name, ".") && strcmp(name, "..") && l->n < 16)
		strcpy(l->names[l->n++], name);
	return 0;
}

static int listed(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return 1;
	return 0;
}

static void list_dir(struct store *s, struct inode *dir, struct listing *l)
{
	struct ns_dir *d;

	memset(l, 0, sizeof(*l));
	if (ns_opendir(s, dir, &d) == 0) {
		CHECK_EQ(ns_readdir(s, d, 0, 0, fill, l), 0);
		ns_releasedir(s, d);
	}
}

/* Entries of the backing directory of the store's root, internal files
 * included. */
static int backing_entries(struct store *s)
{
	struct backend_dir *d;
	struct dirent *e;
	int n = 0;

	if (backend_opendirat(s->be, s->rootfd, ".", 0, &d) < 0)
		return -1;
	while (backend_readdir_names(s->be, d, &e) == 1)
		n++;
	backend_closedir(s->be, d);
	return n;
}

static void test_long_names(struct store *s)
{
	struct inode *root = inode_root(s), *in, *got, *d;
	char *a = long_name(200, 'a'), *b = long_name(255, 'b'), *c = long_name(256, 'c');
	int base = backing_entries(s);
	struct listing l;
	struct ofile *f;
	struct stat st;

	if (!a || !b || !c)
		goto out;
	in = make_file(s, root, a, 3, 'L');
	/* With encrypted names the entry needs a side file too. */
	CHECK_EQ(backing_entries(s), base + (s->names ? 2 : 1));
	CHECK_EQ(lookup(s, root, a, &got, &st), 0);
	CHECK(got == in && st.st_size == 3);
	list_dir(s, root, &l);
	CHECK(listed(&l, a));
	CHECK_EQ(ns_rename(s, root, a, root, b, 0), 0);
	CHECK_EQ(lookup(s, root, a, &got, NULL), -ENOENT);
	CHECK_EQ(lookup(s, root, b, &got, NULL), 0);
	CHECK(got == in);
	CHECK_EQ(backing_entries(s), base + (s->names ? 2 : 1));
	list_dir(s, root, &l);
	CHECK(listed(&l, b) && !listed(&l, a));
	CHECK_EQ(ns_link(s, in, root, a, &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(backing_entries(s), base + (s->names ? 4 : 2));
	CHECK_EQ(ns_unlink(s, root, a), 0);
	CHECK_EQ(ns_unlink(s, root, b), 0);
	CHECK_EQ(ns_create(s, root, c, 0600, O_CREAT | O_RDWR, UID, GID, &got, &st, &f),
		 -ENAMETOOLONG);
	/* Directories and symlinks with long names. */
	CHECK_EQ(ns_mkdir(s, root, b, 0700, UID, GID, &d, &st), 0);
	CHECK_EQ(ns_symlink(s, d, a, b, UID, GID, &got, &st), 0);
	list_dir(s, d, &l);
	CHECK_EQ(l.n, 1);
	CHECK(listed(&l, a));
	CHECK_EQ(ns_rmdir(s, root, b), -ENOTEMPTY);
	CHECK_EQ(ns_unlink(s, d, a), 0);
	CHECK_EQ(ns_rmdir(s, root, b), 0);
	/* Nothing is left behind: no side file outlives its entry. */
	CHECK_EQ(backing_entries(s), base);
out:
	free(a);
	free(b);
	free(c);
}

static void test_setattr(struct store *s)
{
	struct inode *root = inode_root(s), *in;
	struct stats_totals t0 = totals(s);
	struct stat want, st;
	struct ofile *f;
	ssize_t len;
	char *data;

	in = make_file(s, root, "sa", 6000, 's');
	if (!in)
		return;
	memset(&want, 0, sizeof(want));
	want.st_size = 100;
	CHECK_EQ(ns_setattr(s, in, NULL, &want, NS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_size, 100);
	CHECK_EQ(totals(s).logical, t0.logical + 100);
	want.st_size = 9000;
	CHECK_EQ(ns_setattr(s, in, NULL, &want, NS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_size, 9000);
	CHECK_EQ(totals(s).logical, t0.logical + 9000);
	data = content(s, in, &len);
	CHECK_EQ(len, 9000);
	CHECK(data && data[99] == 's' && data[100] == 0 && data[5999] == 0);
	free(data);
	want.st_mode = 04711;
	CHECK_EQ(ns_setattr(s, in, NULL, &want, NS_SET_MODE, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 04711);
	want.st_uid = 7;
	want.st_gid = 8;
	CHECK_EQ(ns_setattr(s, in, NULL, &want, NS_SET_UID | NS_SET_GID, &st), 0);
	CHECK(OWNER_OK(st, 7, 8));
	want.st_atim.tv_sec = 1000;
	want.st_atim.tv_nsec = 1;
	want.st_mtim.tv_sec = 2000;
	want.st_mtim.tv_nsec = 999999999;
	CHECK_EQ(ns_setattr(s, in, NULL, &want, NS_SET_ATIME | NS_SET_MTIME, &st), 0);
	CHECK_EQ(st.st_atim.tv_sec, 1000);
	CHECK_EQ(st.st_atim.tv_nsec, 1);
	CHECK_EQ(st.st_mtim.tv_sec, 2000);
	CHECK_EQ(st.st_mtim.tv_nsec, 999999999);
	/* The same through an open handle. */
	CHECK_EQ(ns_open(s, in, O_RDWR, &f), 0);
	want.st_size = 10;
	want.st_mode = 0600;
	want.st_mtim.tv_sec = 3000;
	CHECK_EQ(ns_setattr(s, in, f, &want, NS_SET_SIZE | NS_SET_MODE | NS_SET_MTIME, &st), 0);
	CHECK_EQ(st.st_size, 10);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(st.st_mtim.tv_sec, 3000);
	CHECK_EQ(st.st_atim.tv_sec, 1000);
	want.st_size = -1;
	CHECK_EQ(ns_setattr(s, in, f, &want, NS_SET_SIZE, &st), -EINVAL);
	ofile_release(s, f);
	/* The totals follow the header, written at the last close. */
	CHECK_EQ(totals(s).logical, t0.logical + 10);
	CHECK_EQ(ns_unlink(s, root, "sa"), 0);
	CHECK_EQ(totals(s).logical, t0.logical);
}

static int in_group_42(void *arg, gid_t g)
{
	(void)arg;
	return g == 42;
}

/* The set-ID rule of ns_kill.c, case by case, then applied to a file. */
static void test_kill_suidgid(struct store *s)
{
	static const struct {
		mode_t mode;
		gid_t file_gid;
		uid_t uid;
		gid_t gid;
		mode_t kill;
	} cases[] = {
		{ S_IFREG | 06755, 5, 1000, 5, S_ISUID | S_ISGID }, /* group-executable */
		{ S_IFREG | 02745, 5, 1000, 5, 0 },     /* no group x, own group */
		{ S_IFREG | 02745, 42, 1000, 5, 0 },    /* in it by a supplementary group */
		{ S_IFREG | 02745, 7, 1000, 5, S_ISGID }, /* not a member */
		{ S_IFREG | 02745, 7, 0, 0, 0 },        /* root is privileged */
		{ S_IFREG | 06755, 7, 0, 0, S_ISUID | S_ISGID },
		{ S_IFREG | 04700, 7, 1000, 5, S_ISUID },
		{ S_IFREG | 00777, 7, 1000, 5, 0 },
		{ S_IFDIR | 06777, 7, 1000, 5, 0 },     /* directories keep theirs */
	};
	struct inode *root = inode_root(s), *in;
	struct ns_caller who = { 1000, 5, in_group_42, NULL };
	struct stat st, want;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ns_caller c = { cases[i].uid, cases[i].gid, in_group_42, NULL };

		memset(&st, 0, sizeof(st));
		st.st_mode = cases[i].mode;
		st.st_gid = cases[i].file_gid;
		CHECK_EQ(ns_kill_bits(&st, &c), cases[i].kill);
	}
	in = make_file(s, root, "kill", 100, 'k');
	if (!in)
		return;
	memset(&want, 0, sizeof(want));
	want.st_mode = 06755;
	CHECK_EQ(ns_setattr(s, in, NULL, &want, NS_SET_MODE, &st), 0);
	CHECK_EQ(ns_kill_suidgid(s, in, NULL, &who, &st), 1);
	CHECK_EQ(st.st_mode & 07777, 0755);
	CHECK_EQ(ns_getattr(s, in, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0755);
	CHECK_EQ(ns_kill_suidgid(s, in, NULL, &who, NULL), 0); /* nothing left */
	CHECK_EQ(ns_unlink(s, root, "kill"), 0);
}

static void test_listing(struct store *s)
{
	struct inode *root = inode_root(s), *d, *in;
	struct listing l;
	struct stat st;

	d = make_dir(s, root, "ls");
	make_file(s, d, "one", 1, '1');
	make_dir(s, d, "two");
	CHECK_EQ(ns_symlink(s, d, "three", "one", UID, GID, &in, &st), 0);
	CHECK_EQ(ns_mknod(s, d, "four", S_IFIFO | 0600, 0, UID, GID, &in, &st), 0);
	CHECK(S_ISFIFO(st.st_mode));
	list_dir(s, d, &l);
	/* Exactly the user's names: no value file, no side file. */
	CHECK_EQ(l.n, 4);
	CHECK(listed(&l, "one") && listed(&l, "two") && listed(&l, "three") &&
	      listed(&l, "four"));
	CHECK_EQ(ns_unlink(s, d, "one"), 0);
	CHECK_EQ(ns_unlink(s, d, "three"), 0);
	CHECK_EQ(ns_unlink(s, d, "four"), 0);
	CHECK_EQ(ns_rmdir(s, d, "two"), 0);
	list_dir(s, d, &l);
	CHECK_EQ(l.n, 0);
	CHECK_EQ(ns_rmdir(s, root, "ls"), 0);
}

static void run_all(int plaintext_names)
{
	struct store *s = memstore_open(plaintext_names, CODEC_NONE);
	struct stats_totals t;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(s->names == NULL, plaintext_names);
	test_lookup_create(s);
	test_mkdir_rmdir(s);
	test_symlink(s);
	test_links(s);
	test_unlink_open(s);
	test_rename(s);
	test_long_names(s);
	test_setattr(s);
	test_kill_suidgid(s);
	test_listing(s);
	/* Everything made was removed again. */
	t = totals(s);
	CHECK_EQ(t.files, 0);
	CHECK_EQ(t.dirs, 0);
	CHECK_EQ(t.logical, 0);
	CHECK_EQ(t.stored, 0);
	store_close(s);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	run_all(0);
	run_all(1);
	return unit_done();
}
