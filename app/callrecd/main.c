/* SPDX-License-Identifier: BSD-3-Clause */
/* callrecd: the recorder.
 *   callrecd --pcap FILE [--pcap FILE ...] --store DIR [--config FILE] [--workers N]
 *   callrecd [EAL options] -- --config FILE [--store DIR] [--workers N]
 * Offline imports build their own EAL arguments (no ports, no root; free
 * hugepages if the server has them, else 4 KiB pages), read the captures in
 * the engine (cr_capin.c), and exit 0 once every packet is processed and the
 * index committed. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cfgfile.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "cr_call.h"
#include "cr_engine.h"
#include "cr_index.h"
#include "cr_store.h"
#include "cr_crypt.h"
#include "cr_manifest.h"
#include "cr_policy.h"
#include "cr_retain.h"
#include "cr_pkt.h"
#include "cr_mem.h"

/* [security]: keys live here for the whole run (read-only once loaded) */
static struct {
	char key_file[PATH_MAX], key_command[1024], sign_key[PATH_MAX];
	int manifest; /* -1: default (on when keys or a signing key are given) */
	int pii;      /* -1: default (encrypt with a key, else plain) */
	struct cr_keyring kr;
	struct cr_signer *signer;
	struct cr_fieldkey fk;
} g_sec = {.manifest = -1, .pii = -1};
static const char *g_store_dir; /* for the audit log */

#define MAX_PCAPS CR_ENGINE_MAX_PORTS

static struct cr_engine *g_engine;

static void
on_signal(int sig)
{
	(void)sig;
	if (g_engine)
		cr_engine_stop(g_engine);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: callrecd --pcap FILE [--pcap FILE ...] --store DIR [--config FILE]\n"
		"       callrecd --check --config FILE\n"
		"                [--workers N] [--quiet] [--progress|--no-progress]\n"
		"       callrecd [EAL options] -- --config FILE [--store DIR] [--workers N]\n"
		"\n"
		"  --pcap FILE     replay a capture (pcap or pcapng; Ethernet, Linux SLL v1/v2,\n"
		"                  raw IP) into the pipeline; repeat for several files\n"
		"  --store DIR     recording store (created if missing)\n"
		"  --config FILE   configuration file (INI)\n"
		"  --workers N     worker lcores (default 1)\n"
		"  --profile FILE  port profile (drivers-config/*.ini)\n"
		"  --quiet         no counter report at exit\n"
		"  --metrics-file FILE  write the final metrics there (Prometheus text format)\n"
		"  --set SECTION.KEY=VALUE  any configuration key, over the file (repeatable)\n"
		"  --help-config   every configuration key (a Markdown table)\n"
		"  --check         validate --config FILE (and --profile) and exit: 0 valid, 2 not\n"
		"  --fault SPEC    test knob: write:N[:ENOSPC|EIO] fails every Nth segment write,\n"
		"                  alloc:N every Nth block allocation, slabs:N a worker maps\n"
		"                  at most N chunk slabs (its streams past them: STORE_NOMEM),\n"
		"                  dio:N the Nth direct (O_DIRECT) capture read fails with EIO\n"
		"\n"
		"Offline imports use free hugepages when there are twice what they need\n"
		"(about 200 MB), else 4 KiB pages; CALLREC_NO_HUGEPAGES=1 forces 4 KiB pages.\n");
}

static int
bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "callrecd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'callrecd --help'.\n");
	return 2;
}

static int
parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *s == 0 || *end != 0 || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
dlt_to_link(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
		return CR_LINK_ETHERNET;
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		return dlt == DLT_RAW ? CR_LINK_RAW : dlt;
	case DLT_LINUX_SLL:
		return CR_LINK_LINUX_SLL;
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2:
		return CR_LINK_LINUX_SLL2;
#endif
	default:
		return -1;
	}
}

/* Metrics: GET /metrics over HTTP/1.0 (live mode), one client at a time:
 * scrapes are rare and small, and this thread never touches packets. */
static struct {
	char listen[64]; /* "addr:port", "" = off */
	int fd;
	volatile int stop;
	char token[129]; /* bearer token ([telemetry] token_file), "" = none */
} g_http = {.listen = "127.0.0.1:9464", .fd = -1};

/* loopback listeners may go without a token; anything else may not */
static int
listen_is_loopback(const char *spec)
{
	return strncmp(spec, "127.", 4) == 0 || strncmp(spec, "[::1]:", 6) == 0 ||
	       strncmp(spec, "localhost:", 10) == 0;
}

/* the request carries "Authorization: Bearer TOKEN" (compared in constant time) */
static int
http_authorized(const char *req)
{
	if (g_http.token[0] == 0)
		return 1;
	static const char key[] = "\r\nAuthorization: Bearer ";
	const char *h = strcasestr(req, key);
	if (h == NULL)
		return 0;
	h += sizeof(key) - 1;
	size_t n = strcspn(h, "\r\n"), tl = strlen(g_http.token);
	unsigned diff = (unsigned)(n ^ tl);
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned)(i < n ? h[i] : 0) ^ (unsigned)g_http.token[i];
	return diff == 0;
}

static int
http_open(const char *spec)
{
	char host[64];
	snprintf(host, sizeof(host), "%s", spec);
	char *colon = strrchr(host, ':');
	if (colon == NULL)
		return -EINVAL;
	*colon = 0;
	char *h = host;
	if (*h == '[') { /* [v6]:port */
		h++;
		char *rb = strchr(h, ']');
		if (rb)
			*rb = 0;
	}
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	if (getaddrinfo(h, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 8) != 0) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	return fd;
}

/* one request of a local client, NUL-terminated; a client that says nothing
 * within 2 s is dropped. @return its length, or -1 */
