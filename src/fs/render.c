/* render.c - the renderers of /.ragstore: stats, health, metrics, config.
 * The key names and their order are an interface (docs/STATS.md, and the
 * scripts that read these files): change them only with the docs. */
#include "render.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec.h"
#include "crypto.h"
#include "mountinfo.h"
#include "packer.h"
#include "log.h"
#include "policy.h"
#include "probe.h"
#include "wire.h"

/* The members of a JSON object of one count per operation class. */
static void render_op_counts(struct strbuf *sb, const uint64_t count[STATS_OP_COUNT])
{
	for (int i = 0; i < STATS_OP_COUNT; i++)
		strbuf_printf(sb, "%s\"%s\": %" PRIu64, i ? ", " : "",
			      stats_op_name((enum stats_op)i), count[i]);
}

/* The members of the scrub object past the counters: how it ended and
 * how far it has come (docs/STATS.md). */
static void render_scrub_progress(struct strbuf *sb, const struct stats_scrub *sc)
{
	const char *result = health_scrub_result(sc);
	struct health_scrub_pace p;

	health_scrub_pace(sc, &p);
	strbuf_printf(sb, ", \"result\": ");
	if (result)
		strbuf_printf(sb, "\"%s\"", result);
	else
		strbuf_printf(sb, "null");
	strbuf_printf(sb, ", \"files_total\": %" PRIu64 ", \"bytes_checked\": %" PRIu64
		      ", \"bytes_total\": %" PRIu64 ", \"progress\": %.4f, \"seconds\": %.3f"
		      ", \"rate_bytes_per_second\": %.0f, \"eta_seconds\": ", sc->files_total,
		      sc->bytes_checked, sc->bytes_total, p.progress, sc->seconds, p.rate);
	if (p.eta >= 0)
		strbuf_printf(sb, "%.1f", p.eta);
	else
		strbuf_printf(sb, "null");
}

/* stats.optimize: the running or last optimizer run (docs/STATS.md). */
static void render_optimize(struct strbuf *sb, const struct stats_optimize *o)
{
	strbuf_printf(sb, "  \"optimize\": {\"state\": \"%s\", \"dry_run\": %s, \"stopped\": %s, "
		      "\"started\": ", o->running ? "running" : o->started ? "done" : "idle",
		      o->dry ? "true" : "false", o->stopped ? "true" : "false");
	strbuf_json_time(sb, o->started);
	strbuf_printf(sb, ", \"finished\": ");
	strbuf_json_time(sb, o->running ? 0 : o->finished);
	strbuf_printf(sb, ", \"files_total\": %" PRIu64 ", \"files_done\": %" PRIu64
		      ", \"bytes_total\": %" PRIu64 ", \"bytes_done\": %" PRIu64
		      ", \"progress\": %.4f, \"files_rewritten\": %" PRIu64
		      ", \"bytes_rewritten\": %" PRIu64 ", \"stored_bytes_saved\": %" PRId64
		      ", \"seconds\": %.1f, \"eta_seconds\": ",
		      o->files_total, o->files_done, o->bytes_total, o->bytes_done,
		      !o->started ? 0.0 : !o->running ? 1.0
		      : o->bytes_total ? (o->bytes_done >= o->bytes_total ? 1.0
					  : (double)o->bytes_done / (double)o->bytes_total)
		      : 0.0,
		      o->files_rewritten, o->bytes_rewritten, o->stored_saved, o->seconds);
	if (o->eta_seconds < 0)
		strbuf_printf(sb, "null}\n");
	else
		strbuf_printf(sb, "%.1f}\n", o->eta_seconds);
}

