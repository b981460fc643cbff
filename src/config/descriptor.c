/* descriptor.c - read, validate and write BACKING/ragstore.conf.
 *
 * The file is an ini file parsed with inih:
 *
 *	[ragstore]
 *	version = 1
 *	uuid = 8-4-4-4-12 lower-case hex
 *	cipher = xchacha20-poly1305 | aes-256-gcm | none
 *	plaintext_names = yes | no
 *	block_size = 65536              (a power of two, 4096 .. 1048576)
 *	compression = zstd:3            (codec_parse syntax)
 *	[kdf]                           (only when cipher != none)
 *	algorithm = argon2id
 *	opslimit = N
 *	memlimit = N                    (bytes)
 *	salt = 32 hex digits
 *	[key]
 *	wrapped = 144 hex digits        (only when cipher != none)
 *	mac = 64 hex digits
 *
 * Parsing is strict because the file comes from the (untrusted) backing
 * directory: an unknown section or key, a key given twice, a missing key, a
 * bad value, an over-long line or a syntax error is refused with the file
 * name and line.  inih's handler does not receive line numbers in the
 * packaged build, so the file is fed to inih through our own line reader,
 * which counts lines and also sees section headers that hold no keys. */
#include "descriptor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#include "util.h"

#define DESC_MAX_SIZE (64 * 1024) /* a valid descriptor is under 1 KiB */
#define DESC_MIN_BLOCK 4096u
#define DESC_MAX_BLOCK (1024u * 1024u)
#define MSG_LEN 256

enum desc_section { SEC_RAGSTORE, SEC_KDF, SEC_KEY, SEC_COUNT };

static const char *const section_names[SEC_COUNT] = {
	[SEC_RAGSTORE] = "ragstore",
	[SEC_KDF] = "kdf",
	[SEC_KEY] = "key",
};

/* When a key must appear. */
enum desc_need { NEED_ALWAYS, NEED_ENCRYPTED };

struct desc_field {
	int section;
	const char *name;
	int need;
	/* Parse value into d; 0, or -EINVAL with a message in msg. */
	int (*parse)(struct store_desc *d, const char *v, char *msg, size_t len);
};

struct parse_ctx {
	const char *path;
	struct store_desc d;
	/* the line reader's state */
	const char *buf;
	size_t size, pos;
	int lineno;
	/* line of each section header and of each field, 0 when absent */
	int sec_line[SEC_COUNT];
	int *field_line;
	/* the first error found */
	int err_line;
	char msg[MSG_LEN];
};

/* A value quoted in a message: at most 32 printable characters, so that a
 * hostile file cannot put control sequences on the user's terminal. */
static void quote_value(const char *v, char *out, size_t len)
{
	size_t i;

	for (i = 0; v[i] && i < 32 && i + 1 < len; i++)
		out[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	out[i] = '\0';
}

static int bad_value(char *msg, size_t len, const char *key, const char *v)
{
	char q[40];

	quote_value(v, q, sizeof(q));
	snprintf(msg, len, "bad value '%s' for '%s'", q, key);
	return -EINVAL;
}

/* Strict unsigned decimal: digits only, no sign, no spaces, no overflow. */
static int parse_u64(const char *v, uint64_t *out)
{
	uint64_t x = 0;

	if (!*v)
		return -EINVAL;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -EINVAL;
		if (x > (UINT64_MAX - (uint64_t)(*v - '0')) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*v - '0');
	}
	*out = x;
	return 0;
}

int desc_uuid_valid(const char *u)
{
	for (int i = 0; i < DESC_UUID_LEN; i++) {
		int dash = (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? u[i] != '-' :
			   !((u[i] >= '0' && u[i] <= '9') ||
			     (u[i] >= 'a' && u[i] <= 'f')))
			return 0;
	}
	return u[DESC_UUID_LEN] == '\0';
}

int desc_block_size_valid(uint64_t b)
{
	return b >= DESC_MIN_BLOCK && b <= DESC_MAX_BLOCK && (b & (b - 1)) == 0;
}

/* ---- one parser per key ------------------------------------------------- */

static int p_version(struct store_desc *d, const char *v, char *msg, size_t len)
{
	uint64_t x;

	if (parse_u64(v, &x))
		return bad_value(msg, len, "version", v);
	if (x < DESC_VERSION_MIN || x > DESC_VERSION) {
		snprintf(msg, len, "unsupported format version %llu (this ragstore reads %d to %d)",
			 (unsigned long long)x, DESC_VERSION_MIN, DESC_VERSION);
		return -EINVAL;
	}
	d->version = (int)x;
	return 0;
}