static ssize_t
read_request(int c, char *req, size_t size)
{
	struct timeval tv = {2, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(c, req, size - 1, 0);
	if (n <= 0)
		return -1;
	req[n] = 0;
	return n;
}

static void
http_reply(int c)
{
	char req[2048];
	if (read_request(c, req, sizeof(req)) < 0)
		return;
	char *body = NULL;
	size_t blen = 0;
	const char *status = "404 Not Found";
	if (!http_authorized(req)) {
		status = "401 Unauthorized";
	} else if (strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET /metrics?", 13) == 0) {
		FILE *m = open_memstream(&body, &blen);
		if (m) {
			cr_engine_metrics(g_engine, m);
			fclose(m);
			status = "200 OK";
		}
	}
	char hdr[256];
	int hl = snprintf(hdr, sizeof(hdr),
			  "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, body ? blen : 0);
	if (send(c, hdr, (size_t)hl, MSG_NOSIGNAL) == hl && body)
		for (size_t off = 0; off < blen;) {
			ssize_t k = send(c, body + off, blen - off, MSG_NOSIGNAL);
			if (k <= 0)
				break;
			off += (size_t)k;
		}
	free(body);
}

/* one client at a time until *stop: both local services are tiny and rare */
static void
serve_loop(int fd, volatile int *stop, void (*serve)(int))
{
	while (!*stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve(c);
		close(c);
	}
}

static void *
http_main(void *arg)
{
	(void)arg;
	serve_loop(g_http.fd, &g_http.stop, http_reply);
	return NULL;
}

/* Control socket (live mode): a Unix socket, owner and group only (0660);
 * one request line "start|stop|pause|resume CALL-ID", one answer line
 * "ok changed|ok unchanged|error WHY". */
static struct {
	const char *path; /* NULL: STORE/ctl.sock */
	char buf[PATH_MAX];
	int fd;
	volatile int stop;
} g_ctl = {.fd = -1};

static void
ctl_serve(int c)
{
	char req[512];
	if (read_request(c, req, sizeof(req)) < 0)
		return;
	req[strcspn(req, "\r\n")] = 0;
	char *sp = strchr(req, ' ');
	const char *ans;
	char buf[160];
	int a = sp ? cr_rec_action_parse(req, (size_t)(sp - req)) : -EINVAL;
	if (a <= 0 || sp[1] == 0) {
		ans = "error usage: start|stop|pause|resume CALL-ID\n";
	} else {
		int r = cr_engine_control(g_engine, sp + 1, a);
		if (r >= 0) {
			ans = r ? "ok changed\n" : "ok unchanged\n";
		} else {
			snprintf(buf, sizeof(buf), "error %s\n",
				 r == -ENOENT	? "no such call in progress"
				 : r == -EPERM	? "refused: the call's policy forbids on-demand changes"
						: strerror(-r));
			ans = buf;
		}
		/* who asked, in the audit log; the Call-ID as the index keeps it */
		struct ucred uc;
		socklen_t ul = sizeof(uc);
		char actor[64], act[32], pid[1200];
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0)
			snprintf(actor, sizeof(actor), "ctl:uid=%u,pid=%d", (unsigned)uc.uid, (int)uc.pid);
		else
			snprintf(actor, sizeof(actor), "ctl:unknown");
		snprintf(act, sizeof(act), "ctl-%s", cr_rec_action_name(a));
		const char *shown = sp + 1;
		if (g_sec.fk.mode != CR_PII_PLAIN &&
		    cr_field_protect(&g_sec.fk, sp + 1, pid, sizeof(pid)) == 0)
			shown = pid;
		char res[64];
		snprintf(res, sizeof(res), "%.*s", (int)strcspn(ans, "\n"), ans);
		if (cr_audit(g_store_dir, actor, act, shown, res) != 0)
			fprintf(stderr, "callrecd: control: audit log not written\n");
		fprintf(stderr, "callrecd: control: %s %.24s%s: %s", cr_rec_action_name(a), shown,
			strlen(shown) > 24 ? "..." : "", ans);
	}
	(void)!send(c, ans, strlen(ans), MSG_NOSIGNAL);
}

static void *
ctl_main(void *arg)
{
	(void)arg;
	serve_loop(g_ctl.fd, &g_ctl.stop, ctl_serve);
	return NULL;
}

static int
ctl_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0117); /* 0660 from the start: no window for others */
	int r = fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0;
	umask(old);
	if (r) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

/* the final metrics of a run, replaced atomically (node_exporter textfile) */
static int
write_metrics_file(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	int r = cr_engine_metrics(g_engine, f);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r != 0)
		unlink(tmp);
	return r;
}

/* Retention cleaner (live mode): a pass every check_s seconds with its own
 * index connection; it deletes only sealed segments, never an open one. */
static struct {
	struct cr_retain_policy pol;
	unsigned check_s;
	const char *store;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
} g_retain = {.check_s = 300, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* SIGHUP: reload the recording policy and retention from the config file,
 * without stopping (calls in progress keep the decision made at their start;
 * a file that does not validate leaves everything as it was). */
static struct rte_cfgfile *open_config(const char *path, const char *const *sets,
				       unsigned n_sets);
static volatile sig_atomic_t g_hup;
static const char *g_config_path;
static const char *const *g_sets;
static unsigned g_n_sets;

static void
on_hup(int sig)
{
	(void)sig;
	g_hup = 1;
}

/* the configuration in force goes to the audit log by its digest */
static void
audit_config(const char *what)
{
	char d[80] = "-";
	if (g_config_path) {
		FILE *f = fopen(g_config_path, "re");
		static char buf[1 << 16];
		size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
		if (f)
			fclose(f);
		uint8_t h[32];
		cr_sha256(buf, n, h);
		memcpy(d, "sha256:", 7);
		cr_hex(h, 16, d + 7);
	}
	if (cr_audit(g_store_dir, "callrecd", what, g_config_path ? g_config_path : "-", d) != 0)
		fprintf(stderr, "callrecd: audit log of %s not written\n", g_store_dir);
}

static struct cr_policy *
reload(void)
{
	struct cr_retain_policy np;
	cr_retain_defaults(&np);
	char err[256];
	struct cr_policy *pol = NULL;
	const char *cls[CR_RETAIN_MAX_CLASSES];
	struct rte_cfgfile *cf = open_config(g_config_path, g_sets, g_n_sets);
	if (cf == NULL)
		return NULL;
	int r = cr_retain_load_cfg(&np, cf, err, sizeof(err));
	for (unsigned i = 0; r == 0 && i < np.n; i++)
		cls[i] = np.cls[i].name;
	if (r == 0)
		r = cr_policy_load_cfg(cf, g_config_path, cls, np.n, &pol, err, sizeof(err));
	rte_cfgfile_close(cf);
	if (r != 0) {
		fprintf(stderr, "callrecd: SIGHUP: %s; keeping the current policy\n", err);
		return NULL;
	}
	pthread_mutex_lock(&g_retain.mu);
	np.signer = g_sec.signer;
	g_retain.pol = np;
	pthread_mutex_unlock(&g_retain.mu);
	fprintf(stderr, "callrecd: SIGHUP: reloaded %s (%u policy rules, %u retention classes)\n",
		g_config_path, cr_policy_rules(pol), np.n);
	audit_config("config-reload");
	/* the signalling lcore may still be reading the old one: freed a tick later */
	return cr_engine_swap_policy(g_engine, pol);
}

/* Housekeeping (live mode), once a second: reloads on SIGHUP; every check_s a
 * retention pass with its own index connection (it deletes only sealed
 * segments, never an open one). */
static void *
cleaner_main(void *arg)
{
	(void)arg;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.sqlite", g_retain.store);
	struct cr_policy *old = NULL;
	int64_t next_pass = 0;
	pthread_mutex_lock(&g_retain.mu);
	while (!g_retain.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		pthread_mutex_unlock(&g_retain.mu);
		cr_policy_free(old);
		old = NULL;
		if (g_hup && g_config_path) {
			g_hup = 0;
			old = reload();
		}
		struct cr_index *idx;
		struct cr_retain_report rep;
		if (now >= next_pass && cr_index_open(path, CR_INDEX_RW, &idx) == 0) {
			pthread_mutex_lock(&g_retain.mu);
			struct cr_retain_policy pol = g_retain.pol;
			pthread_mutex_unlock(&g_retain.mu);
			int r = cr_retain_run(g_retain.store, idx, &pol, now, 0, &rep, NULL);
			cr_index_close(idx);
			next_pass = now + (int64_t)g_retain.check_s * 1000000000LL;
			if (r != 0)
				fprintf(stderr, "callrecd: retention pass failed: %s\n", strerror(-r));
			else if (rep.expired || rep.quota || rep.over_quota)
				fprintf(stderr,
					"callrecd: retention: deleted %" PRIu64 " expired and %" PRIu64
					" over-quota segments%s\n",
					rep.expired, rep.quota,
					rep.over_quota ? "; still over quota (min_days protects the rest)"
						       : "");
			if (r == 0 && (rep.expired || rep.quota || rep.calls)) {
				char d[128];
				snprintf(d, sizeof(d), "%" PRIu64 " expired, %" PRIu64
					 " over-quota segments, %" PRIu64 " calls",
					 rep.expired, rep.quota, rep.calls);
				if (cr_audit(g_retain.store, "callrecd", "retention", "-", d) != 0)
					fprintf(stderr, "callrecd: audit log not written\n");
			}
		}
		pthread_mutex_lock(&g_retain.mu);
		ts.tv_sec += 1;
		while (!g_retain.stop && pthread_cond_timedwait(&g_retain.cv, &g_retain.mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&g_retain.mu);
	cr_policy_free(old);
	return NULL;
}

/* MiB of free hugepages of the default size (0: none, or no /proc/meminfo). */
static unsigned long
hugepages_free_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (f == NULL)
		return 0;
	char line[128];
	unsigned long n = 0, kb = 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %lu", &n);
		sscanf(line, "Hugepagesize: %lu kB", &kb);
	}
	fclose(f);
	return n * kb / 1024;
}

/* Check a capture opens and read its link type (the engine reads the packets). */
static int
probe_pcap(const char *path, int *link)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	if (p == NULL) {
		fprintf(stderr, "callrecd: cannot read capture %s: %s\n", path, err);
		return -1;
	}
	*link = dlt_to_link(pcap_datalink(p));
	if (*link < 0)
		fprintf(stderr, "callrecd: %s: unsupported link type %s (%d)\n", path,
			pcap_datalink_val_to_name(pcap_datalink(p)), pcap_datalink(p));
	pcap_close(p);
	return *link < 0 ? -1 : 0;
}

