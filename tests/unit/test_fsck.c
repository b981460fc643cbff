/* test_fsck.c - fsck (fsck_run) on a store in the memory backend, for
 * packed small files (pack.h, docs/FSCK.md): packed files are made by hand
 * (an empty backing file, the packed size hint, a record appended to the
 * pack of its directory), then checked and repaired: a clean store has
 * nothing to report; a record that does not open is a bad block, and
 * --repair makes the file a hole; bytes a crash left in the backing file
 * are reported and truncated with the file's times kept; pack bytes that
 * no file references are counted as dead; a pack's directory value whose
 * MAC is damaged is rewritten without losing the records. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "fh2rec.h"
#include "fsck.h"
#include "memstore.h"
#include "names.h"
#include "ofile.h"
#include "pack.h"
#include "pathmap.h"
#include "testkeys.h"
#include "unit.h"

#define HINT "user.ragstore.h"
#define BS 4096

/* What one fsck run reported. */
struct seen {
	char text[8192];
	int lines;
};

static void on_problem(void *arg, const struct fsck_problem *p)
{
	struct seen *v = arg;
	size_t len = strlen(v->text);

	snprintf(v->text + len, sizeof(v->text) - len, "%s: %s [%d]\n", p->path, p->what,
		 p->state);
	v->lines++;
}

static int run(struct store *s, int repair, struct fsck_summary *sum, struct seen *v)
{
	struct fsck_opts o = { .repair = repair, .report = on_problem, .arg = v };
	struct stat st;
	int r;

	/* As a fresh process would: the root's value is read from its pack,
	 * not taken from what the store cached when it was made. */
	if (backend_fstat(s->be, s->rootfd, &st) == 0)
		pathmap_forget(s, st.st_dev, st.st_ino);
	memset(v, 0, sizeof(*v));
	r = fsck_run(s, &o, sum);
	if (v->lines)
		fprintf(stderr, "%s", v->text);
	return r;
}