void render_stats(const struct stats_snapshot *sn, struct strbuf *sb)
{
	const struct stats_totals *t = &sn->totals;
	const struct stats_scrub *sc = &sn->scrub;

	strbuf_printf(sb, "{\n");
	strbuf_printf(sb, "  \"logical_bytes\": %" PRId64 ",\n", t->logical);
	strbuf_printf(sb, "  \"stored_bytes\": %" PRId64 ",\n", t->stored);
	strbuf_printf(sb, "  \"ratio\": %.6f,\n", health_ratio(t));
	strbuf_printf(sb, "  \"savings_bytes\": %" PRId64 ",\n", t->logical - t->stored);
	strbuf_printf(sb, "  \"files\": %" PRId64 ",\n", t->files);
	strbuf_printf(sb, "  \"directories\": %" PRId64 ",\n", t->dirs);
	strbuf_printf(sb, "  \"algorithms\": {");
	for (int i = 0; i < STATS_ALGO_COUNT; i++)
		strbuf_printf(sb, "%s\n    \"%s\": {\"files\": %" PRId64
			      ", \"logical_bytes\": %" PRId64 ", \"stored_bytes\": %" PRId64 "}",
			      i ? "," : "", codec_name((uint8_t)i), t->algo[i].files,
			      t->algo[i].logical, t->algo[i].stored);
	strbuf_printf(sb, "\n  },\n");
	strbuf_printf(sb, "  \"totals\": {\"state\": \"%s\", "
		      "\"rebuilt_after_unclean_shutdown\": %s, \"rebuilt_at\": ",
		      sn->totals_rebuilding ? "rebuilding" : sn->totals_untrusted ? "untrusted"
		      : sn->totals_rebuilt ? "rebuilt" : "exact",
		      sn->totals_load == STATS_LOAD_UNCLEAN ? "true" : "false");
	strbuf_json_time(sb, sn->totals_rebuilt ? sn->totals_rebuilt_at : 0);
	strbuf_printf(sb, "},\n");
	/* Shared mode (docs/SHARED.md): the totals above are the store's as of
	 * this daemon's last merge (at this read); everything else in this
	 * file counts this daemon only. */
	if (sn->shared)
		strbuf_printf(sb, "  \"shared\": {\"daemons\": %d, \"unmerged\": {\"files\": %" PRId64
			      ", \"directories\": %" PRId64 ", \"logical_bytes\": %" PRId64
			      ", \"stored_bytes\": %" PRId64 "}},\n", sn->shared_daemons,
			      sn->unmerged.files, sn->unmerged.dirs, sn->unmerged.logical,
			      sn->unmerged.stored);
	strbuf_printf(sb, "  \"ops\": {");
	render_op_counts(sb, sn->ops);
	strbuf_printf(sb, "},\n  \"op_errors\": {");
	render_op_counts(sb, sn->op_errors);
	strbuf_printf(sb, "},\n  \"latency\": {");
	for (int i = 0; i < STATS_OP_COUNT; i++)
		strbuf_printf(sb, "%s\n    \"%s\": {\"count\": %" PRIu64 ", \"p50_us\": %.3f, "
			      "\"p99_us\": %.3f}", i ? "," : "", stats_op_name((enum stats_op)i),
			      sn->lat_count[i], (double)sn->lat_p50_ns[i] / 1000.0,
			      (double)sn->lat_p99_ns[i] / 1000.0);
	strbuf_printf(sb, "\n  },\n");
	strbuf_printf(sb, "  \"bytes_read\": %" PRIu64 ",\n", sn->bytes_read);
	strbuf_printf(sb, "  \"bytes_written\": %" PRIu64 ",\n", sn->bytes_written);
	strbuf_printf(sb, "  \"integrity_errors\": %" PRIu64 ",\n", sn->integrity_errors);
	strbuf_printf(sb, "  \"io_errors\": %" PRIu64 ",\n", sn->io_errors);
	strbuf_printf(sb, "  \"cache_hits\": %" PRIu64 ",\n", sn->cache_hits);
	strbuf_printf(sb, "  \"cache_misses\": %" PRIu64 ",\n", sn->cache_misses);
	strbuf_printf(sb, "  \"block_cache\": {\"capacity_bytes\": %" PRIu64 ", \"bytes\": %" PRIu64
		      ", \"blocks\": %" PRIu64 ", \"hits\": %" PRIu64 ", \"misses\": %" PRIu64
		      ", \"evictions\": %" PRIu64 ", \"dirty_bytes\": %" PRIu64 "},\n",
		      sn->bcache.capacity, sn->bcache.bytes, sn->bcache.blocks, sn->bcache.hits,
		      sn->bcache.misses, sn->bcache.evictions, sn->dirty_bytes);
	strbuf_printf(sb, "  \"uptime_seconds\": %.3f,\n", sn->uptime_seconds);
	strbuf_printf(sb, "  \"scrub\": {\"state\": \"%s\", \"files_checked\": %" PRIu64
		      ", \"files_bad\": %" PRIu64 ", \"blocks_checked\": %" PRIu64
		      ", \"blocks_bad\": %" PRIu64 ", \"aborted\": %s, \"last_started\": ",
		      health_scrub_state_name(sc->state), sc->files_checked, sc->files_bad,
		      sc->blocks_checked, sc->blocks_bad, sc->aborted ? "true" : "false");
	strbuf_json_time(sb, sc->last_started);
	strbuf_printf(sb, ", \"last_finished\": ");
	strbuf_json_time(sb, sc->last_finished);
	render_scrub_progress(sb, sc);
	strbuf_printf(sb, "},\n");
	render_optimize(sb, &sn->optimize);
	strbuf_printf(sb, "}\n");
}

