/* ofile_lock.c - the content lock of an open file, with shared mode's
 * backing-file lock joined to it (see ofile_int.h, shared.h). */
#include "ofile_int.h"

#include "shared.h"

int ofile_lock(struct store *s, struct ofile *f, int excl)
{
	if (!s->shared) {
		if (excl)
			pthread_rwlock_wrlock(&f->lock);
		else
			pthread_rwlock_rdlock(&f->lock);
		return 0;
	}
	/* One descriptor, so one lock owner for the whole daemon: readers
	 * of the same file take turns, or the first to finish would drop
	 * the backing file's lock under the others. */
	pthread_rwlock_wrlock(&f->lock);
	return shared_enter(s, f, excl);
}

void ofile_unlock(struct store *s, struct ofile *f)
{
	if (s->shared)
		shared_leave(s, f);
	pthread_rwlock_unlock(&f->lock);
}

uint64_t ofile_size_now(struct store *s, struct ofile *f)
{
	if (s->shared) {
		ofile_lock(s, f, 0);
		ofile_unlock(s, f);
	}
	return ofile_size(f);
}
