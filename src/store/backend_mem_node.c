/* backend_mem_node.c - the nodes of the memory backend (files,
 * directories, symlinks, devices) and the entries of its directories: their
 * making and freeing, link counts and change times.  The caller holds m->mu
 * (see backend_mem.c). */
#include "backend_mem_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- nodes ------------------------------------------------------------ */

struct mnode *mem_node_new(struct mem *m, mode_t mode, const struct mnode *dir)
{
	struct mnode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->ino = ++m->next_ino;
	n->dev = dir ? dir->dev : DEFAULT_DEV;
	n->mode = mode;
	n->uid = geteuid();
	/* The group of a setgid directory, as on ext4. */
	n->gid = dir && (dir->mode & S_ISGID) ? dir->gid : getegid();
	if (S_ISDIR(mode) && dir && (dir->mode & S_ISGID))
		n->mode |= S_ISGID;
	n->atime = n->mtime = n->ctime = mem_now();
	n->next_seq = 2;
	n->all_next = m->all;
	if (m->all)
		m->all->all_prev = n;
	m->all = n;
	m->nnodes++;
	return n;
}

void mem_node_free_data(struct mem *m, struct mnode *n)
{
	for (size_t i = 0; i < n->npages; i++)
		free(n->pages[i].data);
	m->pages_held -= n->npages;
	free(n->pages);
	for (size_t i = 0; i < n->nents; i++)
		free(n->ents[i].name);
	free(n->ents);
	for (size_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->target);
}

/* Free n once no name and no descriptor refers to it. */
void mem_node_maybe_free(struct mem *m, struct mnode *n)
{
	if (!n || n == m->root || n->nlink > 0 || n->opens > 0)
		return;
	if (n->all_prev)
		n->all_prev->all_next = n->all_next;
	else
		m->all = n->all_next;
	if (n->all_next)
		n->all_next->all_prev = n->all_prev;
	m->nnodes--;
	mem_node_free_data(m, n);
	free(n);
}

void mem_node_touch_change(struct mnode *n)
{
	n->ctime = mem_now();
}

void mem_node_touch_modify(struct mnode *n)
{
	n->mtime = n->ctime = mem_now();
}

int mem_node_is_removed(const struct mnode *dir)
{
	return dir->parent == NULL;
}

/* ---- directory entries --------------------------------------------------- */

long mem_node_ent_find(const struct mnode *dir, const char *name)
{
	for (size_t i = 0; i < dir->nents; i++)
		if (!strcmp(dir->ents[i].name, name))
			return (long)i;
	return -1;
}

/* Add name -> n to dir (the caller counts the link). */
int mem_node_ent_add(struct mnode *dir, const char *name, struct mnode *n)
{
	char *copy;

	if (dir->nents == dir->capents) {
		size_t ncap = dir->capents ? 2 * dir->capents : 8;
		struct mentry *ne = realloc(dir->ents, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		dir->ents = ne;
		dir->capents = ncap;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	dir->ents[dir->nents].name = copy;
	dir->ents[dir->nents].node = n;
	dir->ents[dir->nents].seq = dir->next_seq++;
	dir->nents++;
	mem_node_touch_modify(dir);
	return 0;
}

/* Remove entry i of dir (the caller drops the link). */
void mem_node_ent_del(struct mnode *dir, size_t i)
{
	free(dir->ents[i].name);
	memmove(dir->ents + i, dir->ents + i + 1, (dir->nents - i - 1) * sizeof(dir->ents[0]));
	dir->nents--;
	mem_node_touch_modify(dir);
}

/* A new name for n in dir, with the link counts of both. */
int mem_node_link_in(struct mnode *dir, const char *name, struct mnode *n)
{
	int r;

	if (!S_ISDIR(n->mode) && n->nlink >= MAX_LINKS)
		return -EMLINK;
	r = mem_node_ent_add(dir, name, n);
	if (r < 0)
		return r;
	n->nlink++;
	if (S_ISDIR(n->mode)) {
		n->nlink++; /* its own "." */
		n->parent = dir;
		dir->nlink++; /* its ".." */
	}
	mem_node_touch_change(n);
	return 0;
}

/* A new node of mode under the name last in the live directory dir. */
int mem_node_make(struct mem *m, struct mnode *dir, const char *last, mode_t mode,
		  struct mnode **out)
{
	struct mnode *n = mem_node_new(m, mode, dir);
	int r;

	if (!n)
		return -ENOMEM;
	r = mem_node_link_in(dir, last, n);
	if (r < 0) {
		mem_node_maybe_free(m, n);
		return r;
	}
	*out = n;
	return 0;
}

/* Drop the name at entry i of dir from its node's link count; a directory
 * loses all its links (it must be empty). */
struct mnode *mem_node_unlink_in(struct mnode *dir, size_t i)
{
	struct mnode *n = dir->ents[i].node;

	mem_node_ent_del(dir, i);
	if (S_ISDIR(n->mode)) {
		n->nlink = 0;
		n->parent = NULL;
		dir->nlink--;
	} else {
		n->nlink--;
	}
	mem_node_touch_change(n);
	return n;
}

/* 1 if n is d or lies below d. */
int mem_node_is_within(const struct mnode *n, const struct mnode *d)
{
	for (; n; n = n->parent == n ? NULL : n->parent)
		if (n == d)
			return 1;
	return 0;
}