static int p_uuid(struct store_desc *d, const char *v, char *msg, size_t len)
{
	if (!desc_uuid_valid(v))
		return bad_value(msg, len, "uuid", v);
	memcpy(d->uuid, v, DESC_UUID_LEN + 1);
	return 0;
}

static int p_cipher(struct store_desc *d, const char *v, char *msg, size_t len)
{
	int c = crypto_cipher_parse(v);

	if (c == -ENOTSUP) {
		snprintf(msg, len,
			 "cipher aes-256-gcm needs AES-NI, which this CPU lacks");
		return -EINVAL;
	}
	/* Only the canonical names: aliases are for the command line. */
	if (c < 0 || strcmp(v, crypto_cipher_name(c)) != 0)
		return bad_value(msg, len, "cipher", v);
	d->cipher = c;
	return 0;
}

static int p_plaintext_names(struct store_desc *d, const char *v, char *msg,
			     size_t len)
{
	if (!strcmp(v, "yes"))
		d->plaintext_names = 1;
	else if (!strcmp(v, "no"))
		d->plaintext_names = 0;
	else
		return bad_value(msg, len, "plaintext_names", v);
	return 0;
}

static int p_block_size(struct store_desc *d, const char *v, char *msg,
			size_t len)
{
	uint64_t x;

	if (parse_u64(v, &x) || !desc_block_size_valid(x)) {
		char q[40];

		quote_value(v, q, sizeof(q));
		snprintf(msg, len,
			 "bad block_size '%s': want a power of two from %u to %u",
			 q, DESC_MIN_BLOCK, DESC_MAX_BLOCK);
		return -EINVAL;
	}
	d->block_size = (uint32_t)x;
	return 0;
}

static int p_compression(struct store_desc *d, const char *v, char *msg,
			 size_t len)
{
	if (codec_parse(v, &d->codec))
		return bad_value(msg, len, "compression", v);
	return 0;
}

static int p_algorithm(struct store_desc *d, const char *v, char *msg,
		       size_t len)
{
	if (strcmp(v, "argon2id") != 0)
		return bad_value(msg, len, "algorithm", v);
	return 0;
}

static int p_opslimit(struct store_desc *d, const char *v, char *msg,
		      size_t len)
{
	if (parse_u64(v, &d->kdf_ops) || d->kdf_ops == 0)
		return bad_value(msg, len, "opslimit", v);
	return 0;
}

static int p_memlimit(struct store_desc *d, const char *v, char *msg,
		      size_t len)
{
	if (parse_u64(v, &d->kdf_mem) || d->kdf_mem == 0)
		return bad_value(msg, len, "memlimit", v);
	return 0;
}

static int hex_field(const char *key, const char *v, uint8_t *out, size_t n,
		     char *msg, size_t len)
{
	if (util_hex_decode(v, out, n)) {
		snprintf(msg, len, "bad '%s': want %zu hex digits", key, 2 * n);
		return -EINVAL;
	}
	return 0;
}

static int p_salt(struct store_desc *d, const char *v, char *msg, size_t len)
{
	return hex_field("salt", v, d->salt, sizeof(d->salt), msg, len);
}

static int p_wrapped(struct store_desc *d, const char *v, char *msg, size_t len)
{
	return hex_field("wrapped", v, d->wrapped, sizeof(d->wrapped), msg, len);
}

static int p_mac(struct store_desc *d, const char *v, char *msg, size_t len)
{
	return hex_field("mac", v, d->mac, sizeof(d->mac), msg, len);
}

static const struct desc_field fields[] = {
	{ SEC_RAGSTORE, "version", NEED_ALWAYS, p_version },
	{ SEC_RAGSTORE, "uuid", NEED_ALWAYS, p_uuid },
	{ SEC_RAGSTORE, "cipher", NEED_ALWAYS, p_cipher },
	{ SEC_RAGSTORE, "plaintext_names", NEED_ALWAYS, p_plaintext_names },
	{ SEC_RAGSTORE, "block_size", NEED_ALWAYS, p_block_size },
	{ SEC_RAGSTORE, "compression", NEED_ALWAYS, p_compression },
	{ SEC_KDF, "algorithm", NEED_ENCRYPTED, p_algorithm },
	{ SEC_KDF, "opslimit", NEED_ENCRYPTED, p_opslimit },
	{ SEC_KDF, "memlimit", NEED_ENCRYPTED, p_memlimit },
	{ SEC_KDF, "salt", NEED_ENCRYPTED, p_salt },
	{ SEC_KEY, "wrapped", NEED_ENCRYPTED, p_wrapped },
	{ SEC_KEY, "mac", NEED_ALWAYS, p_mac },
};