struct opts {
	const char *pcaps[MAX_PCAPS];
	unsigned n_pcaps;
	const char *store;
	const char *config;
	unsigned workers;
	int workers_set;
	int quiet;
	int progress;
	const char *profile;
	unsigned fault_write, fault_alloc; /* every Nth segment write / block allocation fails */
	unsigned fault_slabs;		   /* chunk slabs a worker may map */
	unsigned fault_dio;		   /* the Nth direct capture read fails (EIO) */
	int check; /* --check: validate the configuration and exit */
	int limits_set; /* [limits] given: offline imports keep them as they are */
	int chunk_set;	/* [limits] chunk_kb given */
	const char *sets[64]; /* --set section.key=value, applied over the file */
	unsigned n_sets;
	const char *metrics_file;
	int fault_errno;
	const char *key_file, *sign_key; /* --key-file, --sign-key (over [security]) */
};


/* --fault write:N[:ENOSPC|EIO] | alloc:N | slabs:N | dio:N  (test knobs: fail
 * at a rate of 1/N; at most N chunk slabs a worker; the Nth direct read of a
 * capture fails) */
static int
parse_fault(const char *spec, struct opts *o)
{
	char kind[8] = "", err[8] = "";
	unsigned n = 0;
	int k = sscanf(spec, "%7[a-z]:%u:%7[A-Z]", kind, &n, err);
	if (k < 2 || n == 0)
		return -1;
	if (strcmp(kind, "alloc") == 0 && k == 2) {
		o->fault_alloc = n;
		return 0;
	}
	if (strcmp(kind, "slabs") == 0 && k == 2) {
		o->fault_slabs = n;
		return 0;
	}
	if (strcmp(kind, "dio") == 0 && k == 2) {
		o->fault_dio = n;
		return 0;
	}
	if (strcmp(kind, "write") != 0)
		return -1;
	o->fault_write = n;
	o->fault_errno = EIO;
	if (k == 3 && strcmp(err, "ENOSPC") == 0)
		o->fault_errno = ENOSPC;
	else if (k == 3 && strcmp(err, "EIO") != 0)
		return -1;
	return 0;
}

/* drivers-config profile: [port] nb_rxd, nb_mbufs, rx_queues, rss, promiscuous */
static int
load_profile(const char *path, struct cr_engine_cfg *cfg)
{
	struct rte_cfgfile *cf = rte_cfgfile_load(path, 0);
	if (cf == NULL) {
		fprintf(stderr, "callrecd: cannot load port profile %s\n", path);
		return 2;
	}
	int n = rte_cfgfile_section_num_entries(cf, "port");
	if (n < 0) {
		fprintf(stderr, "callrecd: %s: no [port] section\n", path);
		rte_cfgfile_close(cf);
		return 2;
	}
	struct rte_cfgfile_entry ent[32];
	n = rte_cfgfile_section_entries(cf, "port", ent, 32);
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *k = ent[i].name, *v = ent[i].value;
		unsigned u;
		if (strcmp(k, "nb_rxd") == 0 && parse_uint(v, 64, 65536, &u) == 0)
			cfg->nb_rxd = u;
		else if (strcmp(k, "nb_mbufs") == 0 && parse_uint(v, 1023, 1u << 22, &u) == 0)
			cfg->nb_mbufs = u;
		else if (strcmp(k, "rx_queues") == 0 && strcmp(v, "workers") == 0)
			cfg->rx_queues = UINT_MAX; /* one per worker, once workers are known */
		else if (strcmp(k, "rx_queues") == 0 && parse_uint(v, 1, CR_ENGINE_MAX_WORKERS, &u) == 0)
			cfg->rx_queues = u; /* >1: must equal the workers (checked at start) */
		else if (strcmp(k, "rss") == 0 && (strcmp(v, "off") == 0 || strcmp(v, "symmetric") == 0))
			cfg->rss_off = strcmp(v, "off") == 0;
		else if (strcmp(k, "promiscuous") == 0 && (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0))
			cfg->promiscuous = strcmp(v, "yes") == 0;
		else {
			fprintf(stderr, "callrecd: %s: [port] %s = '%s' is not valid%s\n", path, k, v,
				strcmp(k, "rx_queues") == 0 ? " (1, workers, or the worker count)" : "");
			rc = 2;
		}
	}
	rte_cfgfile_close(cf);
	return rc;
}

/* The configuration file (or none) with the --set overrides applied: every
 * key of the file can be given on the command line. "group.NAME.members"
 * names the section group.NAME; otherwise the first dot ends the section
 * ("policy.rule.10"). */
static struct rte_cfgfile *
open_config(const char *path, const char *const *sets, unsigned n_sets)
{
	struct rte_cfgfile *cf = path ? rte_cfgfile_load(path, 0) : rte_cfgfile_create(0);
	if (cf == NULL) {
		fprintf(stderr, "callrecd: cannot load config %s\n", path ? path : "(none)");
		return NULL;
	}
	for (unsigned i = 0; i < n_sets; i++) {
		char sec[CFG_NAME_LEN], key[CFG_NAME_LEN];
		const char *eq = strchr(sets[i], '='), *dot = strchr(sets[i], '.');
		if (dot && strncmp(sets[i], "group.", 6) == 0)
			dot = strchr(dot + 1, '.');
		if (eq == NULL || dot == NULL || dot > eq || dot == sets[i] || eq == dot + 1 ||
		    (size_t)(dot - sets[i]) >= sizeof(sec) || (size_t)(eq - dot - 1) >= sizeof(key) ||
		    strlen(eq + 1) >= CFG_VALUE_LEN) {
			fprintf(stderr, "callrecd: --set '%s' is not section.key=value\n", sets[i]);
			rte_cfgfile_close(cf);
			return NULL;
		}
		snprintf(sec, sizeof(sec), "%.*s", (int)(dot - sets[i]), sets[i]);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
		if (!rte_cfgfile_has_section(cf, sec))
			rte_cfgfile_add_section(cf, sec);
		int r = rte_cfgfile_has_entry(cf, sec, key) ? rte_cfgfile_set_entry(cf, sec, key, eq + 1)
							     : rte_cfgfile_add_entry(cf, sec, key, eq + 1);
		if (r != 0) {
			fprintf(stderr, "callrecd: --set '%s' cannot be applied\n", sets[i]);
			rte_cfgfile_close(cf);
			return NULL;
		}
	}
	return cf;
}