void render_health(const struct health *h, struct strbuf *sb)
{
	strbuf_printf(sb, "{\n  \"score\": %d,\n  \"status\": \"%s\",\n  \"checks\": {", h->score,
		      health_status_name(h->status));
	for (int i = 0; i < h->nchecks; i++) {
		const struct health_check *c = &h->checks[i];

		strbuf_printf(sb, "%s\n    \"%s\": {\"status\": \"%s\", \"detail\": ", i ? "," : "",
			      c->name, health_status_name(c->status));
		strbuf_json_str(sb, c->detail);
		if (c->extra[0])
			strbuf_printf(sb, ", %s", c->extra);
		strbuf_printf(sb, "}");
	}
	strbuf_printf(sb, "\n  },\n  \"recommendations\": [");
	for (int i = 0; i < h->nrecs; i++) {
		strbuf_printf(sb, "%s\n    ", i ? "," : "");
		strbuf_json_str(sb, h->recs[i]);
	}
	strbuf_printf(sb, "%s]\n}\n", h->nrecs ? "\n  " : "");
}

static void render_metric_head(struct strbuf *sb, const char *name, const char *type,
			       const char *help)
{
	strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value in the exposition format: backslash, double quote and
 * newline escaped. */
static void render_label_value(struct strbuf *sb, const char *v)
{
	for (; *v; v++)
		strbuf_printf(sb, "%s", *v == '\\' ? "\\\\" : *v == '"' ? "\\\""
			      : *v == '\n' ? "\\n" : (char[2]){ *v, 0 });
}

void render_metric_labels(const struct store *s, struct strbuf *sb)
{
	char mnt[PATH_MAX];

	strbuf_printf(sb, "store=\"");
	render_label_value(sb, s->desc.uuid);
	strbuf_printf(sb, "\"");
	if (mountinfo_mount(s, mnt, sizeof(mnt), NULL, 0) == 0) {
		strbuf_printf(sb, ",mountpoint=\"");
		render_label_value(sb, mnt);
		strbuf_printf(sb, "\"");
	}
}

/* A metric with one sample labelled only with the store's labels L, its
 * value formatted by fmt. */
static void render_metric(struct strbuf *sb, const char *L, const char *name,
			  const char *type, const char *help, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void render_metric(struct strbuf *sb, const char *L, const char *name,
			  const char *type, const char *help, const char *fmt, ...)
{
	va_list ap;

	render_metric_head(sb, name, type, help);
	strbuf_printf(sb, "%s{%s} ", name, L);
	va_start(ap, fmt);
	strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	strbuf_printf(sb, "\n");
}

/* A counter with one sample per operation class, labelled op. */
static void render_op_metric(struct strbuf *sb, const char *L, const char *name,
			     const char *help, const uint64_t count[STATS_OP_COUNT])
{
	render_metric_head(sb, name, "counter", help);
	for (int i = 0; i < STATS_OP_COUNT; i++)
		strbuf_printf(sb, "%s{%s,op=\"%s\"} %" PRIu64 "\n", name, L,
			      stats_op_name((enum stats_op)i), count[i]);
}

/* Latency quantiles, sum and count per operation class. */
static void render_latency(struct strbuf *sb, const char *L, const struct stats_snapshot *sn)
{
	static const char name[] = "ragstore_operation_duration_seconds";

	render_metric_head(sb, name, "summary",
			   "Latency of filesystem operations by class (from a log-linear histogram).");
	for (int i = 0; i < STATS_OP_COUNT; i++) {
		const char *op = stats_op_name((enum stats_op)i);

		strbuf_printf(sb, "%s{%s,op=\"%s\",quantile=\"0.5\"} %.9f\n", name, L, op,
			      (double)sn->lat_p50_ns[i] / 1e9);
		strbuf_printf(sb, "%s{%s,op=\"%s\",quantile=\"0.99\"} %.9f\n", name, L, op,
			      (double)sn->lat_p99_ns[i] / 1e9);
		strbuf_printf(sb, "%s_sum{%s,op=\"%s\"} %.9f\n", name, L, op,
			      (double)sn->lat_sum_ns[i] / 1e9);
		strbuf_printf(sb, "%s_count{%s,op=\"%s\"} %" PRIu64 "\n", name, L, op,
			      sn->lat_count[i]);
	}
}

/* The store totals, overall and per compression algorithm. */
static void render_totals_metrics(struct strbuf *sb, const char *L,
				  const struct stats_snapshot *sn)
{
	const struct stats_totals *t = &sn->totals;
	static const struct {
		const char *name, *help;
	} algo_m[3] = {
		{ "ragstore_algorithm_files", "Regular files by compression setting." },
		{ "ragstore_algorithm_logical_bytes", "Logical bytes by compression setting." },
		{ "ragstore_algorithm_stored_bytes", "Backing bytes by compression setting." },
	};

	render_metric(sb, L, "ragstore_logical_bytes", "gauge",
		      "Sum of the logical sizes of all files.", "%" PRId64, t->logical);
	render_metric(sb, L, "ragstore_stored_bytes", "gauge",
		      "Allocation of the backing files (st_blocks*512, headers included).",
		      "%" PRId64, t->stored);
	render_metric(sb, L, "ragstore_savings_bytes", "gauge",
		      "Logical minus stored bytes (negative when storage costs more).",
		      "%" PRId64, t->logical - t->stored);
	render_metric(sb, L, "ragstore_compression_ratio", "gauge",
		      "Stored bytes divided by logical bytes (0 when empty).", "%.6f",
		      health_ratio(t));
	render_metric(sb, L, "ragstore_files", "gauge", "Regular files (each inode once).",
		      "%" PRId64, t->files);
	render_metric(sb, L, "ragstore_directories", "gauge", "Directories, not counting the root.",
		      "%" PRId64, t->dirs);
	for (int m = 0; m < 3; m++) {
		render_metric_head(sb, algo_m[m].name, "gauge", algo_m[m].help);
		for (int i = 0; i < STATS_ALGO_COUNT; i++) {
			const struct stats_algo *a = &t->algo[i];

			strbuf_printf(sb, "%s{%s,algorithm=\"%s\"} %" PRId64 "\n", algo_m[m].name,
				      L, codec_name((uint8_t)i),
				      m == 0 ? a->files : m == 1 ? a->logical : a->stored);
		}
	}
	render_metric(sb, L, "ragstore_totals_rebuilding", "gauge",
		      "1 while the store totals are being rebuilt by a walk.", "%d",
		      sn->totals_rebuilding);
	render_metric(sb, L, "ragstore_totals_rebuilt_after_unclean_shutdown", "gauge",
		      "1 when this mount found the totals left by an unclean shutdown.", "%d",
		      sn->totals_load == STATS_LOAD_UNCLEAN);
}

/* The running or last scrub. */
static void render_scrub_metrics(struct strbuf *sb, const char *L, const struct stats_scrub *sc)
{
	const struct {
		const char *name, *help;
		uint64_t v;
	} counts[] = {
		{ "ragstore_scrub_files_checked", "Files verified by the running or last scrub.",
		  sc->files_checked },
		{ "ragstore_scrub_files_bad", "Damaged files found by the running or last scrub.",
		  sc->files_bad },
		{ "ragstore_scrub_blocks_checked", "Blocks verified by the running or last scrub.",
		  sc->blocks_checked },
		{ "ragstore_scrub_blocks_bad", "Bad blocks found by the running or last scrub.",
		  sc->blocks_bad },
		{ "ragstore_scrub_files_total", "Files the running or last scrub set out to verify.",
		  sc->files_total },
		{ "ragstore_scrub_checked_bytes",
		  "Logical bytes verified by the running or last scrub.", sc->bytes_checked },
		{ "ragstore_scrub_total_bytes",
		  "Logical bytes the running or last scrub set out to verify.", sc->bytes_total },
	};
	struct health_scrub_pace p;

	health_scrub_pace(sc, &p);
	render_metric(sb, L, "ragstore_scrub_running", "gauge", "1 while a scrub runs.", "%d",
		      sc->state == STATS_SCRUB_RUNNING);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		render_metric(sb, L, counts[i].name, "gauge", counts[i].help, "%" PRIu64,
			      counts[i].v);
	render_metric(sb, L, "ragstore_scrub_last_finished_timestamp_seconds", "gauge",
		      "Unix time the last scrub finished (0: never).", "%lld",
		      (long long)sc->last_finished);
	render_metric(sb, L, "ragstore_scrub_last_started_timestamp_seconds", "gauge",
		      "Unix time the running or last scrub started (0: never).", "%lld",
		      (long long)sc->last_started);
	render_metric(sb, L, "ragstore_scrub_stopped", "gauge",
		      "1 when the last scrub was stopped before its end (scrub --stop, unmount).",
		      "%d", sc->state != STATS_SCRUB_RUNNING && sc->aborted);
	render_metric(sb, L, "ragstore_scrub_progress_ratio", "gauge",
		      "Part of the running or last scrub done, 0 to 1.", "%.4f", p.progress);
	render_metric(sb, L, "ragstore_scrub_rate_bytes", "gauge",
		      "Logical bytes verified per second by the running or last scrub.", "%.0f",
		      p.rate);
	render_metric(sb, L, "ragstore_scrub_eta_seconds", "gauge",
		      "Seconds the running scrub still needs (-1: not running or not known).",
		      "%.1f", p.eta);
}

/* The backing filesystem (when statvfs answered) and the health verdict. */
static void render_health_metrics(struct strbuf *sb, const char *L, const struct health *h)
{
	if (h->sv_ok) {
		double fr = (double)h->sv.f_frsize;

		render_metric(sb, L, "ragstore_backing_size_bytes", "gauge",
			      "Size of the backing filesystem.", "%.0f",
			      (double)h->sv.f_blocks * fr);
		render_metric(sb, L, "ragstore_backing_free_bytes", "gauge",
			      "Space available to the daemon on the backing filesystem.", "%.0f",
			      (double)h->sv.f_bavail * fr);
		render_metric(sb, L, "ragstore_backing_inodes", "gauge",
			      "Inodes of the backing filesystem (0: not reported).", "%llu",
			      (unsigned long long)h->sv.f_files);
		render_metric(sb, L, "ragstore_backing_free_inodes", "gauge",
			      "Inodes available on the backing filesystem.", "%llu",
			      (unsigned long long)h->sv.f_favail);
	}
	render_metric(sb, L, "ragstore_health_score", "gauge", "Health score 0-100 (see health).",
		      "%d", h->score);
	render_metric(sb, L, "ragstore_health_status", "gauge",
		      "Health status: 0 ok, 1 warning, 2 critical.", "%d", (int)h->status);
}

void render_metrics(const struct stats_snapshot *sn, const struct health *h,
		    const char *L, struct strbuf *sb)
{
	render_totals_metrics(sb, L, sn);
	render_op_metric(sb, L, "ragstore_operations_total", "Filesystem operations by class.",
			 sn->ops);
	render_op_metric(sb, L, "ragstore_operation_errors_total",
			 "Filesystem operations that returned an error, by class.",
			 sn->op_errors);
	render_latency(sb, L, sn);
	render_metric(sb, L, "ragstore_read_bytes_total", "counter", "Bytes read by users.",
		      "%" PRIu64, sn->bytes_read);
	render_metric(sb, L, "ragstore_written_bytes_total", "counter", "Bytes written by users.",
		      "%" PRIu64, sn->bytes_written);
	render_metric(sb, L, "ragstore_integrity_errors_total", "counter",
		      "Blocks, headers or names that failed authentication.", "%" PRIu64,
		      sn->integrity_errors);
	render_metric(sb, L, "ragstore_io_errors_total", "counter",
		      "I/O errors of the backing store.", "%" PRIu64, sn->io_errors);
	render_metric(sb, L, "ragstore_cache_hits_total", "counter", "Cache lookups that hit.",
		      "%" PRIu64, sn->cache_hits);
	render_metric(sb, L, "ragstore_cache_misses_total", "counter", "Cache lookups that missed.",
		      "%" PRIu64, sn->cache_misses);
	render_metric(sb, L, "ragstore_block_cache_capacity_bytes", "gauge",
		      "Capacity of the plaintext block cache (-o cache_size).", "%" PRIu64,
		      sn->bcache.capacity);
	render_metric(sb, L, "ragstore_block_cache_bytes", "gauge",
		      "Bytes held by the block cache.", "%" PRIu64, sn->bcache.bytes);
	render_metric(sb, L, "ragstore_block_cache_hits_total", "counter",
		      "Block cache lookups that hit.", "%" PRIu64, sn->bcache.hits);
	render_metric(sb, L, "ragstore_block_cache_misses_total", "counter",
		      "Block cache lookups that missed.", "%" PRIu64, sn->bcache.misses);
	render_metric(sb, L, "ragstore_block_cache_evictions_total", "counter",
		      "Blocks evicted from the block cache.", "%" PRIu64, sn->bcache.evictions);
	render_metric(sb, L, "ragstore_dirty_bytes", "gauge",
		      "Bytes written to open files and not yet in a record.", "%" PRIu64,
		      sn->dirty_bytes);
	render_metric(sb, L, "ragstore_uptime_seconds", "gauge",
		      "Seconds since the store was opened.", "%.3f", sn->uptime_seconds);
	render_scrub_metrics(sb, L, &sn->scrub);
	render_health_metrics(sb, L, h);
}

/* ini values are single lines; a path with a newline would break that. */
static void render_ini_value(struct strbuf *sb, const char *key, const char *v)
{
	strbuf_printf(sb, "%s = ", key);
	for (; *v; v++)
		strbuf_printf(sb, "%s", *v == '\n' ? "\\n" : *v == '\\' ? "\\\\" : (char[2]){ *v, 0 });
	strbuf_printf(sb, "\n");
}

void render_config(const struct store *s, struct strbuf *sb)
{
	const struct store_desc *d = &s->desc;
	char codec[32], mnt[PATH_MAX], opts[4096], abs[PATH_MAX];

	codec_format(&d->codec, codec, sizeof(codec));
	strbuf_printf(sb, "# Effective configuration of this mount (no secrets); "
		      "see docs/STATS.md.\n");
	strbuf_printf(sb, "[store]\n");
	render_ini_value(sb, "backing",
			 mountinfo_backing(s, abs, sizeof(abs)) == 0 ? abs : s->backing);
	strbuf_printf(sb, "uuid = %s\n", d->uuid);
	strbuf_printf(sb, "format_version = %d\n", d->version);
	strbuf_printf(sb, "cipher = %s\n", crypto_cipher_name(d->cipher));
	strbuf_printf(sb, "encryption = %s\n", d->cipher == CIPHER_NONE ? "no" : "yes");
	strbuf_printf(sb, "names = %s\n", s->names ? "encrypted" : "plaintext");
	strbuf_printf(sb, "block_size = %u\n", (unsigned)d->block_size);
	strbuf_printf(sb, "compression = %s\n", codec);
	if (d->cipher != CIPHER_NONE) {
		strbuf_printf(sb, "kdf_ops = %" PRIu64 "\n", d->kdf_ops);
		strbuf_printf(sb, "kdf_mem = %" PRIu64 "\n", d->kdf_mem);
	}
	strbuf_printf(sb, "\n[backing]\n# what the backing filesystem supports, probed at mount "
		      "(docs/BACKING.md)\n");
	probe_render(&s->probe, sb, "");
	strbuf_printf(sb, "\n[mount]\n");
	strbuf_printf(sb, "shared = %s\n", s->shared ? "yes" : "no");
	if (s->shared)
		strbuf_printf(sb, "# shared: other daemons may serve this store at once; "
			      "per-file locks, close-to-open caching (attribute and entry "
			      "timeouts 0 s, no keep_cache), flock forwarded to the backing "
			      "files; see docs/SHARED.md\n");
	if (mountinfo_mount(s, mnt, sizeof(mnt), opts, sizeof(opts)) == 0) {
		render_ini_value(sb, "mountpoint", mnt);
		render_ini_value(sb, "options", opts);
	} else {
		strbuf_printf(sb, "# mount point and options not found in /proc/self/mountinfo\n");
	}
	strbuf_printf(sb, "killpriv_v2 = %s\n", wire_killpriv() ? "yes" : "no");
	strbuf_printf(sb, "# killpriv_v2: the daemon clears set-ID bits on write, truncate "
		      "and chown, so the kernel skips its security.capability check "
		      "before each write (docs/CORE.md)\n");
	strbuf_printf(sb, "pack = %s\n", s->packer ? "yes" : "no");
	strbuf_printf(sb, "# pack: small files move into their directory's pack after their "
		      "last close; %llu packed, %llu packs compacted since mount "
		      "(docs/FORMAT.md, \"Packed small files\")\n",
		      packer_packed(s->packer), packer_compacted(s->packer));
	if (log_file_path())
		render_ini_value(sb, "logfile", log_file_path());
	else
		strbuf_printf(sb, "# logfile: none (messages go to stderr or syslog)\n");
	strbuf_printf(sb, "\n[policies]\n");
	if (policy_source(s->policies))
		render_ini_value(sb, "file", policy_source(s->policies));
	else
		strbuf_printf(sb, "# built in: no --config was given\n");
	strbuf_printf(sb, "\n");
	policy_set_render(s->policies, sb);
}
