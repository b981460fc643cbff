/* keyfile.c - the paper form of the master key: see keyfile.h. */
#include "keyfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEY_LINES 4
#define LINE_BYTES (CRYPTO_KEY_LEN / KEY_LINES) /* 8 */
#define SUM_BYTES 2                             /* per key line */
#define CHECK_BYTES 8
#define MAGIC "ragstore-masterkey"
#define LINE_MAX_LEN 128
/* The longest run of bytes written in groups: a key line with its sum. */
#define GROUP_BYTES (LINE_BYTES + SUM_BYTES)
/* Its text: 4 digits per group, groups separated by one space. */
#define GROUP_TEXT (2 * GROUP_BYTES + GROUP_BYTES / 2 + 1)

/* The lines a key file must hold, each once. */
enum kf_line { L_MAGIC, L_UUID, L_CIPHER, L_NAMES, L_BLOCK, L_CODEC, L_KEY1, L_KEY2,
	       L_KEY3, L_KEY4, L_CHECK, L_COUNT };

static const char *const line_names[L_COUNT] = {
	[L_MAGIC] = MAGIC,   [L_UUID] = "uuid",   [L_CIPHER] = "cipher",
	[L_NAMES] = "names", [L_BLOCK] = "block-size", [L_CODEC] = "compression",
	[L_KEY1] = "key1",   [L_KEY2] = "key2",   [L_KEY3] = "key3",
	[L_KEY4] = "key4",   [L_CHECK] = "check",
};

/* The checksum of key line n (0-based) holding bytes b[LINE_BYTES]. */
static void line_sum(int n, const uint8_t *b, uint8_t *sum)
{
	uint8_t msg[16 + 1 + LINE_BYTES], h[32];

	memcpy(msg, "ragstore-keyline", 16);
	msg[16] = (uint8_t)(n + 1);
	memcpy(msg + 17, b, LINE_BYTES);
	crypto_digest(h, msg, sizeof(msg));
	memcpy(sum, h, SUM_BYTES);
	crypto_wipe(msg, sizeof(msg));
	crypto_wipe(h, sizeof(h));
}

/* The check value over the settings of k, keyed by a master-key subkey.
 * Returns 0, or -EINVAL when a setting cannot be written. */
static int check_value(const struct keyfile *k, uint8_t *out)
{
	char text[256], codec[32];
	uint8_t sub[CRYPTO_KEY_LEN], mac[32];
	int n;

	codec_format(&k->codec, codec, sizeof(codec));
	n = snprintf(text, sizeof(text),
		     "ragstore-masterkey-v1\nuuid=%s\ncipher=%s\nnames=%s\nblock_size=%u\n"
		     "compression=%s\n", k->uuid, crypto_cipher_name(k->cipher),
		     k->plaintext_names ? "plaintext" : "encrypted", k->block_size, codec);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -EINVAL;
	crypto_subkey(k->key, KEYFILE_SUBKEY, "ragstore", sub);
	crypto_mac(sub, (const uint8_t *)text, (size_t)n, mac);
	memcpy(out, mac, CHECK_BYTES);
	crypto_wipe(sub, sizeof(sub));
	crypto_wipe(mac, sizeof(mac));
	return 0;
}

