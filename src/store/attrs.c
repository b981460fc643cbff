/* attrs.c - extended attributes as the user sees them.  See attrs.h. */
#include "attrs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "backend.h"
#include "codec.h"
#include "crypto.h"
#include "fileheader.h"
#include "ofile.h"
#include "policy.h"
#include "usage.h"
#include "util.h"
#include "xattrs.h"

/* Extended attributes.  Only the user namespace (and ACLs, see is_user) exist:
 * values are stored encrypted by xattrs.c, and user.ragstore.* are the
 * virtual attributes: read-only facts, except compression, which is a real
 * setting of the file. */
#define VATTR ATTRS_VIRTUAL
#define VATTR_COMPRESSION VATTR "compression"

/* User attributes, and POSIX ACLs, which are kept (so rsync -A and cp -a
 * carry them) but not enforced: the kernel checks permissions by mode bits
 * (default_permissions). */
static int is_user(const char *name)
{
	return strncmp(name, "user.", 5) == 0 ||
	       !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

/* Copy a value out as getxattr(2) does: size 0 asks for the length. */
static int xattr_out(const char *val, size_t len, char *buf, size_t size)
{
	if (size == 0)
		return (int)len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, val, len);
	return (int)len;
}

static int vattr_get(struct store *s, int dirfd, const char *rel, const char *name,
		     const struct policy *pol, char *buf, size_t size)
{
	const char *key = name + strlen(VATTR);
	char val[160];
	struct codec_spec spec;
	struct ofile *f;
	struct stat st;
	uint64_t logical, stored, packed;
	int n, user, r;

	if (!strcmp(key, "encryption"))
		return xattr_out(crypto_cipher_name(s->desc.cipher),
				 strlen(crypto_cipher_name(s->desc.cipher)), buf, size);
	if (!strcmp(key, "policy"))
		return xattr_out(pol->name, strlen(pol->name), buf, size);
	if (strcmp(key, "logical_size") && strcmp(key, "stored_size") && strcmp(key, "ratio") &&
	    strcmp(key, "compression") && strcmp(key, "block_size") && strcmp(key, "algorithms"))
		return -ENODATA;
	r = backend_fstatat(s->be, dirfd, rel, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return -ENODATA;
	r = ofile_open_for(s, dirfd, rel, NULL, 0, &f);
	if (r < 0)
		return r;
	logical = ofile_size_now(s, f);
	r = backend_fstat(s->be, ofile_fd(f), &st);
	stored = (uint64_t)st.st_blocks * 512;
	if ((packed = ofile_pack_stored(f)) != (uint64_t)-1)
		stored += packed;
	ofile_codec(f, &spec, &user);
	if (!strcmp(key, "logical_size"))
		n = snprintf(val, sizeof(val), "%llu", (unsigned long long)logical);
	else if (!strcmp(key, "stored_size"))
		n = snprintf(val, sizeof(val), "%llu", (unsigned long long)stored);
	else if (!strcmp(key, "ratio"))
		n = snprintf(val, sizeof(val), "%.3f",
			     logical ? (double)stored / (double)logical : 0.0);
	else if (!strcmp(key, "block_size"))
		n = snprintf(val, sizeof(val), "%u", ofile_block_size(f));
	else if (!strcmp(key, "algorithms")) {
		struct usage u;

		r = usage_file(s, f, &u);
		n = r < 0 ? 0 : usage_format(&u, val, sizeof(val));
		r = r < 0 ? r : n < 0 ? n : 0;
	} else {
		codec_format(&spec, val, sizeof(val));
		n = (int)strlen(val);
	}
	ofile_release(s, f);
	return r < 0 ? r : xattr_out(val, (size_t)n, buf, size);
}

/* setfattr -n user.ragstore.compression -v SPEC (or remove: back to the
 * compression of the file's policy). */
static int set_compression(struct store *s, int dirfd, const char *rel, const char *value,
			   size_t size, int flags, int remove, const struct policy *pol)
{
	struct codec_spec spec = pol->codec, cur;
	char text[32];
	struct ofile *f;
	struct stat st;
	int r, user;

	r = backend_fstatat(s->be, dirfd, rel, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if (!remove) {
		if (size == 0 || size >= sizeof(text))
			return -EINVAL;
		memcpy(text, value, size);
		text[size] = '\0';
		if (text[size - 1] == '\n')
			text[size - 1] = '\0';
		if (codec_parse(text, &spec) < 0)
			return -EINVAL;
	}
	r = ofile_open(s, dirfd, rel, &f);
	if (r < 0)
		return r;
	ofile_codec(f, &cur, &user);
	if ((remove || (flags & XATTR_REPLACE)) && !user)
		r = -ENODATA;
	else if ((flags & XATTR_CREATE) && user)
		r = -EEXIST;
	else
		r = ofile_set_codec(s, f, &spec, !remove);
	ofile_release(s, f);
	return r;
}

/* Setting an access ACL sets the mode bits it implies, as the kernel does
 * for filesystems with ACL support (cp -a relies on it); an ACL that says
 * no more than the mode is not stored.  Returns 1 if it was only a mode. */
static int acl_mode(struct store *s, int dirfd, const char *rel, const char *value,
		       size_t size)
{
	const uint8_t *v = (const uint8_t *)value;
	int user = -1, group = -1, mask = -1, other = -1, extended = 0;
	struct stat st;
	int r;

	if (size < 4 || (size - 4) % 8 || util_get_le32(v) != 2)
		return -EINVAL;
	for (size_t i = 4; i < size; i += 8) {
		int tag = v[i] | v[i + 1] << 8, perm = (v[i + 2] | v[i + 3] << 8) & 7;

		switch (tag) {
		case 0x01: user = perm; break;
		case 0x04: group = perm; break;
		case 0x10: mask = perm; extended = 1; break;
		case 0x20: other = perm; break;
		case 0x02: case 0x08: extended = 1; break;
		default: return -EINVAL;
		}
	}
	if (user < 0 || group < 0 || other < 0)
		return -EINVAL;
	r = backend_fstatat(s->be, dirfd, rel, &st, AT_SYMLINK_NOFOLLOW);
	if (r == 0)
		r = backend_fchmodat(s->be, dirfd, rel,
				     (st.st_mode & 07000) | (mode_t)(user << 6) |
					     (mode_t)((mask >= 0 ? mask : group) << 3) |
					     (mode_t)other, 0);
	return r < 0 ? r : !extended;
}

static int set_at(struct store *s, int dirfd, const char *rel, const char *name,
		  const char *value, size_t size, int flags, const struct policy *pol)
{
	if (!strcmp(name, VATTR_COMPRESSION))
		return set_compression(s, dirfd, rel, value, size, flags, 0, pol);
	if (!strncmp(name, VATTR, strlen(VATTR)))
		return -EPERM;
	if (!strcmp(name, "system.posix_acl_access")) {
		int r = acl_mode(s, dirfd, rel, value, size);

		if (r < 0)
			return r;
		if (r == 1) {
			r = xattrs_remove(s, dirfd, rel, name);
			return r == -ENODATA ? 0 : r;
		}
	}
	return xattrs_set(s, dirfd, rel, name, value, size, flags);
}

static int get_at(struct store *s, int dirfd, const char *rel, const char *name,
		  char *value, size_t size, const struct policy *pol)
{
	if (!strncmp(name, VATTR, strlen(VATTR)))
		return vattr_get(s, dirfd, rel, name, pol, value, size);
	return (int)xattrs_get(s, dirfd, rel, name, value, size);
}

static int list_at(struct store *s, int dirfd, const char *rel, char *list, size_t size)
{
	struct codec_spec spec;
	struct ofile *f;
	struct stat st;
	ssize_t n;
	int user = 0;

	/* A compression the user set is a real attribute: listed, so that
	 * rsync -X and cp -a carry it over.  The header hint answers both
	 * questions for the common file without attributes (every ls -l). */
	if (backend_fstatat(s->be, dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		uint64_t hsize;
		uint16_t hflags;

		if (ofile_hint(s, dirfd, rel, &hsize, &hflags, NULL) == 0) {
			if (!(hflags & (FH_FLAG_XATTRS | FH_FLAG_CODEC_SET)))
				return 0;
			user = (hflags & FH_FLAG_CODEC_SET) != 0;
		} else if (ofile_open_for(s, dirfd, rel, NULL, 0, &f) == 0) {
			ofile_codec(f, &spec, &user);
			ofile_release(s, f);
		}
	}
	n = xattrs_list(s, dirfd, rel, list, size);
	if (n < 0)
		return (int)n;
	if (user) {
		size_t add = sizeof(VATTR_COMPRESSION);

		if (size && (size_t)n + add > size)
			return -ERANGE;
		if (size)
			memcpy(list + n, VATTR_COMPRESSION, add);
		n += (ssize_t)add;
	}
	return (int)n;
}

static int remove_at(struct store *s, int dirfd, const char *rel, const char *name,
		     const struct policy *pol)
{
	if (!strcmp(name, VATTR_COMPRESSION))
		return set_compression(s, dirfd, rel, NULL, 0, 0, 1, pol);
	if (!strncmp(name, VATTR, strlen(VATTR)))
		return -EPERM;
	return xattrs_remove(s, dirfd, rel, name);
}

/* Every public function: resolve the inode to a backing name, under the
 * shared namespace lock, and run one of the above. */
enum attr_op { OP_GET, OP_SET, OP_LIST, OP_REMOVE };

static int with_ref(struct store *s, struct inode *in, enum attr_op op, const char *name,
		    char *buf, const char *value, size_t size, int flags)
{
	const struct policy *pol = NULL;
	struct iref ref;
	int r;

	inode_ns_rdlock(s);
	/* The virtual attributes that depend on the path: the policy, and
	 * the compression a removed override falls back to. */
	if (name && !strncmp(name, VATTR, strlen(VATTR)))
		pol = inode_policy(s, in, NULL);
	r = inode_ref(s, in, &ref);
	if (r == 0) {
		switch (op) {
		case OP_GET:
			r = get_at(s, ref.dirfd, ref.name, name, buf, size, pol);
			break;
		case OP_SET:
			r = set_at(s, ref.dirfd, ref.name, name, value, size, flags, pol);
			break;
		case OP_LIST:
			r = list_at(s, ref.dirfd, ref.name, buf, size);
			break;
		default:
			r = remove_at(s, ref.dirfd, ref.name, name, pol);
			break;
		}
		inode_ref_put(s, &ref);
	}
	inode_ns_unlock(s);
	return r;
}

int attrs_get(struct store *s, struct inode *in, const char *name, char *buf, size_t size)
{
	int virtual = !strncmp(name, VATTR, strlen(VATTR)), r;

	/* Namespaces ragstore does not keep (security.*, trusted.*) are not
	 * supported, as on a filesystem without their handlers: ls -l then
	 * stops asking for security.selinux on this filesystem after the
	 * first file, and the kernel's security.capability check on every
	 * write takes "not supported" as "none". */
	if (!is_user(name))
		return -EOPNOTSUPP;
	/* ls -l asks for the access ACL of every file: answered at once
	 * where nothing can be there. */
	if (!virtual && !s->shared && inode_noxattr(in))
		return -ENODATA;
	r = with_ref(s, in, OP_GET, name, buf, NULL, size, 0);
	/* A directory learns here that it has no attributes at all (a file
	 * learns it from its size hint at lookup). */
	if (r == -ENODATA && !virtual && S_ISDIR(inode_type(in)) &&
	    with_ref(s, in, OP_LIST, NULL, NULL, NULL, 0, 0) == 0)
		inode_set_noxattr(in, 1);
	return r;
}

int attrs_set(struct store *s, struct inode *in, const char *name, const char *value,
	      size_t size, int flags)
{
	if (!is_user(name))
		return -ENOTSUP;
	inode_set_noxattr(in, 0);
	return with_ref(s, in, OP_SET, name, NULL, value, size, flags);
}

int attrs_list(struct store *s, struct inode *in, char *list, size_t size)
{
	int r;

	if (!s->shared && inode_noxattr(in))
		return 0;
	r = with_ref(s, in, OP_LIST, NULL, list, NULL, size, 0);
	if (r == 0)
		inode_set_noxattr(in, 1);
	return r;
}

int attrs_remove(struct store *s, struct inode *in, const char *name)
{
	if (!is_user(name))
		return -ENODATA;
	inode_set_noxattr(in, 0);
	return with_ref(s, in, OP_REMOVE, name, NULL, NULL, 0, 0);
}
