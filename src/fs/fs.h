/* fs.h - the FUSE face of a store. */
#ifndef RAGSTORE_FS_H
#define RAGSTORE_FS_H

#define FUSE_USE_VERSION 314
#include <fuse.h>

#include "store.h"

/* The operations table; private_data of the fuse handle is a struct store. */
extern const struct fuse_operations fs_ops;

#endif