#define FIELD_COUNT (sizeof(fields) / sizeof(fields[0]))

/* ---- parsing ------------------------------------------------------------ */

static void set_err(struct parse_ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep the first error only: later ones are often its consequences. */
static void set_err(struct parse_ctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	if (c->err_line)
		return;
	c->err_line = line > 0 ? line : 1;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

static int find_section(const char *name, size_t len)
{
	for (int i = 0; i < SEC_COUNT; i++)
		if (strlen(section_names[i]) == len &&
		    !memcmp(section_names[i], name, len))
			return i;
	return -1;
}

/* Look at a "[name]" line before inih does: inih reports a section only
 * through the keys in it, so an empty unknown or repeated section would
 * otherwise pass unseen.  Lines without a closing bracket are left to inih,
 * which reports them as syntax errors. */
static void check_section_line(struct parse_ctx *c, const char *line, size_t len)
{
	const char *end;
	char q[40], name[40];
	size_t i = 0, nlen;
	int s;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] != '[')
		return;
	end = memchr(line + i, ']', len - i);
	if (!end)
		return;
	nlen = (size_t)(end - (line + i + 1));
	for (const char *p = end + 1; p < line + len; p++) {
		if (*p == ';' || *p == '#')
			break;
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			set_err(c, c->lineno, "junk after section header");
			return;
		}
	}
	s = find_section(line + i + 1, nlen);
	if (s < 0) {
		snprintf(name, sizeof(name), "%.*s",
			 (int)(nlen < 32 ? nlen : 32), line + i + 1);
		quote_value(name, q, sizeof(q));
		set_err(c, c->lineno, "unknown section [%s]", q);
		return;
	}
	if (c->sec_line[s]) {
		set_err(c, c->lineno, "section [%s] repeated (first at line %d)",
			section_names[s], c->sec_line[s]);
		return;
	}
	c->sec_line[s] = c->lineno;
}

/* inih's fgets-like reader over the file contents held in memory. */
static char *line_reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	const char *start = c->buf + c->pos, *nl;
	size_t len, copy;

	if (c->pos >= c->size || num < 2)
		return NULL;
	nl = memchr(start, '\n', c->size - c->pos);
	len = nl ? (size_t)(nl - start) + 1 : c->size - c->pos;
	c->pos += len;
	c->lineno++;
	if (memchr(start, '\0', len))
		set_err(c, c->lineno, "NUL byte in line");
	copy = len;
	if (copy > (size_t)num - 1) {
		/* inih would read the rest as a new line; refuse instead. */
		set_err(c, c->lineno, "line too long");
		copy = (size_t)num - 1;
	}
	memcpy(str, start, copy);
	str[copy] = '\0';
	check_section_line(c, str, copy);
	return str;
}

static int ini_handler_fn(void *user, const char *section, const char *name,
			  const char *value)
{
	struct parse_ctx *c = user;
	char q[40], msg[MSG_LEN];
	size_t i;
	int s;

	s = find_section(section, strlen(section));
	if (s < 0) {
		quote_value(name, q, sizeof(q));
		if (!*section)
			set_err(c, c->lineno, "key '%s' outside any section", q);
		else
			set_err(c, c->lineno, "key '%s' in unknown section", q);
		return 0;
	}
	for (i = 0; i < FIELD_COUNT; i++)
		if (fields[i].section == s && !strcmp(fields[i].name, name))
			break;
	if (i == FIELD_COUNT) {
		quote_value(name, q, sizeof(q));
		set_err(c, c->lineno, "unknown key '%s' in [%s]", q,
			section_names[s]);
		return 0;
	}
	/* inih also calls back again for continuation lines of a value. */
	if (c->field_line[i]) {
		set_err(c, c->lineno, "key '%s' repeated (first at line %d)",
			name, c->field_line[i]);
		return 0;
	}
	c->field_line[i] = c->lineno;
	msg[0] = '\0';
	if (fields[i].parse(&c->d, value, msg, sizeof(msg))) {
		set_err(c, c->lineno, "%s", msg);
		return 0;
	}
	return 1;
}

/* Checks that need the whole file: required keys, and no key material in a
 * store without encryption. */
static void check_complete(struct parse_ctx *c)
{
	int encrypted = c->d.cipher != CIPHER_NONE;

	for (size_t i = 0; i < FIELD_COUNT; i++) {
		const struct desc_field *f = &fields[i];
		int want = f->need == NEED_ALWAYS || encrypted;
		int line = c->sec_line[f->section];

		if (want && !c->field_line[i]) {
			/* Point at the section header, else the end of file. */
			set_err(c, line ? line : c->lineno,
				"missing key '%s' in [%s]", f->name,
				section_names[f->section]);
			return;
		}
		if (!want && c->field_line[i]) {
			set_err(c, c->field_line[i],
				"key '%s' not allowed with cipher none",
				f->name);
			return;
		}
	}
}

