/* masterkey.c - the master key outside the store: see masterkey.h and
 * docs/RECOVERY.md. */
#include "masterkey.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util.h"

/* A key file is under 1 KiB; anything much larger is not one. */
#define MASTERKEY_FILE_MAX 4096

struct keyfile *masterkey_alloc(void)
{
	struct keyfile *k = sodium_malloc(sizeof(*k));

	if (!k)
		fprintf(stderr, "ragstore: out of memory for key material\n");
	else
		sodium_memzero(k, sizeof(*k));
	return k;
}

void masterkey_free(struct keyfile *k)
{
	sodium_free(k); /* wipes first; NULL is a no-op */
}

int masterkey_relock(struct keyfile *k)
{
	if (k && sodium_mlock(k, sizeof(*k)) != 0)
		return -errno;
	return 0;
}

int masterkey_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		fprintf(stderr, "ragstore: --masterkey-file %s: %s\n", path,
			errno == EEXIST ? "exists already; refusing to overwrite it"
					: strerror(errno));
		return -1;
	}
	/* The umask may have taken bits away, never added: make it exact. */
	if (fchmod(fd, 0600) < 0) {
		fprintf(stderr, "ragstore: --masterkey-file %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int masterkey_write(int fd, const char *path, const struct keyfile *k)
{
	char *text = sodium_malloc(KEYFILE_TEXT_MAX);
	int n = text ? keyfile_encode(k, text, KEYFILE_TEXT_MAX) : -ENOMEM;
	int r = n < 0 ? n : util_pwrite_full(fd, text, (size_t)n, 0);

	sodium_free(text);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "ragstore: cannot write the master key to %s: %s\n", path,
			strerror(-r));
		unlink(path);
		return -1;
	}
	return 0;
}

void masterkey_print(FILE *out, const struct keyfile *k)
{
	char *text = sodium_malloc(KEYFILE_TEXT_MAX);

	if (!text || keyfile_encode(k, text, KEYFILE_TEXT_MAX) < 0) {
		fprintf(stderr, "ragstore: cannot show the master key\n");
		sodium_free(text);
		return;
	}
	fprintf(out, "\n"
		"The master key of this store is shown below ONCE; no command shows it again.\n"
		"Write it down or print it, and keep it offline, away from the store.  With\n"
		"it (typed into a file F, lines as shown) 'ragstore passwd --masterkey-file F\n"
		"BACKING' sets a new passphrase, also when ragstore.conf is lost or damaged\n"
		"(docs/RECOVERY.md).  WARNING: whoever has it can read every file.\n"
		"\n%s\n", text);
	fflush(out);
	sodium_free(text);
}

struct keyfile *masterkey_read(const char *path)
{
	char *text = sodium_malloc(MASTERKEY_FILE_MAX + 1);
	struct keyfile *k = NULL;
	char err[256];
	struct stat st;
	ssize_t n = -ENOMEM;
	int fd = -1;

	if (!text)
		goto fail;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		n = -errno;
		goto fail;
	}
	n = S_ISREG(st.st_mode) ? util_pread_full(fd, text, MASTERKEY_FILE_MAX + 1, 0)
				: -EINVAL;
	if (n > MASTERKEY_FILE_MAX)
		n = -EFBIG;
	if (n < 0)
		goto fail;
	k = masterkey_alloc();
	if (!k)
		goto out;
	if (keyfile_decode(text, (size_t)n, k, err, sizeof(err)) < 0) {
		fprintf(stderr, "ragstore: master key file %s: %s\n", path, err);
		masterkey_free(k);
		k = NULL;
	} else if (st.st_mode & 077) {
		fprintf(stderr, "ragstore: warning: master key file %s can be read by other "
			"users (chmod 600 it)\n", path);
	}
	goto out;
fail:
	fprintf(stderr, "ragstore: master key file %s: %s\n", path,
		n == -EINVAL ? "not a regular file" : n == -EFBIG ? "too large to be a key file"
		: strerror((int)-n));
out:
	if (fd >= 0)
		close(fd);
	sodium_free(text);
	return k;
}
