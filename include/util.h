/* util.h - small helpers shared by every layer: full-length I/O, hex, logging.
 *
 * Error convention of the whole project: functions return 0 (or a length) on
 * success and -errno on failure.  Nothing here exits the process. */
#ifndef RAGSTORE_UTIL_H
#define RAGSTORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read up to len bytes at off, retrying on EINTR and short reads.  Returns the
 * number of bytes read (less than len only at end of file) or -errno. */
ssize_t util_pread_full(int fd, void *buf, size_t len, off_t off);

/* Write all len bytes at off.  Returns 0 or -errno (ENOSPC, EIO, ...). */
int util_pwrite_full(int fd, const void *buf, size_t len, off_t off);

/* Open rel (relative to dirfd) read-only without following a final
 * symlink and, where allowed, without touching its access time (O_NOATIME
 * needs ownership or CAP_FOWNER; refused, it opens without).  Returns the
 * descriptor or -errno. */
int util_open_noatime(int dirfd, const char *rel);

/* Lower-case hex of len bytes into out, which must hold 2*len+1 bytes. */
void util_hex_encode(const uint8_t *in, size_t len, char *out);

/* Parse exactly 2*len hex digits from str into out.  Returns 0 or -EINVAL. */
int util_hex_decode(const char *str, uint8_t *out, size_t len);

/* Little-endian fixed-width fields for on-disk structures. */
/* A size: decimal digits with an optional binary suffix K, M, G or T (also
 * KiB ... TiB; any case).  0, or -EINVAL for anything else or an overflow. */
int util_parse_size(const char *str, uint64_t *out);

static inline void util_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void util_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t util_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t util_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#endif