/* Hex of len (at most GROUP_BYTES) bytes in groups of 4 digits separated by one space. */
static void hex_groups(const uint8_t *b, size_t len, char *out)
{
	char hex[2 * GROUP_BYTES + 1];
	size_t o = 0;

	util_hex_encode(b, len, hex);
	for (size_t i = 0; i < 2 * len; i++) {
		if (i && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = hex[i];
	}
	out[o] = '\0';
	crypto_wipe(hex, sizeof(hex));
}

static int settings_valid(const struct keyfile *k)
{
	return (k->cipher == CIPHER_XCHACHA || k->cipher == CIPHER_AESGCM) &&
	       desc_uuid_valid(k->uuid) && desc_block_size_valid(k->block_size);
}

int keyfile_encode(const struct keyfile *k, char *out, size_t cap)
{
	char codec[32], groups[GROUP_TEXT];
	uint8_t line[GROUP_BYTES], check[CHECK_BYTES];
	size_t pos;
	int n, r = 0;

	if (!settings_valid(k) || check_value(k, check) < 0)
		return -EINVAL;
	codec_format(&k->codec, codec, sizeof(codec));
	n = snprintf(out, cap,
		     "# ragstore master key.  Whoever holds it can read every file of the\n"
		     "# store: keep it offline (on paper, in a safe).  With it, a forgotten\n"
		     "# passphrase or a lost ragstore.conf can be replaced (docs/RECOVERY.md).\n"
		     MAGIC " 1\nuuid %s\ncipher %s\nnames %s\nblock-size %u\ncompression %s\n",
		     k->uuid, crypto_cipher_name(k->cipher),
		     k->plaintext_names ? "plaintext" : "encrypted", k->block_size, codec);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	pos = (size_t)n;
	for (int i = 0; i < KEY_LINES && r == 0; i++) {
		memcpy(line, k->key + i * LINE_BYTES, LINE_BYTES);
		line_sum(i, line, line + LINE_BYTES);
		hex_groups(line, sizeof(line), groups);
		n = snprintf(out + pos, cap - pos, "key%d %s\n", i + 1, groups);
		if (n < 0 || (size_t)n >= cap - pos)
			r = -ENOSPC;
		else
			pos += (size_t)n;
	}
	if (r == 0) {
		hex_groups(check, sizeof(check), groups);
		n = snprintf(out + pos, cap - pos, "check %s\n", groups);
		if (n < 0 || (size_t)n >= cap - pos)
			r = -ENOSPC;
		else
			pos += (size_t)n;
	}
	crypto_wipe(line, sizeof(line));
	crypto_wipe(groups, sizeof(groups));
	if (r < 0) {
		crypto_wipe(out, cap);
		return r;
	}
	return (int)pos;
}

/* ---- reading ------------------------------------------------------------ */

struct kf_parse {
	struct keyfile *k;
	int seen[L_COUNT];      /* line number of each, 0 when absent */
	uint8_t check[CHECK_BYTES];
	char *err;
	size_t errlen;
};

static int fail(struct kf_parse *p, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct kf_parse *p, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* The hex digits of v with blanks removed, exactly 2*len of them, into out. */
static int hex_loose(const char *v, uint8_t *out, size_t len)
{
	char digits[2 * GROUP_BYTES + 2];
	size_t n = 0;
	int r;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t')
			continue;
		if (n + 1 >= sizeof(digits))
			return -EINVAL;
		digits[n++] = *v;
	}
	digits[n] = '\0';
	r = n == 2 * len ? util_hex_decode(digits, out, len) : -EINVAL;
	crypto_wipe(digits, sizeof(digits));
	return r;
}

static int parse_key_line(struct kf_parse *p, int lineno, int i, const char *v)
{
	uint8_t b[GROUP_BYTES], sum[SUM_BYTES];
	int r = 0;

	if (hex_loose(v, b, sizeof(b)) < 0)
		return fail(p, -EINVAL, "line %d: key%d wants 20 hex digits (16 of the key, "
			    "4 of checksum)", lineno, i + 1);
	line_sum(i, b, sum);
	if (memcmp(sum, b + LINE_BYTES, SUM_BYTES) != 0)
		r = fail(p, -EBADMSG, "line %d: key%d does not match its checksum (a typo in "
			 "that line?)", lineno, i + 1);
	else
		memcpy(p->k->key + i * LINE_BYTES, b, LINE_BYTES);
	crypto_wipe(b, sizeof(b));
	return r;
}

/* One "name value" line. */
static int parse_line(struct kf_parse *p, int lineno, const char *name, const char *v)
{
	struct keyfile *k = p->k;
	char *end;
	unsigned long x;
	int i;

	for (i = 0; i < L_COUNT; i++)
		if (!strcmp(name, line_names[i]))
			break;
	if (i == L_COUNT)
		return fail(p, -EINVAL, "line %d: not a ragstore master key line", lineno);
	if (p->seen[i])
		return fail(p, -EINVAL, "line %d: '%s' given twice", lineno, line_names[i]);
	p->seen[i] = lineno;
	switch (i) {
	case L_MAGIC:
		if (strcmp(v, "1"))
			return fail(p, -EINVAL, "line %d: unknown key file version", lineno);
		return 0;
	case L_UUID:
		if (strlen(v) != DESC_UUID_LEN || !desc_uuid_valid(v))
			return fail(p, -EINVAL, "line %d: bad uuid", lineno);
		memcpy(k->uuid, v, DESC_UUID_LEN + 1);
		return 0;
	case L_CIPHER:
		k->cipher = crypto_cipher_parse(v);
		if (k->cipher == -ENOTSUP)
			return fail(p, -EINVAL, "line %d: cipher %s needs a CPU with AES-NI",
				    lineno, crypto_cipher_name(CIPHER_AESGCM));
		if (k->cipher <= CIPHER_NONE || strcmp(v, crypto_cipher_name(k->cipher)))
			return fail(p, -EINVAL, "line %d: bad cipher", lineno);
		return 0;
	case L_NAMES:
		if (strcmp(v, "encrypted") && strcmp(v, "plaintext"))
			return fail(p, -EINVAL, "line %d: names: encrypted or plaintext", lineno);
		k->plaintext_names = !strcmp(v, "plaintext");
		return 0;
	case L_BLOCK:
		x = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || !desc_block_size_valid(x))
			return fail(p, -EINVAL, "line %d: bad block-size", lineno);
		k->block_size = (uint32_t)x;
		return 0;
	case L_CODEC:
		if (codec_parse(v, &k->codec) < 0)
			return fail(p, -EINVAL, "line %d: bad compression", lineno);
		return 0;
	case L_CHECK:
		if (hex_loose(v, p->check, CHECK_BYTES) < 0)
			return fail(p, -EINVAL, "line %d: check wants 16 hex digits", lineno);
		return 0;
	default:
		return parse_key_line(p, lineno, i - L_KEY1, v);
	}
}

