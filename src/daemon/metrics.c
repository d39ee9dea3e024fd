/* SPDX-License-Identifier: ISC */
/*
 * metrics.c - the counters Prometheus scrapes, and their text exposition
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Three kinds of state, each with its own rule:
 * - per-listener and per-identity slots in append-only lists: connection
 *   threads find theirs without a lock (a slot, once published, never
 *   moves or goes away before metrics_fini()) and only add to atomics;
 * - label-value series (a result, a counter's labels): found without a
 *   lock among those published, added under the table's lock once;
 * - the configuration's limits and directories, copied at start-up and at
 *   each reload under conf.lock, which only the scrape and the main thread
 *   take.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "daemon/metrics.h"
#include "daemon/park.h"
#include "daemon/services/quota.h"

/* Series of one family, each with up to METRICS_LABELS_MAX label values. */
struct series {
	char *values[METRICS_LABELS_MAX];
	atomic_ullong count;
};

struct series_table {
	pthread_mutex_t lock;           /* taken only to add a series */
	atomic_uint n;                  /* series published: their values never change */
	struct series v[METRICS_SERIES_MAX];
};

/* Upper bounds of the histograms' buckets, and how they are written as le="...". */
#define N_BUCKETS 8
static const uint64_t size_bounds[N_BUCKETS] = {
	1024, 16384, 262144, 1048576, 16777216, 268435456, 1073741824, 17179869184ull,
};
static const char *const size_le[N_BUCKETS] = {
	"1024", "16384", "262144", "1048576", "16777216", "268435456", "1073741824", "17179869184",
};
static const uint64_t duration_bounds_ms[N_BUCKETS] = {
	10, 100, 500, 1000, 5000, 30000, 120000, 600000,
};
static const char *const duration_le[N_BUCKETS] = {
	"0.01", "0.1", "0.5", "1", "5", "30", "120", "600",
};

/* Counts per bucket, not cumulative: an observation is one addition. */
struct histogram {
	atomic_ullong bucket[N_BUCKETS + 1];    /* the last: above every bound */
	atomic_ullong sum;
};

struct metrics_listener {
	_Atomic(struct metrics_listener *) next;        /* appended while scrapes walk the list */
	char *name;
	atomic_llong open;
	atomic_ullong bytes_in, bytes_out;
	struct series_table conns;      /* by result */
	struct series_table uploads;    /* by result */
	struct histogram size;          /* sum in bytes */
	struct histogram duration;      /* sum in milliseconds */
	atomic_llong last_upload_ms;    /* wall clock; 0: none yet */
	atomic_bool receive;            /* has uploads: its histograms are shown */
};

struct metrics_identity {
	struct metrics_identity *next;
	char *name;
	atomic_ullong uploads, bytes;
	atomic_llong last_upload_ms;
};

struct metrics_counter {
	struct metrics_counter *next;
	char *name, *help;
	char *labels[METRICS_LABELS_MAX];
	unsigned n_labels;
	struct series_table series;
};

struct collector {
	metrics_collect_fn *fn;
	void *arg;
};

/* What the scrape shows of the configuration in force. */
struct conf_listener {
	char *name;
	char *output_dir;               /* NULL: echo */
	unsigned max_connections;       /* in effect: its own, at most the process's */
	unsigned max_per_ip, idle_timeout;
	uint64_t max_rate, max_file_size, min_free_space;
};

struct conf_identity {
	char *name;
	uint64_t quota_bytes, max_rate;
	unsigned quota_files, max_connections;
};

static struct {
	pthread_mutex_t lock;           /* adding to the lists below */
	_Atomic(struct metrics_listener *) listeners;
	_Atomic(struct metrics_identity *) identities;
	struct metrics_counter *counters;
	struct collector *collectors;
	size_t n_collectors;
	struct series_table reloads;    /* by result */
	atomic_int last_reload_ok;
	atomic_llong last_reload_ms, start_ms;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER,
	.reloads = { .lock = PTHREAD_MUTEX_INITIALIZER } };

static struct {
	pthread_mutex_t lock;
	struct conf_listener *l;
	size_t n_l;
	struct conf_identity *id;
	size_t n_id;
	unsigned max_connections;
} conf = { .lock = PTHREAD_MUTEX_INITIALIZER };

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
add(atomic_ullong *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static unsigned long long
get(atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- series ------------------------------------------------------------- */

static bool
series_is(const struct series *s, const char *const *values, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(s->values[i], values[i]) != 0)
			return false;
	}
	return true;
}

