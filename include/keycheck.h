/* keycheck.h - does a master key belong to the store in BACKING?  Asked
 * when the descriptor, whose MAC would say so, is missing or damaged: the
 * evidence is what the key authenticates in the tree itself. */
#ifndef RAGSTORE_KEYCHECK_H
#define RAGSTORE_KEYCHECK_H

#include "store.h"

/* Look for evidence in the attached store s (opened with the key under
 * test): with encrypted names, the root directory's value file and any name
 * authenticate under it; with plaintext names, the header of any regular
 * file.  The walk stops at the first proof, and gives up after a few
 * failures.  Reads only; changes nothing (a header that fails to open is
 * not repaired).  Returns 1 when the key is proven to be the store's, 0 when
 * BACKING holds nothing to tell (a store with plaintext names and no file),
 * or -EKEYREJECTED when what the key should authenticate does not. */
int keycheck_run(struct store *s);

#endif
