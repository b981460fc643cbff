/* handle.c - the list of open regular-file handles (see handle.h). */
#include "handle.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "ofile.h"
#include "shared.h"

static pthread_mutex_t handles_mu = PTHREAD_MUTEX_INITIALIZER; /* a leaf lock */
static struct fs_handle handles = { NULL, -1, &handles, &handles };

struct fs_handle *handle_new(struct ofile *f)
{
	struct fs_handle *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	h->f = f;
	h->lockfd = -1;
	pthread_mutex_lock(&handles_mu);
	h->next = handles.next;
	h->prev = &handles;
	handles.next->prev = h;
	handles.next = h;
	pthread_mutex_unlock(&handles_mu);
	return h;
}

struct ofile *handle_drop(struct store *s, struct fs_handle *h)
{
	struct ofile *f = h->f;

	pthread_mutex_lock(&handles_mu);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&handles_mu);
	shared_lockfd_close(s, h->lockfd);
	free(h);
	return f;
}

struct fs_handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

void fs_release_open_files(struct store *s)
{
	pthread_mutex_lock(&handles_mu);
	while (handles.next != &handles) {
		struct fs_handle *h = handles.next;

		pthread_mutex_unlock(&handles_mu);
		ofile_release(s, handle_drop(s, h));
		pthread_mutex_lock(&handles_mu);
	}
	pthread_mutex_unlock(&handles_mu);
}
