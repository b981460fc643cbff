/* cmd_mount.h - the `ragstore mount` command. */
#ifndef RAGSTORE_CMD_MOUNT_H
#define RAGSTORE_CMD_MOUNT_H

/* `ragstore mount ARGS` (argv[0] is "mount").  Returns the exit code once
 * the mount is usable (or, with -f, once it is unmounted). */
int cmd_mount(int argc, char **argv);

#endif
