/* help.h - help texts (usage of each command) and the `help` command. */
#ifndef RAGSTORE_HELP_H
#define RAGSTORE_HELP_H

extern const char help_usage[], help_init[], help_mount[], help_passwd[], help_info[];

/* `ragstore help [TOPIC]` (argv[0] is "help"): prints the text and returns
 * EXIT_OK; an unknown topic is a usage error. */
int help_cmd(int argc, char **argv);

#endif