static uint64_t diriv_len(struct store *s)
{
	struct stat st;

	if (backend_fstatat(s->be, s->rootfd, NAME_DIRIV_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return (uint64_t)st.st_size;
}

static int diriv_rw(struct store *s)
{
	return backend_openat(s->be, s->rootfd, NAME_DIRIV_FILE, O_RDWR | O_CLOEXEC, 0);
}

/* Seal len bytes of data as the record at the end of the root's pack
 * into *e (its offset set).  Returns the record's length or -1. */
static ssize_t append_record(struct store *s, const uint8_t *data, uint32_t len,
			     struct fh2_ent *e)
{
	static uint8_t rec[BS + 256];
	struct codec_spec spec = { .algo = CODEC_ZSTD, .level = 3 };
	uint8_t iv[NAME_IV_LEN], bind[FH_ID_LEN];
	uint64_t off = diriv_len(s);
	ssize_t n;
	int fd;

	if (pathmap_dir_iv(s, s->rootfd, ".", iv) < 0 || off < PACK_START)
		return -1;
	pack_binder(iv, off, bind);
	memset(e, 0, sizeof(*e));
	n = fh2rec_seal(s->key, bind, &spec, 0, data, len, BS, rec, e);
	if (n <= 0)
		return -1;
	e->off = off;
	fd = diriv_rw(s);
	if (fd < 0)
		return -1;
	if (backend_pwrite_full(s->be, fd, rec, (size_t)n, (off_t)off) < 0)
		n = -1;
	backend_close(s->be, fd);
	return n;
}

/* The backing name of name in the root, into leaf. */
static void leaf_of(struct store *s, const char *name, char *leaf)
{
	uint8_t iv[NAME_IV_LEN];
	struct bname bn;

	CHECK_EQ(pathmap_dir_iv(s, s->rootfd, ".", iv), 0);
	CHECK_EQ(pathmap_encode(s, iv, name, &bn), 0);
	CHECK(!bn.is_long);
	memcpy(leaf, bn.leaf, sizeof(bn.leaf));
}

/* A packed file name in the root, of len bytes: with a record of data
 * (data NULL: none, it reads as len zeros).  Returns its reference. */
static struct pack_ref make_packed(struct store *s, const char *name, const uint8_t *data,
				   uint32_t len)
{
	char leaf[NAME_ENC_CAP];
	uint8_t hint[PACK_HINT_LEN];
	struct pack_ref ref;
	int fd;

	memset(&ref, 0, sizeof(ref));
	leaf_of(s, name, leaf);
	fd = backend_openat(s->be, s->rootfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		backend_close(s->be, fd);
	ref.size = len;
	ref.gen = 3;
	ref.block_size = BS;
	ref.codec.algo = CODEC_ZSTD;
	ref.codec.level = 3;
	ref.main_algo = CODEC_NONE;
	if (data) {
		CHECK(append_record(s, data, len, &ref.e) > 0);
		ref.has_rec = 1;
		ref.main_algo = ref.e.algo == FH2_ALGO_CHUNKED ? CODEC_NONE : ref.e.algo;
	}
	pack_ref_encode(&ref, hint);
	CHECK_EQ(backend_setxattrat(s->be, s->rootfd, leaf, HINT, hint, sizeof(hint), 0), 0);
	return ref;
}

static int hint_of(struct store *s, const char *name, struct pack_ref *ref)
{
	char leaf[NAME_ENC_CAP];
	uint8_t v[64];
	ssize_t n;

	leaf_of(s, name, leaf);
	n = backend_getxattrat(s->be, s->rootfd, leaf, HINT, v, sizeof(v));
	return n < 0 ? (int)n : pack_ref_decode(v, (size_t)n, ref);
}

static void flip_pack_byte(struct store *s, uint64_t off)
{
	uint8_t b;
	int fd = diriv_rw(s);

	CHECK(fd >= 0);
	CHECK_EQ(backend_pread_full(s->be, fd, &b, 1, (off_t)off), 1);
	b ^= 0x40;
	CHECK_EQ(backend_pwrite_full(s->be, fd, &b, 1, (off_t)off), 0);
	backend_close(s->be, fd);
}

/* A store with an ordinary (v2) file beside the packed ones, so that
 * what fsck says about packs is not all it checks. */
static struct store *open_store(void)
{
	struct store *s = memstore_open(0, CODEC_ZSTD);
	struct ofile *f;

	if (!s)
		return NULL;
	f = memstore_create(s, "plain.txt");
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ(ofile_write(s, f, "an ordinary file", 16, 0), 16);
		CHECK_EQ(ofile_release(s, f), 0);
	}
	return s;
}

static void test_clean(void)
{
	struct store *s = open_store();
	struct fsck_summary sum;
	struct seen v;
	uint8_t data[3000];

	CHECK(s != NULL);
	if (!s)
		return;
	fill_text(data, sizeof(data));
	make_packed(s, "small.txt", data, sizeof(data));
	make_packed(s, "zeros", NULL, 100);
	make_packed(s, "empty", NULL, 0);
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(v.lines, 0);
	CHECK_EQ(sum.problems, 0);
	CHECK_EQ(sum.notes, 0);
	CHECK_EQ(sum.files, 4);
	CHECK_EQ(sum.blocks_bad, 0);
	CHECK(sum.blocks >= 2); /* the ordinary file's and the packed record */
	CHECK_EQ(sum.packs, 1);
	CHECK_EQ(sum.pack_dead, 0);
	CHECK_EQ(sum.pack_bytes, diriv_len(s) - PACK_START);
	/* --repair of a clean store changes nothing. */
	CHECK_EQ(run(s, 1, &sum, &v), 0);
	CHECK_EQ(sum.problems, 0);
	store_close(s);
}

static void test_bad_record(void)
{
	struct store *s = open_store();
	struct fsck_summary sum;
	struct pack_ref ref, got;
	struct seen v;
	uint8_t data[2000];
	uint64_t blocks;

	CHECK(s != NULL);
	if (!s)
		return;
	fill_text(data, sizeof(data));
	make_packed(s, "keep.txt", data, 500);
	ref = make_packed(s, "bad.txt", data, sizeof(data));
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 0);
	blocks = sum.blocks;
	flip_pack_byte(s, ref.e.off + fh2_rec_len(ref.e.stored) / 2);

	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 1);
	CHECK_EQ(sum.fixable, 1);
	CHECK_EQ(sum.blocks, blocks);
	CHECK_EQ(sum.blocks_bad, 1);
	CHECK(strstr(v.text, "/bad.txt: 1 block(s) of 4096 bytes missing or do not "
		     "authenticate: 0") != NULL);
	CHECK(strstr(v.text, "does not authenticate; reads there fail with EIO") != NULL);
	CHECK_EQ(hint_of(s, "bad.txt", &got), 0);
	CHECK_EQ(got.has_rec, 1);

	CHECK_EQ(run(s, 1, &sum, &v), 0);
	CHECK_EQ(sum.problems, 1);
	CHECK_EQ(sum.fixed, 1);
	CHECK_EQ(sum.left, 0);
	CHECK(strstr(v.text, "made holes: they now read as zeros") != NULL);
	/* The same file without its record: it reads as zeros. */
	CHECK_EQ(hint_of(s, "bad.txt", &got), 0);
	CHECK_EQ(got.has_rec, 0);
	CHECK_EQ(got.size, sizeof(data));
	CHECK_EQ(got.gen, ref.gen);
	CHECK_EQ(got.flags, ref.flags);
	CHECK_EQ(got.codec.algo, ref.codec.algo);
	CHECK_EQ(got.codec.level, ref.codec.level);
	CHECK_EQ(got.block_size, BS);
	CHECK_EQ(got.main_algo, CODEC_NONE);
	/* Clean now; its old record is dead space. */
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 0);
	CHECK_EQ(sum.blocks_bad, 0);
	CHECK_EQ(sum.pack_dead, fh2_rec_len(ref.e.stored));
	CHECK_EQ(sum.notes, 1);
	store_close(s);
}