/*
 * Every configuration key: the one list --check validates names against (a
 * typo is an error, not a silently ignored key) and --help-config prints
 * (docs/configuration.md must name each; tests/e2e/cli_args.sh checks).
 * Values are parsed by the module that owns them. "*" in a key: any name
 * (retention classes, policy rules).
 */
static const struct cfg_key {
	const char *section, *key, *def, *owner, *help;
} cfg_keys[] = {
	{"general", "store", "(required)", "app", "store directory (--store)"},
	{"general", "workers", "1", "app", "worker lcores (--workers)"},
	{"timeouts", "rtp_s", "300", "engine", "a stream with no packet for this long ends"},
	{"timeouts", "setup_s", "300", "engine", "an unanswered call ends as timeout after this"},
	{"timeouts", "session_s", "3600", "engine", "an answered call with neither SIP nor RTP ends"},
	{"ports", "profile", "none", "app", "port profile, drivers-config/*.ini (--profile)"},
	{"store", "min_free_mb", "1% of the fs, 64 MiB-4 GiB", "engine", "no audio write leaves less free"},
	{"store", "lz4_acceleration", "1", "engine", "0 no compression; 1 best; higher faster"},
	{"store", "lz4_min_saving", "12", "engine", "percent a block must shrink by, else lz4 rests 16, 32 ... 256 blocks"},
	{"retention", "default", "90", "retain", "DAYS[/MIN_DAYS] of class 0"},
	{"retention", "quota", "none", "retain", "store size cap, 500G, 2T"},
	{"retention", "check_s", "300", "app", "seconds between cleaner passes (live)"},
	{"retention", "*", "-", "retain", "another class: NAME = DAYS[/MIN_DAYS]"},
	{"policy", "default", "record", "policy", "record|skip [class=NAME] [ondemand=yes|no]"},
	{"policy", "own_numbers", "none", "policy", "our numbers/prefixes, for direction:"},
	{"policy", "trunks", "none", "policy", "trunk/SBC subnets: INVITEs from them are inbound"},
	{"policy", "rule.*", "-", "policy", "CONDITIONS -> ACTION, applied in N order"},
	{"group.*", "members", "-", "policy", "numbers and prefixes of a group"},
	{"ondemand", "header", "X-Record", "call", "SIP header that starts/stops/pauses/resumes"},
	{"ondemand", "dtmf_start", "none", "call", "DTMF sequence that starts recording"},
	{"ondemand", "dtmf_stop", "none", "call", "DTMF sequence that stops recording"},
	{"ondemand", "dtmf_pause", "none", "call", "DTMF sequence that pauses recording"},
	{"ondemand", "dtmf_resume", "none", "call", "DTMF sequence that resumes recording"},
	{"ondemand", "lookback_s", "0", "engine", "seconds of a skipped call kept for a start"},
	{"ondemand", "socket", "STORE/ctl.sock", "app", "control socket (0660)"},
	{"telemetry", "listen", "127.0.0.1:9464", "app", "GET /metrics (live); off"},
	{"telemetry", "token_file", "none", "app", "bearer token for /metrics; required off loopback"},
	{"security", "key_file", "none", "app", "master key file (mode 0600): encrypt segments (--key-file)"},
	{"security", "key_command", "none", "app", "command printing key lines (KMS hook)"},
	{"security", "sign_key", "none", "app", "Ed25519 private key (0600): sign the manifest (--sign-key)"},
	{"security", "manifest", "yes with keys", "app", "yes|no: chain sealed segments in manifest.log"},
	{"security", "index_pii", "encrypt with keys", "app", "plain|hash|encrypt Call-ID, users, URIs"},
	{"limits", "max_calls", "16384", "engine", "calls tracked at once (4.2 KB each)"},
	{"limits", "max_streams", "16384", "engine", "RTP streams per worker (1.4 KB + chunk_kb each)"},
	{"limits", "media_entries", "65536", "engine", "SDP endpoints at once (0.7 KB each)"},
	{"limits", "chunk_kb", "16 (imports: 32)", "engine", "chunk buffer per stream, 1-64 KB"},
	{"limits", "nb_mbufs", "16383", "engine", "packet buffers (2.2 KB each)"},
	{"limits", "prefault", "yes", "engine", "yes|no: stream memory faulted in at start (live)"},
	{"import", "direct_io", "auto", "engine", "auto|yes|no: read captures with O_DIRECT (auto: from 32 MiB)"},
};

static int
glob_eq(const char *pat, const char *s)
{
	size_t l = strlen(pat);
	if (l && pat[l - 1] == '*')
		return strncmp(pat, s, l - 1) == 0 && s[l - 1] != 0;
	return strcmp(pat, s) == 0;
}

/* every section and key of the file must be one we know */
static int
check_keys(struct rte_cfgfile *cf, const char *path)
{
	int ns = rte_cfgfile_num_sections(cf, NULL, 0), rc = 0;
	for (int i = 0; i < ns && rc == 0; i++) {
		char sec[CFG_NAME_LEN];
		if (rte_cfgfile_section_entries_by_index(cf, i, sec, NULL, 0) < 0)
			continue;
		int ne = rte_cfgfile_section_num_entries(cf, sec);
		struct rte_cfgfile_entry *ent = calloc(ne > 0 ? (size_t)ne : 1, sizeof(*ent));
		if (ent == NULL)
			return 2;
		ne = rte_cfgfile_section_entries(cf, sec, ent, ne);
		int known_sec = 0;
		for (size_t k = 0; k < sizeof(cfg_keys) / sizeof(cfg_keys[0]); k++)
			known_sec |= glob_eq(cfg_keys[k].section, sec);
		if (!known_sec) {
			fprintf(stderr, "callrecd: %s: [%s]: unknown section\n", path, sec);
			rc = 2;
		}
		for (int j = 0; j < ne && rc == 0; j++) {
			int known = 0;
			for (size_t k = 0; k < sizeof(cfg_keys) / sizeof(cfg_keys[0]); k++)
				known |= glob_eq(cfg_keys[k].section, sec) &&
					 glob_eq(cfg_keys[k].key, ent[j].name);
			if (!known) {
				fprintf(stderr, "callrecd: %s: [%s] %s: unknown key\n", path, sec,
					ent[j].name);
				rc = 2;
			}
		}
		free(ent);
	}
	return rc;
}

static void
help_config(void)
{
	printf("| section | key | default | owner | meaning |\n|---|---|---|---|---|\n");
	for (size_t k = 0; k < sizeof(cfg_keys) / sizeof(cfg_keys[0]); k++)
		printf("| %s | %s | %s | %s | %s |\n", cfg_keys[k].section, cfg_keys[k].key,
		       cfg_keys[k].def, cfg_keys[k].owner, cfg_keys[k].help);
}

/* [section] key = yes|no into *out (left as is when absent): 0, or -1 with
 * the error printed */
static int
cfg_yes_no(struct rte_cfgfile *cf, const char *path, const char *section, const char *key,
	   int *out)
{
	const char *v = rte_cfgfile_get_entry(cf, section, key);
	if (v == NULL)
		return 0;
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
		fprintf(stderr, "callrecd: %s: [%s] %s: '%s' is not yes or no\n", path, section, key,
			v);
		return -1;
	}
	*out = strcmp(v, "yes") == 0;
	return 0;
}