/* Read the whole file into buf (NUL-terminated).  Returns its size or -errno. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		n = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		n = -EINVAL;
		goto out_close;
	}
	n = util_pread_full(fd, buf, cap, 0);
	if (n >= 0)
		buf[n] = '\0';
out_close:
	close(fd);
	return n;
}

static void put_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int desc_read(const char *backing, struct store_desc *d, char *err, size_t errlen)
{
	int field_line[FIELD_COUNT] = { 0 };
	struct parse_ctx c;
	char path[PATH_MAX];
	char *buf;
	ssize_t n;
	int r, ret;

	put_err(err, errlen, "%s", "");
	r = snprintf(path, sizeof(path), "%s/%s", backing, DESC_FILE);
	if (r < 0 || (size_t)r >= sizeof(path)) {
		put_err(err, errlen, "%s/%s: path too long", backing, DESC_FILE);
		return -ENAMETOOLONG;
	}
	buf = malloc(DESC_MAX_SIZE + 2);
	if (!buf)
		return -ENOMEM;
	n = slurp(path, buf, DESC_MAX_SIZE + 1);
	if (n < 0) {
		ret = (int)n;
		if (ret == -EINVAL)
			put_err(err, errlen, "%s: not a regular file", path);
		else
			put_err(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_free;
	}
	if (n > DESC_MAX_SIZE) {
		put_err(err, errlen, "%s: file too large", path);
		ret = -EINVAL;
		goto out_free;
	}

	memset(&c, 0, sizeof(c));
	c.path = path;
	c.buf = buf;
	c.size = (size_t)n;
	c.field_line = field_line;
	c.d.cipher = -1;
	r = ini_parse_stream(line_reader, &c, ini_handler_fn, &c);
	if (r == -2) {
		ret = -ENOMEM;
		goto out_free;
	}
	/* inih returns the first line it found wrong; if that is before any
	 * error we recorded (or we recorded none), it was a syntax error. */
	if (r > 0 && (!c.err_line || r < c.err_line)) {
		c.err_line = 0;
		set_err(&c, r, "syntax error (expected [section] or key = value)");
	}
	if (!c.err_line)
		check_complete(&c);
	if (c.err_line) {
		put_err(err, errlen, "%s:%d: %s", path, c.err_line, c.msg);
		ret = -EINVAL;
		goto out_free;
	}
	*d = c.d;
	ret = 0;
out_free:
	free(buf);
	return ret;
}

/* ---- writing ------------------------------------------------------------ */

/* Refuse to write what desc_read would refuse to read back. */
static int desc_valid(const struct store_desc *d)
{
	struct codec_spec spec;
	char text[32];

	if (d->version < DESC_VERSION_MIN || d->version > DESC_VERSION || !desc_uuid_valid(d->uuid))
		return 0;
	if (d->cipher != CIPHER_NONE && d->cipher != CIPHER_XCHACHA &&
	    d->cipher != CIPHER_AESGCM)
		return 0;
	if (!desc_block_size_valid(d->block_size))
		return 0;
	codec_format(&d->codec, text, sizeof(text));
	if (codec_parse(text, &spec))
		return 0;
	if (d->cipher != CIPHER_NONE && (d->kdf_ops == 0 || d->kdf_mem == 0))
		return 0;
	return 1;
}

/* Append formatted text at *pos; -ENOSPC when it does not fit. */
static int emit(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int emit(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*pos >= len)
		return -ENOSPC;
	va_start(ap, fmt);
	r = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= len - *pos)
		return -ENOSPC;
	*pos += (size_t)r;
	return 0;
}

int desc_canonical(const struct store_desc *d, char *buf, size_t len)
{
	char codec[32], salt[2 * CRYPTO_SALT_LEN + 1];
	char wrapped[2 * CRYPTO_WRAPPED_LEN + 1];
	size_t pos = 0;
	int r;

	codec_format(&d->codec, codec, sizeof(codec));
	r = emit(buf, len, &pos,
		 "ragstore-descriptor-v1\nversion=%d\nuuid=%.*s\ncipher=%s\n"
		 "plaintext_names=%s\nblock_size=%u\ncompression=%s\n",
		 d->version, DESC_UUID_LEN, d->uuid,
		 crypto_cipher_name(d->cipher),
		 d->plaintext_names ? "yes" : "no", d->block_size, codec);
	if (r)
		return r;
	/* Key material is not part of a store without encryption, so stale
	 * bytes in those fields must not change its canonical text. */
	if (d->cipher != CIPHER_NONE) {
		util_hex_encode(d->salt, sizeof(d->salt), salt);
		util_hex_encode(d->wrapped, sizeof(d->wrapped), wrapped);
		r = emit(buf, len, &pos,
			 "kdf=argon2id,%llu,%llu\nsalt=%s\nwrapped=%s\n",
			 (unsigned long long)d->kdf_ops,
			 (unsigned long long)d->kdf_mem, salt, wrapped);
		if (r)
			return r;
	}
	return (int)pos;
}