static void test_cut_short(void)
{
	struct store *s = open_store();
	struct fsck_summary sum;
	struct pack_ref ref, got;
	struct seen v;
	uint8_t data[1000];
	int fd;

	CHECK(s != NULL);
	if (!s)
		return;
	fill_text(data, sizeof(data));
	ref = make_packed(s, "cut.txt", data, sizeof(data));
	fd = diriv_rw(s);
	CHECK(fd >= 0);
	CHECK_EQ(backend_ftruncate(s->be, fd, (off_t)ref.e.off + 10), 0);
	backend_close(s->be, fd);
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 1);
	CHECK_EQ(sum.blocks_bad, 1);
	CHECK(strstr(v.text, "is cut short") != NULL);
	CHECK_EQ(run(s, 1, &sum, &v), 0);
	CHECK_EQ(sum.fixed, 1);
	CHECK_EQ(hint_of(s, "cut.txt", &got), 0);
	CHECK_EQ(got.has_rec, 0);
	/* The 10 bytes left of the record are dead. */
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 0);
	CHECK_EQ(sum.pack_dead, 10);
	store_close(s);
}

static void test_leftovers(void)
{
	struct store *s = open_store();
	struct fsck_summary sum;
	struct timespec tv[2] = { { 1000000, 5 }, { 2000000, 7 } };
	char leaf[NAME_ENC_CAP];
	uint8_t data[800], junk[5000];
	struct stat st;
	struct seen v;
	int fd;

	CHECK(s != NULL);
	if (!s)
		return;
	fill_text(data, sizeof(data));
	memset(junk, 0x5a, sizeof(junk));
	make_packed(s, "left.txt", data, sizeof(data));
	leaf_of(s, "left.txt", leaf);
	fd = backend_openat(s->be, s->rootfd, leaf, O_WRONLY | O_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK_EQ(backend_pwrite_full(s->be, fd, junk, sizeof(junk), 0), 0);
	CHECK_EQ(backend_futimens(s->be, fd, tv), 0);
	backend_close(s->be, fd);

	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 1);
	CHECK_EQ(sum.fixable, 1);
	CHECK(strstr(v.text, "/left.txt: leftover bytes after packing") != NULL);
	CHECK(strstr(v.text, "5000 bytes") != NULL);
	CHECK_EQ(backend_fstatat(s->be, s->rootfd, leaf, &st, AT_SYMLINK_NOFOLLOW), 0);
	CHECK_EQ(st.st_size, sizeof(junk));

	CHECK_EQ(run(s, 1, &sum, &v), 0);
	CHECK_EQ(sum.problems, 1);
	CHECK_EQ(sum.fixed, 1);
	CHECK_EQ(backend_fstatat(s->be, s->rootfd, leaf, &st, AT_SYMLINK_NOFOLLOW), 0);
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(st.st_mtim.tv_sec, tv[1].tv_sec);
	CHECK_EQ(st.st_mtim.tv_nsec, tv[1].tv_nsec);
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 0);
	store_close(s);
}