/* The count of those values, added if new; NULL when the table is full or out of memory. */
static atomic_ullong *
series_find(struct series_table *t, const char *const *values, unsigned n_values)
{
	unsigned n = atomic_load_explicit(&t->n, memory_order_acquire);
	atomic_ullong *found = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (series_is(&t->v[i], values, n_values))
			return &t->v[i].count;
	}
	pthread_mutex_lock(&t->lock);
	/* Another thread may have added it since. */
	n = atomic_load_explicit(&t->n, memory_order_relaxed);
	for (unsigned i = 0; i < n && found == NULL; i++) {
		if (series_is(&t->v[i], values, n_values))
			found = &t->v[i].count;
	}
	if (found == NULL && n < METRICS_SERIES_MAX) {
		struct series *s = &t->v[n];
		unsigned i;

		for (i = 0; i < n_values && (s->values[i] = strdup(values[i])) != NULL; i++)
			;
		if (i == n_values) {
			atomic_init(&s->count, 0);
			found = &s->count;
			atomic_store_explicit(&t->n, n + 1, memory_order_release);
		} else {
			while (i-- > 0) {
				free(s->values[i]);
				s->values[i] = NULL;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

static void
series_add(struct series_table *t, const char *const *values, unsigned n_values, uint64_t n)
{
	atomic_ullong *c = series_find(t, values, n_values);

	if (c != NULL)
		add(c, n);
}

static void
series_init(struct series_table *t)
{
	pthread_mutex_init(&t->lock, NULL);
	atomic_init(&t->n, 0);
}

static void
series_free(struct series_table *t)
{
	unsigned n = atomic_load(&t->n);

	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = 0; j < METRICS_LABELS_MAX; j++)
			free(t->v[i].values[j]);
	}
	pthread_mutex_destroy(&t->lock);
}

/* ---- slots -------------------------------------------------------------- */

struct metrics_listener *
metrics_listener(const char *name)
{
	struct metrics_listener *m;

	for (m = atomic_load_explicit(&reg.listeners, memory_order_acquire); m; m = m->next) {
		if (strcmp(m->name, name) == 0)
			return m;
	}
	pthread_mutex_lock(&reg.lock);
	for (m = atomic_load_explicit(&reg.listeners, memory_order_relaxed); m; m = m->next) {
		if (strcmp(m->name, name) == 0)
			goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->name = strdup(name)) == NULL) {
		free(m);
		m = NULL;
		goto out;
	}
	series_init(&m->conns);
	series_init(&m->uploads);
	/* Appended at the end, so the exposition keeps the order listeners were first seen in. */
	{
		struct metrics_listener *last = atomic_load_explicit(&reg.listeners,
		    memory_order_relaxed);

		if (last == NULL) {
			atomic_store_explicit(&reg.listeners, m, memory_order_release);
		} else {
			while (atomic_load_explicit(&last->next, memory_order_relaxed) != NULL)
				last = atomic_load_explicit(&last->next, memory_order_relaxed);
			/* Readers see the whole slot before they see it in the list. */
			atomic_store_explicit(&last->next, m, memory_order_release);
		}
	}
out:
	pthread_mutex_unlock(&reg.lock);
	return m;
}

static struct metrics_identity *
identity_slot(const char *name)
{
	struct metrics_identity *m;

	for (m = atomic_load_explicit(&reg.identities, memory_order_acquire); m; m = m->next) {
		if (strcmp(m->name, name) == 0)
			return m;
	}
	pthread_mutex_lock(&reg.lock);
	for (m = atomic_load_explicit(&reg.identities, memory_order_relaxed); m; m = m->next) {
		if (strcmp(m->name, name) == 0)
			goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->name = strdup(name)) == NULL) {
		free(m);
		m = NULL;
		goto out;
	}
	/* Pushed in front: identities are rendered sorted by the scrape, not in list order. */
	m->next = atomic_load_explicit(&reg.identities, memory_order_relaxed);
	atomic_store_explicit(&reg.identities, m, memory_order_release);
out:
	pthread_mutex_unlock(&reg.lock);
	return m;
}

/* ---- the data path ------------------------------------------------------ */

