/* passphrase.c - read a passphrase without echo, from a file or a command. */
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

/* First line of stream f into buf (without the newline).  Returns the
 * length, or -1 if the line is empty or too long. */
static int first_line(FILE *f, char *buf)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (n + 1 >= PASSPHRASE_MAX)
			return -1;
		buf[n++] = (char)c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return n ? (int)n : -1;
}

static int from_file(const char *path, char *buf)
{
	FILE *f = fopen(path, "re");
	int n;

	if (!f) {
		fprintf(stderr, "ragstore: cannot read passfile %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = first_line(f, buf);
	fclose(f);
	if (n < 0)
		fprintf(stderr, "ragstore: passfile %s: first line is empty or longer than %d bytes\n",
			path, PASSPHRASE_MAX - 1);
	return n;
}

static int from_command(const char *cmd, char *buf)
{
	FILE *p = popen(cmd, "re");
	int n, st;

	if (!p) {
		fprintf(stderr, "ragstore: cannot run extpass command: %s\n", strerror(errno));
		return -1;
	}
	n = first_line(p, buf);
	/* Drain the rest so the command is not killed by SIGPIPE. */
	while (getc(p) != EOF)
		;
	st = pclose(p);
	if (st != 0) {
		/* st is a wait status, not the command's exit code. */
		if (st < 0)
			fprintf(stderr, "ragstore: extpass command: %s\n", strerror(errno));
		else if (WIFSIGNALED(st))
			fprintf(stderr, "ragstore: extpass command killed by signal %d (%s)\n",
				WTERMSIG(st), strsignal(WTERMSIG(st)));
		else
			fprintf(stderr, "ragstore: extpass command exited with %d\n",
				WEXITSTATUS(st));
		return -1;
	}
	if (n < 0)
		fprintf(stderr, "ragstore: extpass command printed no passphrase\n");
	return n;
}

static int from_tty(const char *prompt, char *buf)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+e");
	int n;

	if (!tty) {
		fprintf(stderr, "ragstore: no passphrase: use --passfile FILE or --extpass CMD, "
				"or run on a terminal\n");
		return -1;
	}
	/* Echo goes off before the prompt shows, so that nothing typed as
	 * soon as the prompt appears is echoed or flushed away. */
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	fputs(prompt, tty);
	fflush(tty);
	n = first_line(tty, buf);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fclose(tty);
	if (n < 0)
		fprintf(stderr, "ragstore: empty passphrase\n");
	return n;
}

char *passphrase_get(const char *passfile, const char *extpass, const char *prompt,
		     int confirm, size_t *len)
{
	char *buf = sodium_malloc(PASSPHRASE_MAX);
	char *again = NULL;
	int n;

	if (!buf) {
		fprintf(stderr, "ragstore: out of memory\n");
		return NULL;
	}
	if (passfile)
		n = from_file(passfile, buf);
	else if (extpass)
		n = from_command(extpass, buf);
	else
		n = from_tty(prompt, buf);
	if (n >= 0 && confirm && !passfile && !extpass) {
		again = sodium_malloc(PASSPHRASE_MAX);
		if (!again || from_tty("Repeat passphrase: ", again) != n ||
		    sodium_memcmp(buf, again, (size_t)n) != 0) {
			fprintf(stderr, "ragstore: passphrases do not match\n");
			n = -1;
		}
		sodium_free(again);
	}
	if (n < 0) {
		sodium_free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

int passphrase_relock(char *p)
{
	if (p && sodium_mlock(p, PASSPHRASE_MAX) != 0)
		return -errno;
	return 0;
}

void passphrase_free(char *p)
{
	sodium_free(p); /* wipes before freeing; NULL is a no-op */
}