static int desc_format(const struct store_desc *d, char *buf, size_t len)
{
	char codec[32], hex[2 * CRYPTO_WRAPPED_LEN + 1];
	size_t pos = 0;
	int r;

	codec_format(&d->codec, codec, sizeof(codec));
	r = emit(buf, len, &pos,
		 "# ragstore store descriptor.  Do not edit: the master key\n"
		 "# authenticates it and a changed file is refused at mount.\n"
		 "[ragstore]\nversion = %d\nuuid = %s\ncipher = %s\n"
		 "plaintext_names = %s\nblock_size = %u\ncompression = %s\n",
		 d->version, d->uuid, crypto_cipher_name(d->cipher),
		 d->plaintext_names ? "yes" : "no", d->block_size, codec);
	if (r)
		return r;
	if (d->cipher != CIPHER_NONE) {
		util_hex_encode(d->salt, sizeof(d->salt), hex);
		r = emit(buf, len, &pos,
			 "\n[kdf]\nalgorithm = argon2id\nopslimit = %llu\n"
			 "memlimit = %llu\nsalt = %s\n",
			 (unsigned long long)d->kdf_ops,
			 (unsigned long long)d->kdf_mem, hex);
		if (r)
			return r;
	}
	r = emit(buf, len, &pos, "\n[key]\n");
	if (r)
		return r;
	if (d->cipher != CIPHER_NONE) {
		util_hex_encode(d->wrapped, sizeof(d->wrapped), hex);
		r = emit(buf, len, &pos, "wrapped = %s\n", hex);
		if (r)
			return r;
	}
	util_hex_encode(d->mac, sizeof(d->mac), hex);
	r = emit(buf, len, &pos, "mac = %s\n", hex);
	if (r)
		return r;
	return (int)pos;
}

/* Create a fresh temporary file beside the descriptor.  O_EXCL|O_NOFOLLOW so
 * that nothing planted under a guessed name (a symlink, say) is followed. */
static int open_temp(const char *backing, char *tmp, size_t len)
{
	static unsigned int counter;
	struct timespec ts;

	for (int tries = 0; tries < 32; tries++) {
		unsigned int seq = __atomic_fetch_add(&counter, 1,
						      __ATOMIC_RELAXED);
		int r, fd;

		clock_gettime(CLOCK_REALTIME, &ts);
		r = snprintf(tmp, len, "%s/.%s.tmp.%ld.%u.%ld", backing,
			     DESC_FILE, (long)getpid(), seq, (long)ts.tv_nsec);
		if (r < 0 || (size_t)r >= len)
			return -ENAMETOOLONG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				       O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Put tmp in place as path; with exclusive, fail with -EEXIST rather than
 * replace an existing descriptor. */
static int install(const char *tmp, const char *path, int exclusive)
{
	if (!exclusive)
		return rename(tmp, path) < 0 ? -errno : 0;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* The filesystem lacks RENAME_NOREPLACE: link() never replaces. */
	if (link(tmp, path) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int desc_write(const char *backing, const struct store_desc *d, int exclusive)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[2048];
	int fd, len, r;

	if (!desc_valid(d))
		return -EINVAL;
	len = desc_format(d, text, sizeof(text));
	if (len < 0)
		return len;
	r = snprintf(path, sizeof(path), "%s/%s", backing, DESC_FILE);
	if (r < 0 || (size_t)r >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open_temp(backing, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	/* The umask may have taken bits away; make the mode exact. */
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		goto out_close;
	}
	r = util_pwrite_full(fd, text, (size_t)len, 0);
	if (r)
		goto out_close;
	if (fsync(fd) < 0) {
		r = -errno;
		goto out_close;
	}
	r = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (r)
		goto out_unlink;
	r = install(tmp, path, exclusive);
	if (r)
		goto out_unlink;
	return fsync_dir(backing);

out_close:
	close(fd);
out_unlink:
	unlink(tmp);
	return r;
}