void
metrics_bytes_in(struct metrics_listener *m, uint64_t n)
{
	if (m != NULL)
		add(&m->bytes_in, n);
}

void
metrics_bytes_out(struct metrics_listener *m, uint64_t n)
{
	if (m != NULL)
		add(&m->bytes_out, n);
}

void
metrics_conn_open(struct metrics_listener *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->open, 1, memory_order_relaxed);
}

void
metrics_conn_closed(struct metrics_listener *m, const char *result)
{
	if (m == NULL)
		return;
	atomic_fetch_sub_explicit(&m->open, 1, memory_order_relaxed);
	series_add(&m->conns, &result, 1, 1);
}

void
metrics_conn_gone(struct metrics_listener *m)
{
	if (m != NULL)
		atomic_fetch_sub_explicit(&m->open, 1, memory_order_relaxed);
}

void
metrics_conn_refused(struct metrics_listener *m, const char *result)
{
	if (m != NULL)
		series_add(&m->conns, &result, 1, 1);
}

static void
observe(struct histogram *h, const uint64_t *bounds, uint64_t v)
{
	size_t i = 0;

	while (i < N_BUCKETS && v > bounds[i])
		i++;
	add(&h->sum, v);
	add(&h->bucket[i], 1);
}

void
metrics_upload(struct metrics_listener *m, const char *identity, const char *result,
    bool stored, uint64_t bytes, long long ms)
{
	long long now;
	struct metrics_identity *id;

	if (m == NULL)
		return;
	atomic_store_explicit(&m->receive, true, memory_order_relaxed);
	series_add(&m->uploads, &result, 1, 1);
	if (!stored)
		return;
	observe(&m->size, size_bounds, bytes);
	observe(&m->duration, duration_bounds_ms, ms > 0 ? (uint64_t)ms : 0);
	now = wall_ms();
	atomic_store_explicit(&m->last_upload_ms, now, memory_order_relaxed);
	if (identity != NULL && (id = identity_slot(identity)) != NULL) {
		add(&id->uploads, 1);
		add(&id->bytes, bytes);
		atomic_store_explicit(&id->last_upload_ms, now, memory_order_relaxed);
	}
}

void
metrics_reload(bool ok)
{
	const char *result = ok ? "success" : "failure";

	series_add(&reg.reloads, &result, 1, 1);
	atomic_store(&reg.last_reload_ok, ok ? 1 : 0);
	atomic_store(&reg.last_reload_ms, wall_ms());
}

/* ---- the configuration in force ----------------------------------------- */

static void
conf_free(struct conf_listener *l, size_t n_l, struct conf_identity *id, size_t n_id)
{
	for (size_t i = 0; l != NULL && i < n_l; i++) {
		free(l[i].name);
		free(l[i].output_dir);
	}
	free(l);
	for (size_t i = 0; id != NULL && i < n_id; i++)
		free(id[i].name);
	free(id);
}

void
metrics_configure(const struct config *cfg)
{
	struct conf_listener *l = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*l));
	struct conf_identity *id = calloc(cfg->n_clients ? cfg->n_clients : 1, sizeof(*id));
	bool nomem = l == NULL || id == NULL;
	struct metrics_listener *slot;

	if (atomic_load(&reg.start_ms) == 0) {
		long long now = wall_ms();

		/* The first configuration counts as a successful load, as Prometheus's own does. */
		atomic_store(&reg.start_ms, now);
		atomic_store(&reg.last_reload_ms, now);
		atomic_store(&reg.last_reload_ok, 1);
	}
	for (size_t i = 0; !nomem && i < cfg->n_listeners; i++) {
		const struct listener_cfg *c = &cfg->listeners[i];

		l[i] = (struct conf_listener){ .name = strdup(c->name),
		    .max_connections = c->max_connections != 0 &&
		    c->max_connections < cfg->max_connections ? c->max_connections :
		    cfg->max_connections,
		    .max_per_ip = c->max_per_ip, .idle_timeout = c->idle_timeout,
		    .max_rate = c->max_rate };
		if (c->mode == MODE_RECEIVE) {
			l[i].output_dir = strdup(c->output_dir);
			l[i].max_file_size = c->max_file_size;
			l[i].min_free_space = c->min_free_space;
			nomem |= l[i].output_dir == NULL;
		}
		nomem |= l[i].name == NULL;
		/* A slot from the start: its counters show 0 before the first connection. */
		if ((slot = metrics_listener(c->name)) == NULL)
			nomem = true;
		else if (c->mode == MODE_RECEIVE)
			atomic_store(&slot->receive, true);
	}
	for (size_t i = 0; !nomem && i < cfg->n_clients; i++) {
		const struct identity_cfg *c = &cfg->clients[i];

		id[i] = (struct conf_identity){ .name = strdup(c->name), .quota_bytes = c->quota_bytes,
		    .quota_files = c->quota_files, .max_rate = c->max_rate,
		    .max_connections = c->max_connections };
		nomem |= id[i].name == NULL;
	}
	if (nomem) {
		/* The scrape goes on showing the limits it had: they are only a view. */
		conf_free(l, cfg->n_listeners, id, cfg->n_clients);
		return;
	}
	pthread_mutex_lock(&conf.lock);
	conf_free(conf.l, conf.n_l, conf.id, conf.n_id);
	conf.l = l;
	conf.n_l = cfg->n_listeners;
	conf.id = id;
	conf.n_id = cfg->n_clients;
	conf.max_connections = cfg->max_connections;
	pthread_mutex_unlock(&conf.lock);
}

