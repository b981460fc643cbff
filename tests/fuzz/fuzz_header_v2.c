/* fuzz_header_v2.c - the header slot and the index blob of a format v2
 * backing file (fh2.h).  The input is one FH2_SLOT-byte slot (zero padded)
 * followed by an index blob.
 *
 * Raw: fh2_open and fh2_peek on the slot, fh2_ix_open on the blob.
 * Sealed: the slot gets the magic and version, and, for a file of more than
 * FH2_INLINE_ENTS entries, the bytes after it become the plaintext of an
 * index blob sealed with the test key (its length and tag written into the
 * slot); then the slot is sealed.  The checks behind both MACs (entry
 * order, bounds, lengths) see the fuzzer's bytes; what opens must seal and
 * open again unchanged. */
#include "fuzz.h"

#include "fh2.h"

/* Slot and blob layout, docs/FORMAT.md: the AEAD covers the first
 * FH2_SLOT - 40 bytes; entries count at 56, index length at 72 and tag at
 * 80; the blob is nonce || entries, associated data "RSI2" || file id ||
 * u32 entries. */
#define BODY (FH2_SLOT - CRYPTO_NONCE_LEN - CRYPTO_TAG_LEN)
#define MAX_ENTS 2048

static uint8_t slot[FH2_SLOT], again[FH2_SLOT];
static uint8_t blob[CRYPTO_NONCE_LEN + MAX_ENTS * FH2_ENT_LEN + CRYPTO_TAG_LEN];
static uint8_t blob2[sizeof(blob)], scratch[sizeof(blob)];
static struct fh2_ent ents[MAX_ENTS], ents2[MAX_ENTS];

static void roundtrip(struct crypto_key *k, const struct file_header *h,
		      const struct fh2_extra *x, const struct fh2_ent *e)
{
	struct file_header h2;
	struct fh2_extra x2;
	uint32_t ninl;

	FZ_ASSERT(fh2_seal(k, h, x, e, again) == 0);
	FZ_ASSERT(fh2_open(k, again, &h2, &x2, ents2, &ninl) == 0);
	FZ_ASSERT(h2.gen == h->gen && h2.size == h->size && x2.nents == x->nents &&
		  x2.data_end == x->data_end && h2.flags == h->flags);
	if (ninl)
		FZ_ASSERT(memcmp(ents2, e, ninl * sizeof(*e)) == 0);
}

static void seal_blob(struct crypto_key *k, struct fz *f, uint32_t nents)
{
	uint8_t ad[4 + FH_ID_LEN + 4];
	size_t clen = (size_t)nents * FH2_ENT_LEN;

	fz_take(f, blob + CRYPTO_NONCE_LEN, clen);
	memcpy(ad, "RSI2", 4);
	memcpy(ad + 4, slot + 16, FH_ID_LEN);
	util_put_le32(ad + 4 + FH_ID_LEN, nents);
	FZ_ASSERT(crypto_seal(k, blob + CRYPTO_NONCE_LEN, blob + CRYPTO_NONCE_LEN, clen, ad,
			      sizeof(ad), blob) == 0);
	util_put_le32(slot + 72, (uint32_t)fh2_ix_len(nents));
	memcpy(slot + 80, blob + CRYPTO_NONCE_LEN + clen, CRYPTO_TAG_LEN);
}

static void open_all(struct crypto_key *k, size_t bloblen)
{
	struct file_header h;
	struct fh2_extra x;
	uint32_t ninl;

	if (fh2_open(k, slot, &h, &x, ents, &ninl) < 0)
		return;
	if (x.nents <= FH2_INLINE_ENTS) {
		FZ_ASSERT(ninl == x.nents);
		roundtrip(k, &h, &x, ents);
		return;
	}
	FZ_ASSERT(ninl == 0);
	if (x.nents > MAX_ENTS || fh2_ix_open(k, &h, &x, blob, bloblen, ents, scratch) < 0)
		return;
	FZ_ASSERT(fh2_ix_seal(k, h.file_id, ents, x.nents, blob2, x.ix_tag) == 0);
	FZ_ASSERT(fh2_ix_open(k, &h, &x, blob2, bloblen, ents2, scratch) == 0);
	FZ_ASSERT(memcmp(ents, ents2, x.nents * sizeof(ents[0])) == 0);
	roundtrip(k, &h, &x, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_key *k = fz_key();
	struct fz f = { data, size };
	uint64_t gen, sz;
	uint32_t nents;
	size_t bloblen;

	fz_take(&f, slot, sizeof(slot));
	(void)fh2_peek(slot, &gen, &sz);
	(void)fh2_is_v2(slot);
	/* Raw: the blob is the rest of the input as it is. */
	bloblen = f.n < sizeof(blob) ? f.n : sizeof(blob);
	memcpy(blob, f.p, bloblen);
	open_all(k, bloblen);

	nents = util_get_le32(slot + 56);
	bloblen = 0;
	if (nents > FH2_INLINE_ENTS) {
		if (nents > MAX_ENTS)
			nents = FH2_INLINE_ENTS + 1 + nents % (MAX_ENTS - FH2_INLINE_ENTS);
		util_put_le32(slot + 56, nents);
		seal_blob(k, &f, nents);
		bloblen = fh2_ix_len(nents);
	}
	fz_seal_slot(k, slot, FH2_VERSION, BODY);
	open_all(k, bloblen);
	return 0;
}