/* [section] key = an integer lo..hi into *out (left as is when absent): 1 set,
 * 0 absent, -1 with the error printed */
static int
cfg_uint(struct rte_cfgfile *cf, const char *path, const char *section, const char *key,
	 unsigned lo, unsigned hi, unsigned *out)
{
	const char *v = rte_cfgfile_get_entry(cf, section, key);
	if (v == NULL)
		return 0;
	if (parse_uint(v, lo, hi, out) != 0) {
		fprintf(stderr, "callrecd: %s: [%s] %s: '%s' is not %u..%u\n", path, section, key, v,
			lo, hi);
		return -1;
	}
	return 1;
}

static int
load_config(const char *path, struct opts *o, struct cr_engine_cfg *cfg)
{
	struct rte_cfgfile *cf = open_config(path, o->sets, o->n_sets);
	if (cf == NULL)
		return 2;
	if (path == NULL)
		path = "--set";
	if (check_keys(cf, path) != 0) {
		rte_cfgfile_close(cf);
		return 2;
	}
	const char *v;
	static char store[PATH_MAX];
	if ((v = rte_cfgfile_get_entry(cf, "general", "store")) && o->store == NULL) {
		snprintf(store, sizeof(store), "%s", v);
		o->store = store;
	}
	if (!o->workers_set &&
	    cfg_uint(cf, path, "general", "workers", 1, CR_ENGINE_MAX_WORKERS, &o->workers) < 0) {
		rte_cfgfile_close(cf);
		return 2;
	}
	const struct {
		const char *key;
		unsigned max;
		int64_t *dst;
	} secs[] = {
		{"rtp_s", 86400, &cfg->rtp_timeout_ns},
		{"setup_s", 86400, &cfg->setup_timeout_ns},
		{"session_s", 7 * 86400, &cfg->session_timeout_ns},
	};
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		unsigned u;
		int r = cfg_uint(cf, path, "timeouts", secs[i].key, 1, secs[i].max, &u);
		if (r < 0) {
			rte_cfgfile_close(cf);
			return 2;
		}
		if (r > 0)
			*secs[i].dst = (int64_t)u * 1000000000LL;
	}
	if ((v = rte_cfgfile_get_entry(cf, "store", "min_free_mb"))) {
		unsigned u;
		if (parse_uint(v, 0, 1u << 30, &u) != 0) {
			fprintf(stderr, "callrecd: %s: [store] min_free_mb: '%s' is not a number\n",
				path, v);
			rte_cfgfile_close(cf);
			return 2;
		}
		cfg->min_free_bytes = (uint64_t)u << 20;
	}
	unsigned lz4_accel = (unsigned)cfg->lz4_accel;
	if (cfg_uint(cf, path, "store", "lz4_acceleration", 0, 65537, &lz4_accel) < 0 ||
	    cfg_uint(cf, path, "store", "lz4_min_saving", 0, 99, &cfg->lz4_min_saving) < 0) {
		rte_cfgfile_close(cf);
		return 2;
	}
	cfg->lz4_accel = (int)lz4_accel;
	/* memory bounds: each table is fixed at start (docs/operations.md: sizing) */
	const struct {
		const char *key;
		unsigned lo, hi, mul;
		unsigned *dst;
	} lim[] = {
		{"max_calls", 16, 1u << 22, 1, &cfg->max_calls},
		{"max_streams", 16, 1u << 22, 1, &cfg->max_streams},
		{"media_entries", 64, 1u << 24, 1, &cfg->media_entries},
		{"chunk_kb", 1, 64, 1024, &cfg->chunk_cap},
		{"nb_mbufs", 1023, 1u << 22, 1, &cfg->nb_mbufs},
	};
	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		unsigned u;
		int r = cfg_uint(cf, path, "limits", lim[i].key, lim[i].lo, lim[i].hi, &u);
		if (r < 0) {
			rte_cfgfile_close(cf);
			return 2;
		}
		if (r > 0) {
			*lim[i].dst = u * lim[i].mul;
			o->limits_set = 1;
			o->chunk_set |= lim[i].dst == &cfg->chunk_cap;
		}
	}
	if (cfg_yes_no(cf, path, "limits", "prefault", &cfg->prefault) != 0) {
		rte_cfgfile_close(cf);
		return 2;
	}
	if ((v = rte_cfgfile_get_entry(cf, "import", "direct_io"))) {
		if (strcmp(v, "auto") != 0 && strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
			fprintf(stderr, "callrecd: %s: [import] direct_io: '%s' is not auto, yes or no\n",
				path, v);
			rte_cfgfile_close(cf);
			return 2;
		}
		cfg->capture_direct = strcmp(v, "auto") == 0 ? -1 : strcmp(v, "yes") == 0;
	}
	if (cfg_uint(cf, path, "retention", "check_s", 1, 86400, &g_retain.check_s) < 0) {
		rte_cfgfile_close(cf);
		return 2;
	}
	char rerr[256];
	if (cr_retain_load_cfg(&g_retain.pol, cf, rerr, sizeof(rerr)) != 0) {
		fprintf(stderr, "callrecd: %s: [retention] %s\n", path, rerr);
		rte_cfgfile_close(cf);
		return 2;
	}
	if ((v = rte_cfgfile_get_entry(cf, "telemetry", "listen"))) {
		if (strcmp(v, "off") == 0) {
			g_http.listen[0] = 0;
		} else if (strlen(v) >= sizeof(g_http.listen) || strrchr(v, ':') == NULL) {
			fprintf(stderr, "callrecd: %s: [telemetry] listen: '%s' is not ADDR:PORT or off\n",
				path, v);
			rte_cfgfile_close(cf);
			return 2;
		} else {
			snprintf(g_http.listen, sizeof(g_http.listen), "%s", v);
		}
	}
	if ((v = rte_cfgfile_get_entry(cf, "telemetry", "token_file"))) {
		int fd = open(v, O_RDONLY | O_CLOEXEC);
		struct stat st;
		ssize_t n = -1;
		if (fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 077) == 0)
			n = read(fd, g_http.token, sizeof(g_http.token) - 1);
		if (fd >= 0)
			close(fd);
		if (n > 0)
			g_http.token[n] = 0;
		g_http.token[strcspn(g_http.token, "\r\n")] = 0;
		if (n <= 0 || strlen(g_http.token) < 16) {
			fprintf(stderr,
				"callrecd: %s: [telemetry] token_file: '%s' must be a file of mode 0600 "
				"holding a token of 16+ characters\n",
				path, v);
			rte_cfgfile_close(cf);
			return 2;
		}
	}
	if (g_http.listen[0] && !listen_is_loopback(g_http.listen) && g_http.token[0] == 0) {
		fprintf(stderr,
			"callrecd: %s: [telemetry] listen = %s is reachable from other hosts: set "
			"[telemetry] token_file (scrapers send Authorization: Bearer TOKEN)\n",
			path, g_http.listen);
		rte_cfgfile_close(cf);
		return 2;
	}
	/* on demand: the SIP header, DTMF sequences, the control socket */
	static char hdr[64], seq[5][16], sock[PATH_MAX];
	if ((v = rte_cfgfile_get_entry(cf, "ondemand", "header"))) {
		snprintf(hdr, sizeof(hdr), "%s", v);
		cfg->rec_header = strcmp(v, "off") == 0 ? NULL : hdr;
	}
	static const char *const dk[] = {NULL, "dtmf_start", "dtmf_stop", "dtmf_pause", "dtmf_resume"};
	for (int a = 1; a <= 4; a++) {
		if ((v = rte_cfgfile_get_entry(cf, "ondemand", dk[a])) == NULL)
			continue;
		if (strlen(v) == 0 || strlen(v) > 7 || strspn(v, "0123456789*#ABCD") != strlen(v)) {
			fprintf(stderr, "callrecd: %s: [ondemand] %s: '%s' is not 1-7 DTMF digits\n",
				path, dk[a], v);
			rte_cfgfile_close(cf);
			return 2;
		}
		snprintf(seq[a], sizeof(seq[a]), "%s", v);
		cfg->dtmf_seq[a] = seq[a];
	}
	if ((v = rte_cfgfile_get_entry(cf, "ondemand", "lookback_s"))) {
		unsigned u;
		if (parse_uint(v, 0, 600, &u) != 0) {
			fprintf(stderr, "callrecd: %s: [ondemand] lookback_s: '%s' is not 0..600\n", path,
				v);
			rte_cfgfile_close(cf);
			return 2;
		}
		cfg->lookback_ns = (int64_t)u * 1000000000LL;
	}
	if ((v = rte_cfgfile_get_entry(cf, "ondemand", "socket"))) {
		snprintf(sock, sizeof(sock), "%s", v);
		g_ctl.path = sock;
	}
	/* recording policy: its rules name the retention classes above */
	const char *cls[CR_RETAIN_MAX_CLASSES];
	for (unsigned i = 0; i < g_retain.pol.n; i++)
		cls[i] = g_retain.pol.cls[i].name;
	if (cr_policy_load_cfg(cf, path, cls, g_retain.pol.n, &cfg->policy, rerr, sizeof(rerr)) != 0) {
		fprintf(stderr, "callrecd: %s\n", rerr);
		rte_cfgfile_close(cf);
		return 2;
	}
	if ((v = rte_cfgfile_get_entry(cf, "security", "key_file")))
		snprintf(g_sec.key_file, sizeof(g_sec.key_file), "%s", v);
	if ((v = rte_cfgfile_get_entry(cf, "security", "key_command")))
		snprintf(g_sec.key_command, sizeof(g_sec.key_command), "%s", v);
	if ((v = rte_cfgfile_get_entry(cf, "security", "sign_key")))
		snprintf(g_sec.sign_key, sizeof(g_sec.sign_key), "%s", v);
	if (cfg_yes_no(cf, path, "security", "manifest", &g_sec.manifest) != 0) {
		rte_cfgfile_close(cf);
		return 2;
	}
	if ((v = rte_cfgfile_get_entry(cf, "security", "index_pii"))) {
		g_sec.pii = strcmp(v, "plain") == 0	? CR_PII_PLAIN
			    : strcmp(v, "hash") == 0	? CR_PII_HASH
			    : strcmp(v, "encrypt") == 0 ? CR_PII_ENCRYPT
							: -2;
		if (g_sec.pii == -2) {
			fprintf(stderr,
				"callrecd: %s: [security] index_pii: '%s' is not plain, hash or encrypt\n",
				path, v);
			rte_cfgfile_close(cf);
			return 2;
		}
	}
	static char profile[PATH_MAX];
	if ((v = rte_cfgfile_get_entry(cf, "ports", "profile")) && o->profile == NULL) {
		snprintf(profile, sizeof(profile), "%s", v);
		o->profile = profile;
	}
	rte_cfgfile_close(cf);
	return 0;
}