/* ---- extension point ---------------------------------------------------- */

struct metrics_counter *
metrics_counter_new(const char *name, const char *help, const char *const *labels,
    unsigned n_labels)
{
	struct metrics_counter *c;

	if (n_labels > METRICS_LABELS_MAX || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->n_labels = n_labels;
	series_init(&c->series);
	if ((c->name = strdup(name)) == NULL || (c->help = strdup(help)) == NULL)
		goto fail;
	for (unsigned i = 0; i < n_labels; i++) {
		if ((c->labels[i] = strdup(labels[i])) == NULL)
			goto fail;
	}
	pthread_mutex_lock(&reg.lock);
	{
		struct metrics_counter **pp = &reg.counters;

		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = c;
	}
	pthread_mutex_unlock(&reg.lock);
	return c;
fail:
	for (unsigned i = 0; i < n_labels; i++)
		free(c->labels[i]);
	free(c->name);
	free(c->help);
	series_free(&c->series);
	free(c);
	return NULL;
}

void
metrics_counter_add(struct metrics_counter *c, const char *const *values, uint64_t n)
{
	if (c != NULL)
		series_add(&c->series, values, c->n_labels, n);
}

int
metrics_add_collector(metrics_collect_fn *fn, void *arg)
{
	struct collector *v;
	int rc = -1;

	pthread_mutex_lock(&reg.lock);
	if ((v = realloc(reg.collectors, (reg.n_collectors + 1) * sizeof(*v))) != NULL) {
		reg.collectors = v;
		v[reg.n_collectors++] = (struct collector){ fn, arg };
		rc = 0;
	}
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

/* ---- rendering ---------------------------------------------------------- */

void
metrics_label_value(FILE *fp, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", fp);
		else if (*p == '"')
			fputs("\\\"", fp);
		else if (*p == '\n')
			fputs("\\n", fp);
		else
			fputc(*p, fp);
	}
}

/* HELP text escapes only backslash and newline. */
static void
help_text(FILE *fp, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", fp);
		else if (*p == '\n')
			fputs("\\n", fp);
		else
			fputc(*p, fp);
	}
}

void
metrics_family(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s ", name);
	help_text(fp, help);
	fprintf(fp, "\n# TYPE %s %s\n", name, type);
}

/* name{label="value"} or name{label="value",label2="value2"}, without the sample. */
static void
series_name(FILE *fp, const char *name, const char *label, const char *value, const char *label2,
    const char *value2)
{
	fprintf(fp, "%s{%s=\"", name, label);
	metrics_label_value(fp, value);
	if (label2 != NULL) {
		fprintf(fp, "\",%s=\"", label2);
		metrics_label_value(fp, value2);
	}
	fputs("\"}", fp);
}

static void
sample_u(FILE *fp, const char *name, const char *label, const char *value, unsigned long long v)
{
	series_name(fp, name, label, value, NULL, NULL);
	fprintf(fp, " %llu\n", v);
}

/* A wall-clock time in milliseconds, as seconds. */
static void
sample_time(FILE *fp, const char *name, const char *label, const char *value, long long ms)
{
	if (label != NULL)
		series_name(fp, name, label, value, NULL, NULL);
	else
		fputs(name, fp);
	fprintf(fp, " %lld.%03lld\n", ms / 1000, ms % 1000);
}