static void test_dead(void)
{
	struct store *s = open_store();
	struct fsck_summary sum;
	struct fh2_ent e;
	struct seen v;
	uint8_t data[3000];
	ssize_t d1, d2;

	CHECK(s != NULL);
	if (!s)
		return;
	fill_text(data, sizeof(data));
	/* Records of files since gone, around one that is referenced. */
	d1 = append_record(s, data, 1234, &e);
	make_packed(s, "live.txt", data, 2000);
	crypto_random(data, sizeof(data));
	d2 = append_record(s, data, 3000, &e);
	CHECK(d1 > 0 && d2 > 0);
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 0);
	CHECK_EQ(sum.left + sum.fixable, 0);
	CHECK_EQ(sum.notes, 1);
	CHECK_EQ(sum.packs, 1);
	CHECK_EQ(sum.pack_dead, d1 + d2);
	CHECK_EQ(sum.pack_bytes, diriv_len(s) - PACK_START);
	CHECK(strstr(v.text, "are dead") != NULL);
	/* Two files that reference one record are damage. */
	{
		char leaf[NAME_ENC_CAP], leaf2[NAME_ENC_CAP];
		uint8_t hint[64];
		ssize_t n;
		int fd;

		leaf_of(s, "live.txt", leaf);
		leaf_of(s, "twin.txt", leaf2);
		n = backend_getxattrat(s->be, s->rootfd, leaf, HINT, hint, sizeof(hint));
		CHECK_EQ(n, PACK_HINT_LEN);
		fd = backend_openat(s->be, s->rootfd, leaf2, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		backend_close(s->be, fd);
		CHECK_EQ(backend_setxattrat(s->be, s->rootfd, leaf2, HINT, hint, PACK_HINT_LEN, 0),
			 0);
		CHECK_EQ(run(s, 0, &sum, &v), 0);
		CHECK_EQ(sum.problems, 1);
		CHECK_EQ(sum.left, 1);
		CHECK(strstr(v.text, "overlaps the record of") != NULL);
		CHECK_EQ(sum.pack_dead, d1 + d2);
	}
	store_close(s);
}

/* A pack whose directory value has a damaged MAC: the value is proven by
 * the names, and the rewrite keeps the records after it. */
