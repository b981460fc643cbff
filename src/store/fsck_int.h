/* fsck_int.h - what the parts of fsck share (not for use outside
 * src/store/fsck*.c): the state of one run and the reporting of problems.
 *
 *   fsck.c         the run, the entry callbacks, BACKING's top, the totals
 *   fsck_names.c   directory values, names, internal files, /lost+found
 *   fsck_file.c    regular files of format v1: header slots, size hint,
 *                  blocks; what the v2 check shares
 *   fsck_file2.c   regular files of format v2 (fh2.h): header slots, index,
 *                  length, records; repairs through the store layer
 *   fsck_pack.c    packed small files (pack.h) and their directories'
 *                  packs: records, leftovers, dead space
 *   fsck_xattrs.c  BACKING/xattrs: blobs, their owners, orphans */
#ifndef RAGSTORE_FSCK_INT_H
#define RAGSTORE_FSCK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fileheader.h"
#include "fsck.h"
#include "names.h"
#include "walk.h"
#include "xattrs.h"

struct blob {
	uint8_t id[XATTRS_ID_LEN];
	int owned;            /* an object of the tree has this id */
};

/* An entry to move into /lost+found once its directory is done. */
struct move {
	int dfd;              /* the directory (open until its dir_done) */
	char *bname, *path;
	const char *cause;    /* why the name does not decode (static) */
	ino_t ino;
};

/* docs/FORMAT.md "Size hint": the attribute every regular backing file
 * carries (fsck_file.c reads the v1 and v2 forms, fsck_pack.c the packed
 * one). */
#define FSCK_HINT_XATTR "user.ragstore.h"

struct fsck_pext;

struct fsck {
	struct store *s;
	const struct fsck_opts *o;
	struct fsck_summary *sum;
	struct fsck_progress prog;
	struct blob *blobs;   /* sorted by id */
	size_t nblobs;
	int unknown_ids;      /* objects whose identity is unknown */
	int bad_dirivs;       /* directories a mount cannot list (their value
				 file is missing or damaged, and not repaired) */
	struct move *moves;
	size_t nmoves, capmoves;
	int lf_fd;            /* /lost+found in the user's tree, or -1 */
	uint8_t lf_iv[NAME_IV_LEN];
	/* Pack records referenced by packed files of the directories being
	 * walked (fsck_pack.c), until their directory is done. */
	struct fsck_pext *pexts;
	size_t npexts, cappexts;
	/* Block buffers, for the largest block size seen so far. */
	size_t bufcap;
	uint8_t *rec, *plain, *scratch;
};

/* fsck.c: report one problem (counted in k->sum by its state). */
void fsck_problem(struct fsck *k, const char *path, int state, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A repairable problem: r is the result of the repair (0 or -errno) under
 * --repair, and is ignored otherwise (FSCK_FIXABLE).  Returns 1 if it was
 * repaired. */
int fsck_repairable(struct fsck *k, const char *path, int r, const char *what);
/* Hand k->prog to the progress callback, if any. */
void fsck_progress(struct fsck *k);

/* fsck_xattrs.c.  List BACKING/xattrs (before the walk): 0 or -errno. */
int fsck_xattrs_list(struct fsck *k);
/* Object id (XATTRS_ID_LEN bytes) exists at path (NULL: owner of unknown
 * path, its blob is not checked).  Returns 1 if it has a blob. */
int fsck_xattrs_own(struct fsck *k, const uint8_t *id, const char *path);
/* The AEAD tag of id's blob as it lies on disk (the last CRYPTO_TAG_LEN
 * bytes; zeros when there is none), which a v2 header binds.  1 if the
 * blob exists, 0 if not, -errno. */
int fsck_xattrs_tag(struct fsck *k, const uint8_t *id, uint8_t *tag);
/* 1 if id has a blob and it opens. */
int fsck_xattrs_opens(struct fsck *k, const uint8_t *id);
/* The ids the files kept in BACKING/lost+found claim own their blobs. */
void fsck_xattrs_claims(struct fsck *k);
/* After the walk: report (and with repair remove) blobs nobody owns. */
void fsck_xattrs_orphans(struct fsck *k);

/* fsck_names.c: walk_ops.dir_iv and walk_ops.dir_done. */
int fsck_names_dir_iv(void *arg, int dfd, const char *path, uint8_t *iv);
int fsck_names_dir_done(void *arg, int dfd, const char *path);
/* One of the store's own files in a directory. */
void fsck_names_internal(struct fsck *k, const struct walk_entry *e);
/* Why e's name does not decode (a static string). */
const char *fsck_names_cause(struct fsck *k, const struct walk_entry *e);
/* Queue e (a bad name) for /lost+found.  0 or -ENOMEM. */
int fsck_names_queue(struct fsck *k, const struct walk_entry *e);

/* fsck_file.c: check one regular file (each inode once). */
void fsck_file_check(struct fsck *k, const struct walk_entry *e);
/* k's block buffers (rec, plain, scratch) for block size bs.  0 or -ENOMEM. */
int fsck_bufs_fit(struct fsck *k, uint32_t bs);
/* Block numbers for one problem line: "3, 7-9, ..." (at most
 * FSCK_RANGES_SHOWN ranges named).  Zero it, add blocks in increasing
 * order, flush once before using text. */
#define FSCK_RANGES_SHOWN 8
struct fsck_ranges {
	char text[256];
	uint64_t count, start, end; /* the open range [start, end) */
	int shown;
};
void fsck_ranges_add(struct fsck_ranges *g, uint64_t b);
void fsck_ranges_flush(struct fsck_ranges *g);
/* The size hint of e against its current header h (v2: a v2 file). */
void fsck_hint_check(struct fsck *k, const struct walk_entry *e, const struct file_header *h,
		     int v2);
/* Set the size hint of e to h (with_gen: the form that carries h->gen).
 * 0 or -errno. */
int fsck_hint_write(struct fsck *k, const struct walk_entry *e, const struct file_header *h,
		    int with_gen);
/* 1 if e's hint has the form that carries the generation. */
int fsck_hint_has_gen(struct fsck *k, const struct walk_entry *e);
/* The header generation a v2 file's size hint names, 0 if none. */
uint64_t fsck_hint_gen(struct fsck *k, const struct walk_entry *e);
/* A file that cannot be opened (cause: what is destroyed).  The file ids
 * the header slots slots[0..nslots) claim (unverified) keep its attributes
 * from being taken for orphans; repair moves it (if it has one name) to
 * BACKING/lost+found. */
void fsck_file_lost(struct fsck *k, const struct walk_entry *e, const uint8_t *const *slots,
		    int nslots, const char *cause);

/* fsck_pack.c.  A regular file whose size hint has the packed form: check
 * it (fd: its backing file, read-only) and return 1; 0 if its hint is not
 * packed (a v1 or v2 file, checked as such). */
int fsck_pack_file(struct fsck *k, const struct walk_entry *e, int fd);
/* Once directory dfd is done: count its pack's dead bytes into k->sum and
 * report records two files reference. */
void fsck_pack_dir_done(struct fsck *k, int dfd);
/* After the walk: the note on dead pack bytes; frees what is left. */
void fsck_pack_done(struct fsck *k);

/* fsck_file2.c: check a v2 file; fd is open read-only, area holds its first
 * FH_AREA bytes (zero past its end). */
void fsck_file2_check(struct fsck *k, const struct walk_entry *e, int fd, const uint8_t *area);

#endif