static struct metrics_listener *
first_listener(void)
{
	return atomic_load_explicit(&reg.listeners, memory_order_acquire);
}

/* The next listener, seen with everything written before it was appended. */
static struct metrics_listener *
next_listener(struct metrics_listener *m)
{
	return atomic_load_explicit(&m->next, memory_order_acquire);
}

typedef unsigned long long listener_value_fn(struct metrics_listener *m);

static unsigned long long v_bytes_in(struct metrics_listener *m) { return get(&m->bytes_in); }
static unsigned long long v_bytes_out(struct metrics_listener *m) { return get(&m->bytes_out); }

static unsigned long long
v_open(struct metrics_listener *m)
{
	long long n = atomic_load_explicit(&m->open, memory_order_relaxed);

	return n > 0 ? (unsigned long long)n : 0;
}

/* One series per listener of a family with the listener label alone. */
static void
per_listener(FILE *fp, const char *name, const char *type, const char *help,
    listener_value_fn *value)
{
	metrics_family(fp, name, type, help);
	for (struct metrics_listener *m = first_listener(); m; m = next_listener(m))
		sample_u(fp, name, "listener", m->name, value(m));
}

/* A family by listener and result. */
static void
per_result(FILE *fp, const char *name, const char *help, size_t table_offset)
{
	metrics_family(fp, name, "counter", help);
	for (struct metrics_listener *m = first_listener(); m; m = next_listener(m)) {
		struct series_table *t = (struct series_table *)(void *)((char *)m + table_offset);
		unsigned n = atomic_load_explicit(&t->n, memory_order_acquire);

		for (unsigned i = 0; i < n; i++) {
			series_name(fp, name, "listener", m->name, "result", t->v[i].values[0]);
			fprintf(fp, " %llu\n", get(&t->v[i].count));
		}
	}
}

static void
histogram(FILE *fp, const char *name, const char *help, size_t offset, const char *const *le,
    bool ms)
{
	char bucket[128], sum[128], count[128];

	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	snprintf(sum, sizeof(sum), "%s_sum", name);
	snprintf(count, sizeof(count), "%s_count", name);
	metrics_family(fp, name, "histogram", help);
	for (struct metrics_listener *m = first_listener(); m; m = next_listener(m)) {
		struct histogram *h = (struct histogram *)(void *)((char *)m + offset);
		unsigned long long cumulative = 0, total;

		if (!atomic_load(&m->receive))
			continue;       /* an echo listener: no uploads */
		for (size_t i = 0; i <= N_BUCKETS; i++) {
			cumulative += get(&h->bucket[i]);
			series_name(fp, bucket, "listener", m->name, "le", i < N_BUCKETS ? le[i] : "+Inf");
			fprintf(fp, " %llu\n", cumulative);
		}
		total = get(&h->sum);
		series_name(fp, sum, "listener", m->name, NULL, NULL);
		if (ms)
			fprintf(fp, " %llu.%03llu\n", total / 1000, total % 1000);
		else
			fprintf(fp, " %llu\n", total);
		/* The +Inf bucket's count: the two always agree within one scrape. */
		sample_u(fp, count, "listener", m->name, cumulative);
	}
}

static void
render_listeners(FILE *fp)
{
	per_listener(fp, "tcpxd_connections_open", "gauge",
	    "Connections being served now (admitted, with a thread), by listener.", v_open);
	per_result(fp, "tcpxd_connections_total", "Connections ended or refused, by listener and "
	    "result (the result= of the log line).", offsetof(struct metrics_listener, conns));
	per_listener(fp, "tcpxd_received_bytes_total", "counter",
	    "Bytes received from clients (upload data and headers, echo input), by listener.",
	    v_bytes_in);
	per_listener(fp, "tcpxd_sent_bytes_total", "counter",
	    "Bytes sent to clients (receipts, echo output), by listener.", v_bytes_out);
	per_result(fp, "tcpxd_uploads_total", "Uploads that ended, by listener and result (ok: "
	    "stored and acknowledged).", offsetof(struct metrics_listener, uploads));
	histogram(fp, "tcpxd_upload_size_bytes", "Size of the uploads stored, by listener.",
	    offsetof(struct metrics_listener, size), size_le, false);
	histogram(fp, "tcpxd_upload_duration_seconds", "Time from the start of an upload to its "
	    "file being stored, by listener.", offsetof(struct metrics_listener, duration),
	    duration_le, true);
	metrics_family(fp, "tcpxd_last_upload_timestamp_seconds", "gauge",
	    "When the last upload was stored (Unix time), by listener; absent before the first.");
	for (struct metrics_listener *m = first_listener(); m; m = next_listener(m)) {
		long long ms = atomic_load_explicit(&m->last_upload_ms, memory_order_relaxed);

		if (ms != 0)
			sample_time(fp, "tcpxd_last_upload_timestamp_seconds", "listener", m->name, ms);
	}
}