/* Split the next line off text; blanks at both ends and a CR go. */
static int next_line(const char **text, const char *end, char *line)
{
	const char *s = *text, *nl = memchr(s, '\n', (size_t)(end - s));
	size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

	*text = nl ? nl + 1 : end;
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n >= LINE_MAX_LEN || memchr(s, '\0', n))
		return -EINVAL;
	memcpy(line, s, n);
	line[n] = '\0';
	return 0;
}

static int parse_all(struct kf_parse *p, const char *text, size_t len)
{
	const char *t = text, *end = text + len;
	char line[LINE_MAX_LEN];
	uint8_t check[CHECK_BYTES];
	int lineno = 0, r = 0;

	while (t < end && r == 0) {
		char *v;

		lineno++;
		if (next_line(&t, end, line) < 0) {
			r = fail(p, -EINVAL, "line %d: too long or not text", lineno);
			break;
		}
		if (!line[0] || line[0] == '#')
			continue;
		v = line + strcspn(line, " \t");
		if (*v)
			*v++ = '\0';
		v += strspn(v, " \t");
		r = parse_line(p, lineno, line, v);
	}
	crypto_wipe(line, sizeof(line));
	for (int i = 0; i < L_COUNT && r == 0; i++)
		if (!p->seen[i])
			r = fail(p, -EINVAL, "no '%s' line: not a complete ragstore master key",
				 line_names[i]);
	if (r == 0 && (check_value(p->k, check) < 0 ||
		       memcmp(check, p->check, CHECK_BYTES) != 0))
		r = fail(p, -EBADMSG, "line %d: the check does not match (a typo in the uuid, "
			 "cipher, names, block-size, compression or check line?)",
			 p->seen[L_CHECK]);
	return r;
}

int keyfile_decode(const char *text, size_t len, struct keyfile *k, char *err,
		   size_t errlen)
{
	struct kf_parse p = { .k = k, .err = err, .errlen = errlen };
	int r;

	memset(k, 0, sizeof(*k));
	k->cipher = -1;
	r = parse_all(&p, text, len);
	crypto_wipe(p.check, sizeof(p.check));
	if (r < 0)
		crypto_wipe(k, sizeof(*k));
	return r;
}
