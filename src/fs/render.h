/* render.h - the text of the /.ragstore files that are figures: stats and
 * health as JSON, metrics in the Prometheus text exposition format, config
 * in ini form.  docs/STATS.md documents every key.  Each renderer appends
 * to a strbuf and leaves failures (memory, size limit) in it, for the
 * caller to check once; none of them fails otherwise.  No FUSE here. */
#ifndef RAGSTORE_RENDER_H
#define RAGSTORE_RENDER_H

#include "health.h"
#include "stats.h"
#include "store.h"
#include "strbuf.h"

/* The snapshot as the JSON object of /.ragstore/stats. */
void render_stats(const struct stats_snapshot *sn, struct strbuf *sb);

/* The verdict as the JSON object of /.ragstore/health. */
void render_health(const struct health *h, struct strbuf *sb);

/* The labels that name the store of s on every metric, so that two stores
 * exported from one host stay apart: store="UUID" and, when the mount is
 * found in /proc/self/mountinfo, mountpoint="PATH" (values escaped as the
 * exposition format wants), without braces. */
void render_metric_labels(const struct store *s, struct strbuf *sb);

/* The snapshot and the verdict as ragstore_* metrics (/.ragstore/metrics),
 * every sample carrying the labels L (from render_metric_labels). */
void render_metrics(const struct stats_snapshot *sn, const struct health *h,
		    const char *L, struct strbuf *sb);

/* The effective configuration of s and of its mount, in ini form
 * (/.ragstore/config).  Holds no secret: no key, salt or wrapped key. */
void render_config(const struct store *s, struct strbuf *sb);

#endif