static int
by_name(const void *a, const void *b)
{
	return strcmp((*(struct metrics_identity *const *)a)->name,
	    (*(struct metrics_identity *const *)b)->name);
}

static void
render_identities(FILE *fp)
{
	struct metrics_identity **v = NULL, *m;
	size_t n = 0, cap = 0;

	for (m = atomic_load_explicit(&reg.identities, memory_order_acquire); m; m = m->next) {
		if (n == cap) {
			struct metrics_identity **p = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (p == NULL)
				break;          /* fewer identities this time; the scrape still answers */
			v = p;
		}
		v[n++] = m;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), by_name);
	metrics_family(fp, "tcpxd_identity_uploads_total", "counter",
	    "Uploads stored for a client identity.");
	for (size_t i = 0; i < n; i++)
		sample_u(fp, "tcpxd_identity_uploads_total", "identity", v[i]->name, get(&v[i]->uploads));
	metrics_family(fp, "tcpxd_identity_stored_bytes_total", "counter",
	    "Bytes of the uploads stored for a client identity.");
	for (size_t i = 0; i < n; i++)
		sample_u(fp, "tcpxd_identity_stored_bytes_total", "identity", v[i]->name,
		    get(&v[i]->bytes));
	metrics_family(fp, "tcpxd_identity_last_upload_timestamp_seconds", "gauge",
	    "When the last upload of a client identity was stored (Unix time).");
	for (size_t i = 0; i < n; i++)
		sample_time(fp, "tcpxd_identity_last_upload_timestamp_seconds", "identity",
		    v[i]->name, atomic_load_explicit(&v[i]->last_upload_ms, memory_order_relaxed));
	free(v);
}

/* One gauge per listener of the configuration in force; skip: a value of 0 means "no limit". */
#define CONF_GAUGE(fp, family, help, field, skip_zero) do {                             \
	metrics_family(fp, family, "gauge", help);                                      \
	for (size_t i_ = 0; i_ < conf.n_l; i_++) {                                      \
		if (!(skip_zero) || conf.l[i_].field != 0)                              \
			sample_u(fp, family, "listener", conf.l[i_].name,               \
			    (unsigned long long)conf.l[i_].field);                      \
	}                                                                               \
} while (0)

/* One gauge per client identity that sets the limit. */
#define CONF_ID_GAUGE(fp, family, help, field) do {                                     \
	metrics_family(fp, family, "gauge", help);                                      \
	for (size_t i_ = 0; i_ < conf.n_id; i_++) {                                     \
		if (conf.id[i_].field != 0)                                             \
			sample_u(fp, family, "identity", conf.id[i_].name,              \
			    (unsigned long long)conf.id[i_].field);                     \
	}                                                                               \
} while (0)

/* Called with conf.lock held. */
static void
render_config(FILE *fp)
{
	metrics_family(fp, "tcpxd_config_process_max_connections", "gauge",
	    "max_connections: connections at once over all listeners.");
	fprintf(fp, "tcpxd_config_process_max_connections %u\n", conf.max_connections);
	CONF_GAUGE(fp, "tcpxd_config_max_connections", "Connections a listener serves at once: "
	    "its own max_connections, at most the process's.", max_connections, false);
	CONF_GAUGE(fp, "tcpxd_config_max_per_ip", "max_per_ip: connections at once from one "
	    "address (prefix).", max_per_ip, false);
	CONF_GAUGE(fp, "tcpxd_config_idle_timeout_seconds", "idle_timeout of a listener.",
	    idle_timeout, false);
	CONF_GAUGE(fp, "tcpxd_config_max_rate_bytes_per_second", "max_rate of a listener "
	    "(absent: not limited).", max_rate, true);
	CONF_GAUGE(fp, "tcpxd_config_max_file_size_bytes", "max_file_size of a receive listener.",
	    max_file_size, true);
	CONF_GAUGE(fp, "tcpxd_config_min_free_space_bytes", "min_free_space of a receive "
	    "listener.", min_free_space, true);
	CONF_ID_GAUGE(fp, "tcpxd_config_quota_bytes", "quota_bytes of a client identity.",
	    quota_bytes);
	CONF_ID_GAUGE(fp, "tcpxd_config_quota_files", "quota_files of a client identity.",
	    quota_files);
	CONF_ID_GAUGE(fp, "tcpxd_config_client_max_rate_bytes_per_second", "max_rate of a client "
	    "identity.", max_rate);
	CONF_ID_GAUGE(fp, "tcpxd_config_client_max_connections", "max_connections of a client "
	    "identity.", max_connections);
}