static int
parse_app_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"pcap", required_argument, NULL, 'p'},	{"store", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'}, {"workers", required_argument, NULL, 'w'},
		{"quiet", no_argument, NULL, 'q'},	{"progress", no_argument, NULL, 'P'},
		{"no-progress", no_argument, NULL, 'N'}, {"help", no_argument, NULL, 'h'},
		{"profile", required_argument, NULL, 'f'}, {"fault", required_argument, NULL, 'F'},
		{"check", no_argument, NULL, 'C'}, {"metrics-file", required_argument, NULL, 'M'},
		{"set", required_argument, NULL, 'S'}, {"help-config", no_argument, NULL, 'H'},
		{"key-file", required_argument, NULL, 'K'}, {"sign-key", required_argument, NULL, 'G'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (o->n_pcaps >= MAX_PCAPS)
				return bad("at most %s --pcap files", "16");
			if (access(optarg, R_OK) != 0)
				return bad("cannot read capture '%s'", optarg);
			o->pcaps[o->n_pcaps++] = optarg;
			break;
		case 's':
			o->store = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'w':
			if (parse_uint(optarg, 1, CR_ENGINE_MAX_WORKERS, &o->workers) != 0)
				return bad("--workers: '%s' is not a number from 1 to 64", optarg);
			o->workers_set = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'P':
			o->progress = 1;
			break;
		case 'N':
			o->progress = 0;
			break;
		case 'f':
			o->profile = optarg;
			break;
		case 'C':
			o->check = 1;
			break;
		case 'M':
			o->metrics_file = optarg;
			break;
		case 'K':
			o->key_file = optarg;
			break;
		case 'G':
			o->sign_key = optarg;
			break;
		case 'H':
			help_config();
			exit(0);
		case 'S':
			if (o->n_sets == sizeof(o->sets) / sizeof(o->sets[0]))
				return bad("at most %s --set options", "64");
			o->sets[o->n_sets++] = optarg;
			break;
		case 'F':
			if (parse_fault(optarg, o) != 0)
				return bad("--fault: '%s' is not write:N[:ENOSPC|EIO], alloc:N, slabs:N or dio:N",
					   optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			if (optopt)
				return bad("option '-%c' needs an argument or is unknown",
					   (char[]){(char)optopt, 0});
			return bad("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Keys, signing key, index protection; refuses to start on any doubt. */
static int
setup_security(const struct opts *o, struct cr_engine_cfg *cfg)
{
	char err[512];
	const char *kf = o->key_file ? o->key_file : g_sec.key_file[0] ? g_sec.key_file : NULL;
	const char *sk = o->sign_key ? o->sign_key : g_sec.sign_key[0] ? g_sec.sign_key : NULL;
	int r = 0;
	if (kf && (r = cr_keyring_load(&g_sec.kr, kf, err, sizeof(err))) != 0)
		goto bad;
	/* the KMS hook: [security] key_command, or CALLREC_KEY_COMMAND in the environment */
	const char *kc = g_sec.key_command[0] ? g_sec.key_command : getenv("CALLREC_KEY_COMMAND");
	if (kc && *kc && (r = cr_keyring_load_cmd(&g_sec.kr, kc, err, sizeof(err))) != 0)
		goto bad;
	if (sk && (r = cr_sign_load(&g_sec.signer, sk, 1, err, sizeof(err))) != 0)
		goto bad;
	int keys = g_sec.kr.n > 0;
	if (keys) {
		/* index.key goes into the store: make it (and its parents) first */
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%.4000s/", o->store);
		if ((r = cr_mkdirs(p)) != 0) {
			snprintf(err, sizeof(err), "store %.400s: %s", o->store, strerror(-r));
			goto bad;
		}
	}
	if (keys) {
		cr_store_set_keyring(&g_sec.kr);
		cfg->keyring = &g_sec.kr;
	}
	int pii = g_sec.pii >= 0 ? g_sec.pii : keys ? CR_PII_ENCRYPT : CR_PII_PLAIN;
	char kp[PATH_MAX];
	snprintf(kp, sizeof(kp), "%s/index.key", o->store);
	if (!keys && access(kp, F_OK) == 0) {
		/* never fall back to writing recordings in clear into an encrypted store */
		snprintf(err, sizeof(err),
			 "store %s is encrypted (it has index.key): give its master key "
			 "(--key-file or [security] key_file / key_command)",
			 o->store);
		r = -ENOKEY;
		goto bad;
	}
	if (!keys && pii != CR_PII_PLAIN) {
		snprintf(err, sizeof(err), "[security] index_pii = %s needs a master key "
			 "(key_file or key_command)", pii == CR_PII_HASH ? "hash" : "encrypt");
		r = -ENOKEY;
		goto bad;
	}
	if (keys) {
		/* index.key marks the store encrypted, and holds the index fields' secret */
		uint8_t secret[32];
		int mode;
		if ((r = cr_store_index_secret(o->store, &g_sec.kr, pii, secret, &mode, err,
					       sizeof(err))) != 0 ||
		    (r = cr_fieldkey_init(&g_sec.fk, (enum cr_pii_mode)mode, secret)) != 0)
			goto bad;
		cr_wipe(secret, sizeof(secret));
		if (mode != pii)
			fprintf(stderr, "callrecd: the store's index fields are %s (fixed when it was "
				"made); [security] index_pii is ignored\n",
				mode == CR_PII_HASH ? "hashed" : mode == CR_PII_ENCRYPT ? "encrypted" : "plain");
		if (mode != CR_PII_PLAIN) {
			cfg->fieldkey = &g_sec.fk;
			cr_index_set_default_fieldkey(&g_sec.fk);
		}
	}
	cfg->manifest = g_sec.manifest >= 0 ? g_sec.manifest : keys || g_sec.signer;
	cfg->signer = g_sec.signer;
	g_retain.pol.signer = g_sec.signer;
	return 0;
bad:
	fprintf(stderr, "callrecd: %s\n", err);
	return 2;
}

int
main(int argc, char **argv)
{
	struct opts o = {.workers = 1, .progress = isatty(STDERR_FILENO)};
	struct cr_engine_cfg cfg;
	umask(027); /* recordings, index, logs: never readable by others */
	cr_engine_cfg_defaults(&cfg);
	cr_retain_defaults(&g_retain.pol);

	int sep = -1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	int live = sep >= 0;
	int r;
	if (live) {
		r = parse_app_args(argc - sep, argv + sep, &o);
	} else {
		if (argc == 1) {
			usage(stderr);
			return 2;
		}
		r = parse_app_args(argc, argv, &o);
	}
	if (r != 0)
		return r;
	if ((o.config || o.n_sets) && (r = load_config(o.config, &o, &cfg)) != 0)
		return r;
	if (o.profile && (r = load_profile(o.profile, &cfg)) != 0)
		return r;
	if (o.check) {
		if (o.config == NULL && o.n_sets == 0)
			return bad("%s", "--check needs --config FILE (or --set)");
		printf("%s: valid (%u retention class(es), %u policy rule(s))\n",
		       o.config ? o.config : "--set",
		       g_retain.pol.n, cfg.policy ? cr_policy_rules(cfg.policy) : 0);
		cr_policy_free(cfg.policy);
		return 0;
	}
	if (!live && o.n_pcaps == 0)
		return bad("%s", "offline mode needs --pcap FILE (live mode: EAL options -- --config FILE)");
	if (live && o.n_pcaps)
		return bad("%s", "--pcap is for offline mode; live ports come from EAL options");
	if (o.store == NULL)
		return bad("%s", "--store DIR is required (or [general] store in the config)");

	/* EAL arguments */
	char *eal[64 + MAX_PCAPS];
	int ne = 0, huge = 0;
	static char lcores[64], prefix[64], mem_mb[16];
	if (live) {
		for (int i = 0; i < sep; i++)
			eal[ne++] = argv[i];
	} else {
		for (unsigned i = 0; i < o.n_pcaps; i++) {
			int link;
			if (probe_pcap(o.pcaps[i], &link) != 0)
				return 2;
			cfg.ports[i].linktype = link;
			cfg.ports[i].ts_mode = CR_TS_MBUF_NS;
			cfg.ports[i].capture = o.pcaps[i];
			cfg.ports[i].port_id = (uint16_t)i;
			cfg.ports[i].name = o.pcaps[i];
		}
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(lcores, sizeof(lcores), "(0-%u)@(0-%ld)", o.workers, ncpu > 0 ? ncpu - 1 : 0);
		snprintf(prefix, sizeof(prefix), "--file-prefix=callrecd%d", (int)getpid());
		eal[ne++] = argv[0];
		/* DPDK memory: pools, rings and tables sized for an import (about
		 * 60 MB and 10 MB a worker; the operator's [limits] may ask for
		 * more). Hugepages when the server has them free (a recorder's
		 * server does: scripts/hugepages.sh): EAL takes 2 MiB pages as it
		 * needs them. Without, 4 KiB pages are faulted in one at a time
		 * (about 10 us each in a VM) and EAL zeroes a descriptor per page
		 * of -m at start, so no more than needed. Twice the need free, or
		 * parallel imports could run short after EAL started. */
		unsigned need = o.limits_set ? 1024u : 192u + 16u * o.workers;
		huge = hugepages_free_mb() >= 2ul * need && getenv("CALLREC_NO_HUGEPAGES") == NULL;
		if (huge) {
			eal[ne++] = "--in-memory";
			eal[ne++] = "--iova-mode=va"; /* nothing DMAs into an import's mbufs */
		} else {
			/* the engine's pools are then in process memory
			 * (cr_engine.c, pool_populate): EAL keeps its tables,
			 * about 26 MB and 2 MB a worker, and zeroes a
			 * descriptor per 4 KiB page of -m at start */
			if (!o.limits_set)
				need = 64u + 8u * o.workers;
			snprintf(mem_mb, sizeof(mem_mb), "%u", need);
			eal[ne++] = "--no-huge";
			eal[ne++] = "--no-shconf";
			eal[ne++] = "-m";
			eal[ne++] = mem_mb;
		}
		eal[ne++] = "--no-pci";
		eal[ne++] = "--lcores";
		eal[ne++] = lcores;
		eal[ne++] = prefix;
		eal[ne++] = "--log-level=lib.eal:error";
		eal[ne++] = "--log-level=user1:error";
		eal[ne++] = "--no-telemetry";
	}
	eal[ne] = NULL;
	if (rte_eal_init(ne, eal) < 0) {
		fprintf(stderr, "callrecd: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	/* an import on hugepages: buffers used whole (chunk slabs, staging,
	 * SQLite's page cache) take them too (cr_mem.h); it checked twice its
	 * need is free. Not live: port setup allocates DPDK memory after the
	 * workers have mapped all their slabs, and a recorder must not fail to
	 * start for want of queue memory its own buffers took. */
	if (!live && rte_eal_has_hugepages())
		cr_mem_use_reserved(1);
	uint16_t nports = rte_eth_dev_count_avail();
	if (!live && !o.quiet)
		fprintf(stderr, "callrecd: DPDK memory: %s\n",
			huge ? "hugepages" : "4 KiB pages (no free hugepages, or CALLREC_NO_HUGEPAGES)");
	if (!live) {
		nports = (uint16_t)o.n_pcaps; /* capture files, read by the engine */
		cfg.offline = 1;
		cfg.prefault = 0; /* tables sized to the capture: touched as used */
		/* Size the tables to the capture: every pool is populated (its pages
		 * touched) at start, which for a small import cost more than the
		 * import. A quarter of the packets, at most the live sizes: only a
		 * capture of mostly one- to three-packet streams could overflow, and
		 * that is counted by name (STREAM_TABLE_FULL, media table full). */
		uint64_t total = 0; /* packets: at most one per 58 bytes of file */
		for (unsigned i = 0; i < o.n_pcaps; i++) {
			struct stat sb;
			if (stat(o.pcaps[i], &sb) == 0)
				total += (uint64_t)sb.st_size / 58;
		}
		uint64_t want = total / 4 + 1024;
		if (o.limits_set)
			want = UINT64_MAX; /* the operator sized them */
		if (want < cfg.media_entries)
			cfg.media_entries = (unsigned)want;
		if (want / o.workers < cfg.max_streams)
			cfg.max_streams = (unsigned)(want / o.workers) + 64;
		cfg.nb_msgs = 1023;	     /* producers wait for free messages */
		/* chunks of 32 KB (4 s of G.711, the longest a chunk spans): half
		 * the index rows of 16 KB, and an import's buffers are only its
		 * streams' (200 calls x 60 s: index thread 28 -> 20 ms, import
		 * 268 -> 259 ms CPU, 10 runs; 8 and 4 KB cost 311 and 352) */
		if (!o.chunk_set)
			cfg.chunk_cap = 32768;
		/* blocks in flight to the I/O thread: two staging buffers' worth
		 * of batches (it writes one while the next fills; the
		 * worker waits for a free one). The live 63 made every import
		 * fault in 21 MB and cycle its batches through them, out of the
		 * caches: 200 calls x 60 s cost 23-76 ms more (4 pairs) */
		cfg.nb_blocks = 2 * (CR_SEGW_BUF / CR_ENGINE_BATCH_BYTES) - 1;
		/* the reader waits for free mbufs (nothing is lost): a few
		 * milliseconds of work in flight per worker is enough, and every
		 * mbuf is a page fault at start */
		if (!o.limits_set && cfg.nb_mbufs > 2048 * (o.workers + 1) - 1)
			cfg.nb_mbufs = 2048 * (o.workers + 1) - 1;

	} else {
		if (nports == 0) {
			fprintf(stderr, "callrecd: no DPDK port (a vdev that fails to load leaves 0 ports)\n");
			rte_eal_cleanup();
			return 1;
		}
		if (nports > CR_ENGINE_MAX_PORTS)
			nports = CR_ENGINE_MAX_PORTS;
		for (uint16_t i = 0; i < nports; i++)
			cfg.ports[i].linktype = CR_LINK_ETHERNET;
		o.progress = 0;
	}
	uint16_t pid, k = 0;
	RTE_ETH_FOREACH_DEV(pid) {
		if (k >= nports)
			break;
		cfg.ports[k++].port_id = pid;
	}
	cfg.n_ports = nports;
	cfg.n_workers = o.workers;
	if (cfg.rx_queues == UINT_MAX) /* "workers": run to completion from 2 workers */
		cfg.rx_queues = o.workers > 1 ? o.workers : 1;
	if (!live)
		cfg.rx_queues = 0; /* capture files: one reader */
	if (cfg.rx_queues > 1 && cfg.rx_queues != o.workers)
		return bad("profile rx_queues %s: one queue per port, or one per worker",
			   "must be 1 or the worker count");
	cfg.store_dir = o.store;
	cfg.progress = o.progress;
	cfg.report = o.quiet ? NULL : stderr;
	cfg.fault_write_every = o.fault_write;
	cfg.fault_slabs = o.fault_slabs;
	cfg.fault_dio = o.fault_dio;
	cfg.fault_write_errno = o.fault_errno;
	if (o.fault_alloc)
		cfg.fault_block_every = o.fault_alloc;

	if ((r = setup_security(&o, &cfg)) != 0)
		return r;
	g_retain.store = o.store;
	g_store_dir = o.store;
	g_engine = cr_engine_create(&cfg);
	if (g_engine == NULL) {
		fprintf(stderr, "callrecd: cannot start: %s\n", strerror(errno));
		rte_eal_cleanup();
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	g_config_path = o.config;
	g_sets = o.sets;
	g_n_sets = o.n_sets;
	audit_config(live ? "start" : "import");
	if (live)
		signal(SIGHUP, on_hup);
	/* live recording: the cleaner deletes what retention says, on the wall clock */
	pthread_t cleaner;
	int have_cleaner = live && pthread_create(&cleaner, NULL, cleaner_main, &g_retain) == 0;
	if (have_cleaner)
		pthread_setname_np(cleaner, "cr-cleaner");
	pthread_t http;
	int have_http = 0;
	if (live && g_http.listen[0]) {
		g_http.fd = http_open(g_http.listen);
		if (g_http.fd < 0)
			fprintf(stderr, "callrecd: metrics on %s: %s; not serving them\n", g_http.listen,
				strerror(-g_http.fd));
		else
			have_http = pthread_create(&http, NULL, http_main, NULL) == 0;
		if (have_http)
			pthread_setname_np(http, "cr-metrics");
	}
	pthread_t ctl;
	int have_ctl = 0;
	if (live) {
		if (g_ctl.path == NULL) {
			snprintf(g_ctl.buf, sizeof(g_ctl.buf), "%s/ctl.sock", o.store);
			g_ctl.path = g_ctl.buf;
		}
		g_ctl.fd = ctl_open(g_ctl.path);
		if (g_ctl.fd < 0)
			fprintf(stderr, "callrecd: control socket %s: %s; on-demand control off\n",
				g_ctl.path, strerror(-g_ctl.fd));
		else
			have_ctl = pthread_create(&ctl, NULL, ctl_main, NULL) == 0;
		if (have_ctl)
			pthread_setname_np(ctl, "cr-ctl");
	}
	r = cr_engine_run(g_engine);
	if (have_ctl) {
		g_ctl.stop = 1;
		pthread_join(ctl, NULL);
		close(g_ctl.fd);
		unlink(g_ctl.path);
	}
	if (have_http) {
		g_http.stop = 1;
		pthread_join(http, NULL);
		close(g_http.fd);
	}
	if (o.metrics_file) {
		int m = write_metrics_file(o.metrics_file);
		if (m != 0)
			fprintf(stderr, "callrecd: --metrics-file %s: %s\n", o.metrics_file,
				strerror(-m));
	}
	if (have_cleaner) {
		pthread_mutex_lock(&g_retain.mu);
		g_retain.stop = 1;
		pthread_cond_signal(&g_retain.cv);
		pthread_mutex_unlock(&g_retain.mu);
		pthread_join(cleaner, NULL);
	}
	struct cr_engine_totals t;
	cr_engine_totals(g_engine, &t);
	int rc = 0;
	if (r != 0) {
		fprintf(stderr, "callrecd: index write failed: %s\n", strerror(-r));
		rc = 1;
	}
	if (t.accounted != t.rx_packets) {
		fprintf(stderr, "callrecd: BUG: %" PRIu64 " packets received, %" PRIu64
				" accounted\n", t.rx_packets, t.accounted);
		rc = 1;
	}
	cr_engine_free_at_exit(g_engine);
	g_engine = NULL;
	rte_eal_cleanup();
	return rc;
}