static void test_diriv_mac(void)
{
	struct store *s = open_store();
	struct fsck_summary sum;
	struct seen v;
	uint8_t data[1500];
	uint64_t len;

	CHECK(s != NULL);
	if (!s)
		return;
	fill_text(data, sizeof(data));
	make_packed(s, "a.txt", data, sizeof(data));
	len = diriv_len(s);
	CHECK(len > PACK_START);
	flip_pack_byte(s, NAME_IV_LEN + 3);
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.fixable, 1);
	CHECK(strstr(v.text, "directory value file .diriv damaged") != NULL);
	CHECK_EQ(run(s, 1, &sum, &v), 0);
	CHECK_EQ(sum.fixed, 1);
	CHECK_EQ(diriv_len(s), len);
	CHECK_EQ(run(s, 0, &sum, &v), 0);
	CHECK_EQ(sum.problems, 0);
	CHECK_EQ(sum.blocks_bad, 0);
	CHECK_EQ(sum.pack_dead, 0);
	store_close(s);
}

/* A packed file whose backing name does not decode goes to /lost+found,
 * another directory, whose pack does not hold its record: it is unpacked
 * first and keeps its content. */
static void test_lost_found(void)
{
	static const char bad[] = "Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eA";
	struct store *s = open_store();
	struct fsck_summary sum;
	char leaf[NAME_ENC_CAP];
	uint8_t data[700], v[64];
	struct seen v2;
	struct ofile *f;
	struct stat st;
	char got[700];

	CHECK(s != NULL);
	if (!s)
		return;
	fill_text(data, sizeof(data));
	make_packed(s, "moved.txt", data, sizeof(data));
	leaf_of(s, "moved.txt", leaf);
	CHECK_EQ(backend_renameat2(s->be, s->rootfd, leaf, s->rootfd, bad, 0), 0);
	CHECK_EQ(backend_fstatat(s->be, s->rootfd, bad, &st, AT_SYMLINK_NOFOLLOW), 0);
	CHECK_EQ(run(s, 0, &sum, &v2), 0);
	CHECK_EQ(sum.fixable, 1);
	CHECK_EQ(sum.blocks_bad, 0);
	CHECK_EQ(run(s, 1, &sum, &v2), 0);
	CHECK_EQ(sum.fixed, 1);
	CHECK(strstr(v2.text, "moved to /lost+found/#") != NULL);
	CHECK_EQ(run(s, 0, &sum, &v2), 0);
	CHECK_EQ(sum.problems, 0);
	CHECK_EQ(sum.blocks_bad, 0);
	/* In /lost+found with its own content again, no longer packed. */
	{
		char name[64], path[128];
		struct bname bn;
		uint8_t iv[NAME_IV_LEN];
		int dfd;

		snprintf(name, sizeof(name), "#%llu", (unsigned long long)st.st_ino);
		snprintf(path, sizeof(path), "lost+found");
		CHECK_EQ(pathmap_dir_iv(s, s->rootfd, ".", iv), 0);
		CHECK_EQ(pathmap_encode(s, iv, path, &bn), 0);
		dfd = backend_openat(s->be, s->rootfd, bn.leaf, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		CHECK(dfd >= 0);
		CHECK_EQ(pathmap_dir_iv(s, dfd, ".", iv), 0);
		CHECK_EQ(pathmap_encode(s, iv, name, &bn), 0);
		CHECK(backend_getxattrat(s->be, dfd, bn.leaf, HINT, v, sizeof(v)) != PACK_HINT_LEN);
		CHECK_EQ(ofile_open(s, dfd, bn.leaf, &f), 0);
		if (f) {
			CHECK_EQ(ofile_read(s, f, got, sizeof(got), 0), sizeof(got));
			CHECK(memcmp(got, data, sizeof(got)) == 0);
			ofile_release(s, f);
		}
		backend_close(s->be, dfd);
	}
	store_close(s);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	test_clean();
	test_bad_record();
	test_cut_short();
	test_leftovers();
	test_dead();
	test_diriv_mac();
	test_lost_found();
	return unit_done();
}