/*
 * The room left in each receive listener's output_dir.  Called without
 * conf.lock: statvfs() on a hung file system (NFS) must hang only this
 * scrape, not the reload that takes the lock to put a configuration in force.
 */
static void
render_room(FILE *fp)
{
	struct room {
		char *name, *dir;
		struct statvfs sv;
		bool ok;
	} *r;
	size_t n;

	pthread_mutex_lock(&conf.lock);
	n = conf.n_l;
	r = calloc(n ? n : 1, sizeof(*r));
	for (size_t i = 0; r != NULL && i < n; i++) {
		if (conf.l[i].output_dir == NULL)
			continue;
		r[i].name = strdup(conf.l[i].name);
		r[i].dir = strdup(conf.l[i].output_dir);
	}
	pthread_mutex_unlock(&conf.lock);
	for (size_t i = 0; r != NULL && i < n; i++)
		r[i].ok = r[i].name != NULL && r[i].dir != NULL && statvfs(r[i].dir, &r[i].sv) == 0;
	metrics_family(fp, "tcpxd_output_dir_free_bytes", "gauge",
	    "Bytes an unprivileged writer may still use in a receive listener's output_dir.");
	for (size_t i = 0; r != NULL && i < n; i++) {
		if (r[i].ok)
			sample_u(fp, "tcpxd_output_dir_free_bytes", "listener", r[i].name,
			    (unsigned long long)r[i].sv.f_bavail * r[i].sv.f_frsize);
	}
	metrics_family(fp, "tcpxd_output_dir_free_inodes", "gauge",
	    "Inodes an unprivileged writer may still use in a receive listener's output_dir.");
	for (size_t i = 0; r != NULL && i < n; i++) {
		if (r[i].ok)
			sample_u(fp, "tcpxd_output_dir_free_inodes", "listener", r[i].name,
			    (unsigned long long)r[i].sv.f_favail);
	}
	for (size_t i = 0; r != NULL && i < n; i++) {
		free(r[i].name);
		free(r[i].dir);
	}
	free(r);
}

/* Called with conf.lock held: what the quotas count now. */
static void
render_usage(FILE *fp)
{
	metrics_family(fp, "tcpxd_quota_used_bytes", "gauge",
	    "Bytes a client identity with a quota holds (stored, and reserved by uploads in flight).");
	for (size_t i = 0; i < conf.n_id; i++) {
		uint64_t bytes, files;

		if (quota_usage(conf.id[i].name, &bytes, &files))
			sample_u(fp, "tcpxd_quota_used_bytes", "identity", conf.id[i].name, bytes);
	}
	metrics_family(fp, "tcpxd_quota_used_files", "gauge",
	    "Files a client identity with a quota holds (stored, and uploads in flight).");
	for (size_t i = 0; i < conf.n_id; i++) {
		uint64_t bytes, files;

		if (quota_usage(conf.id[i].name, &bytes, &files))
			sample_u(fp, "tcpxd_quota_used_files", "identity", conf.id[i].name, files);
	}
}

static void
render_process(FILE *fp)
{
	unsigned n = atomic_load_explicit(&reg.reloads.n, memory_order_acquire);

	metrics_family(fp, "tcpxd_build_info", "gauge", "Always 1; the version of tcpxd.");
	fputs("tcpxd_build_info{version=\"", fp);
	metrics_label_value(fp, PACKAGE_VERSION);
	fputs("\"} 1\n", fp);
	metrics_family(fp, "tcpxd_start_time_seconds", "gauge", "When tcpxd started (Unix time).");
	sample_time(fp, "tcpxd_start_time_seconds", NULL, NULL, atomic_load(&reg.start_ms));
	metrics_family(fp, "tcpxd_connections_parked", "gauge",
	    "Open connections idle without a thread (park_after), of all listeners.");
	fprintf(fp, "tcpxd_connections_parked %u\n", park_count());
	metrics_family(fp, "tcpxd_reloads_total", "counter",
	    "Configuration reloads (SIGHUP), by result: success or failure.");
	for (unsigned i = 0; i < n; i++)
		sample_u(fp, "tcpxd_reloads_total", "result", reg.reloads.v[i].values[0],
		    get(&reg.reloads.v[i].count));
	metrics_family(fp, "tcpxd_last_reload_success", "gauge",
	    "1 if the last configuration load (start-up or SIGHUP) was put in force, 0 if it failed.");
	fprintf(fp, "tcpxd_last_reload_success %d\n", atomic_load(&reg.last_reload_ok));
	metrics_family(fp, "tcpxd_last_reload_timestamp_seconds", "gauge",
	    "When the configuration was last loaded or a reload failed (Unix time).");
	sample_time(fp, "tcpxd_last_reload_timestamp_seconds", NULL, NULL,
	    atomic_load(&reg.last_reload_ms));
}

static void
render_counters(FILE *fp)
{
	for (struct metrics_counter *c = reg.counters; c != NULL; c = c->next) {
		unsigned n = atomic_load_explicit(&c->series.n, memory_order_acquire);

		metrics_family(fp, c->name, "counter", c->help);
		for (unsigned i = 0; i < n; i++) {
			fputs(c->name, fp);
			for (unsigned j = 0; j < c->n_labels; j++) {
				fprintf(fp, "%s%s=\"", j ? "," : "{", c->labels[j]);
				metrics_label_value(fp, c->series.v[i].values[j]);
				fputc('"', fp);
			}
			fprintf(fp, "%s %llu\n", c->n_labels ? "}" : "", get(&c->series.v[i].count));
		}
	}
}

int
metrics_render(FILE *fp)
{
	render_process(fp);
	render_listeners(fp);
	render_identities(fp);
	pthread_mutex_lock(&conf.lock);
	render_config(fp);
	pthread_mutex_unlock(&conf.lock);
	render_room(fp);
	pthread_mutex_lock(&conf.lock);
	render_usage(fp);
	pthread_mutex_unlock(&conf.lock);
	/* Counters and collectors are added under reg.lock; a scrape sees the ones added so far. */
	pthread_mutex_lock(&reg.lock);
	render_counters(fp);
	for (size_t i = 0; i < reg.n_collectors; i++)
		reg.collectors[i].fn(fp, reg.collectors[i].arg);
	pthread_mutex_unlock(&reg.lock);
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

void
metrics_fini(void)
{
	struct metrics_listener *m = atomic_exchange(&reg.listeners, NULL);
	struct metrics_identity *id = atomic_exchange(&reg.identities, NULL);

	while (m != NULL) {
		struct metrics_listener *next = atomic_load(&m->next);

		series_free(&m->conns);
		series_free(&m->uploads);
		free(m->name);
		free(m);
		m = next;
	}
	while (id != NULL) {
		struct metrics_identity *next = id->next;

		free(id->name);
		free(id);
		id = next;
	}
	while (reg.counters != NULL) {
		struct metrics_counter *next = reg.counters->next;

		for (unsigned i = 0; i < reg.counters->n_labels; i++)
			free(reg.counters->labels[i]);
		free(reg.counters->name);
		free(reg.counters->help);
		series_free(&reg.counters->series);
		free(reg.counters);
		reg.counters = next;
	}
	for (unsigned i = 0; i < atomic_load(&reg.reloads.n); i++) {
		free(reg.reloads.v[i].values[0]);
		reg.reloads.v[i].values[0] = NULL;
	}
	atomic_store(&reg.reloads.n, 0);
	free(reg.collectors);
	reg.collectors = NULL;
	reg.n_collectors = 0;
	pthread_mutex_lock(&conf.lock);
	conf_free(conf.l, conf.n_l, conf.id, conf.n_id);
	conf.l = NULL;
	conf.id = NULL;
	conf.n_l = conf.n_id = 0;
	pthread_mutex_unlock(&conf.lock);
}
