/* SPDX-License-Identifier: BSD-3-Clause */
/* Metrics in the Prometheus text format (0.0.4), read from any thread: every
 * counter is a naturally aligned 64-bit word one thread writes, so a reader
 * sees a value that was true a moment ago. Names: callrec_<what>[_total]. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "cr_engine_internal.h"

static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(FILE *f, const char *name, const char *type, const char *help, double v)
{
	head(f, name, type, help);
	fprintf(f, "%s %.17g\n", name, v);
}

static void
hist(FILE *f, const char *name, const char *help, const double *le, unsigned nb,
     const uint64_t *cnt, double sum)
{
	head(f, name, "histogram", help);
	uint64_t acc = 0;
	for (unsigned i = 0; i <= nb; i++) {
		acc += cnt[i];
		if (i < nb)
			fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, le[i], acc);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, acc);
	}
	fprintf(f, "%s_sum %.17g\n%s_count %" PRIu64 "\n", name, sum, name, acc);
}

int
cr_engine_metrics(const struct cr_engine *e, FILE *f)
{
	uint64_t fate[CR_FATE_MAX];
	cr_engine_fates(e, fate);
	one(f, "callrec_packets_received_total", "counter", "packets taken from the ports",
	    (double)cr_engine_received(e));
	head(f, "callrec_packets_total", "counter",
	     "packets by fate: what became of every packet received (they add up to received)");
	for (int i = 0; i < CR_FATE_MAX; i++)
		fprintf(f, "callrec_packets_total{fate=\"%s\"} %" PRIu64 "\n", cr_fate_names[i],
			fate[i]);
	/* the fates that lose a packet, by reason (CR_FATE_LIST's drop column):
	 * what to alert on, without a list kept by hand in each dashboard */
	head(f, "callrec_packets_dropped_total", "counter",
	     "packets lost by reason: the fates of callrec_packets_total that drop a packet");
	for (int i = 0; i < CR_FATE_MAX; i++)
		if (cr_fate_drop[i])
			fprintf(f, "callrec_packets_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
				cr_fate_names[i], fate[i]);
	one(f, "callrec_index_records_dropped_total", "counter",
	    "index records lost: message pool or ring full (live)",
	    (double)cr_engine_index_lost(e));

	head(f, "callrec_port_packets_total", "counter", "NIC counters per port (rte_eth_stats)");
	struct {
		const char *name, *help;
	} pc[] = {{"callrec_port_imissed_total", "packets the NIC dropped: RX queue full"},
		  {"callrec_port_ierrors_total", "erroneous packets received"},
		  {"callrec_port_rx_nombuf_total", "RX mbuf allocation failures"}};
	struct rte_eth_stats st[CR_ENGINE_MAX_PORTS];
	for (unsigned p = 0; p < e->cfg.n_ports; p++) {
		memset(&st[p], 0, sizeof(st[p]));
		if (e->capin[p] == NULL)
			rte_eth_stats_get(e->cfg.ports[p].port_id, &st[p]);
		fprintf(f, "callrec_port_packets_total{port=\"%u\"} %" PRIu64 "\n",
			e->cfg.ports[p].port_id, st[p].ipackets);
	}
	for (int k = 0; k < 3; k++) {
		head(f, pc[k].name, "counter", pc[k].help);
		for (unsigned p = 0; p < e->cfg.n_ports; p++)
			fprintf(f, "%s{port=\"%u\"} %" PRIu64 "\n", pc[k].name,
				e->cfg.ports[p].port_id,
				k == 0 ? st[p].imissed : k == 1 ? st[p].ierrors : st[p].rx_nombuf);
	}

	one(f, "callrec_capture_errors_total", "counter",
	    "capture files that ended in a corrupt or cut record (offline)",
	    (double)e->capture_errors);
	head(f, "callrec_worker_rx_packets_total", "counter",
	     "packets a worker received from its queue of the ports (run to completion)");
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		fprintf(f, "callrec_worker_rx_packets_total{worker=\"%u\"} %" PRIu64 "\n", w,
			__atomic_load_n(&e->workers[w].nic_rx, __ATOMIC_RELAXED));
	head(f, "callrec_worker_packets_total", "counter", "ring entries a worker processed");
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		fprintf(f, "callrec_worker_packets_total{worker=\"%u\"} %" PRIu64 "\n", w,
			e->workers[w].done_objs);
	head(f, "callrec_worker_cycles_total", "counter", "TSC cycles of a worker lcore, busy or idle");
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		fprintf(f,
			"callrec_worker_cycles_total{worker=\"%u\",state=\"busy\"} %" PRIu64 "\n"
			"callrec_worker_cycles_total{worker=\"%u\",state=\"idle\"} %" PRIu64 "\n",
			w, e->workers[w].busy_cycles, w, e->workers[w].idle_cycles);
	head(f, "callrec_worker_compress_cycles_total", "counter",
	     "TSC cycles of a worker spent in lz4 (part of busy)");
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		fprintf(f, "callrec_worker_compress_cycles_total{worker=\"%u\"} %" PRIu64 "\n", w,
			e->workers[w].lz4_cycles);
	head(f, "callrec_worker_blocks_uncompressed_total", "counter",
	     "blocks a worker stored without trying lz4: the class's last attempt saved less than "
	     "[store] lz4_min_saving");
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		fprintf(f, "callrec_worker_blocks_uncompressed_total{worker=\"%u\"} %" PRIu64 "\n", w,
			e->workers[w].blocks_raw);
	head(f, "callrec_worker_ring_drops_total", "counter",
	     "packets dropped because a worker's ring was full (RING_FULL by ring)");
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		fprintf(f, "callrec_worker_ring_drops_total{worker=\"%u\"} %" PRIu64 "\n", w,
			e->ring_drops[w]);
	head(f, "callrec_worker_ring_used", "gauge", "entries waiting in a worker's ring");
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		fprintf(f, "callrec_worker_ring_used{worker=\"%u\"} %u\n", w,
			e->workers[w].ring ? rte_ring_count(e->workers[w].ring) : 0);
	head(f, "callrec_active_streams", "gauge", "RTP streams a worker follows now");
	uint64_t streams = 0;
	for (unsigned w = 0; w < e->cfg.n_workers; w++) {
		uint64_t a = e->cfg.max_streams - e->workers[w].n_free;
		streams += a;
		fprintf(f, "callrec_active_streams{worker=\"%u\"} %" PRIu64 "\n", w, a);
	}

	const struct cr_call_stats *cs = cr_call_stats(e->calls);
	one(f, "callrec_calls_total", "counter", "calls seen (INVITEs that started a dialog)",
	    (double)cs->calls_created);
	one(f, "callrec_active_calls", "gauge", "calls in progress",
	    (double)(cs->calls_created - cs->calls_ended));
	one(f, "callrec_calls_not_recorded_total", "counter", "calls the recording policy skipped",
	    (double)e->calls_skipped);
	head(f, "callrec_ondemand_total", "counter", "on-demand recording changes applied, by trigger");
	static const char *const by[] = {"control", "sip", "dtmf"};
	for (int i = 0; i < 3; i++)
		fprintf(f, "callrec_ondemand_total{by=\"%s\"} %" PRIu64 "\n", by[i], cs->ondemand[i]);
	uint64_t lost = 0;
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		lost += e->workers[w].digits_lost;
	one(f, "callrec_ondemand_refused_total", "counter",
	    "on-demand requests the call's policy refused", (double)cs->ondemand_refused);
	one(f, "callrec_ondemand_digits_lost_total", "counter",
	    "RFC 4733 digits the signalling owner missed (ring full)", (double)lost);

	one(f, "callrec_store_bytes_total", "counter", "bytes written to segments",
	    (double)e->io_bytes);
	one(f, "callrec_store_blocks_total", "counter", "blocks written", (double)e->io_blocks);
	one(f, "callrec_store_segments_total", "counter", "segments opened", (double)e->io_segments);
	one(f, "callrec_store_write_errors_total", "counter", "failed segment writes or fsyncs",
	    (double)e->io_errors);
	one(f, "callrec_store_alarm", "gauge", "0 ok, 1 file system full (or guard), 2 I/O errors",
	    (double)e->io_alarm);
	struct statvfs v;
	if (statvfs(e->cfg.store_dir, &v) == 0)
		one(f, "callrec_store_free_bytes", "gauge", "free space of the store's file system",
		    (double)v.f_bavail * (double)v.f_frsize);
	one(f, "callrec_recovered_segments", "gauge", "segments crash recovery sealed at start",
	    (double)e->recovered_segments);
	one(f, "callrec_index_lag", "gauge", "records waiting for the index thread",
	    (double)rte_ring_count(e->idx_ring));
	one(f, "callrec_index_errors_total", "counter", "index writes that failed",
	    (double)e->idx_errors);
	one(f, "callrec_index_batches_total", "counter", "index transactions", (double)e->idx_batches);
	head(f, "callrec_rx_cycles_total", "counter", "TSC cycles of the RX/signalling lcore, busy or idle");
	fprintf(f, "callrec_rx_cycles_total{state=\"busy\"} %" PRIu64 "\n"
		   "callrec_rx_cycles_total{state=\"idle\"} %" PRIu64 "\n",
		e->rx_busy_cycles, e->rx_idle_cycles);
	one(f, "callrec_io_busy_cycles_total", "counter",
	    "TSC cycles the I/O thread spent encrypting, staging, writing, syncing",
	    (double)e->io_busy_cycles);
	one(f, "callrec_tsc_hz", "gauge", "TSC frequency (cycles per second)",
	    (double)rte_get_tsc_hz());
	if (e->cfg.manifest) {
		/* kept elsewhere (Prometheus), the line count anchors the manifest's tail */
		one(f, "callrec_manifest_lines", "gauge", "lines of STORE/manifest.log (last written)",
		    (double)__atomic_load_n(&e->manifest_lines, __ATOMIC_RELAXED));
		one(f, "callrec_manifest_errors_total", "counter", "manifest lines not written",
		    (double)e->manifest_errors);
	}

	uint64_t mh[CR_MOS_BUCKETS + 1] = {0}, jh[CR_JIT_BUCKETS + 1] = {0};
	double ms = 0, js = 0;
	for (unsigned w = 0; w < e->cfg.n_workers; w++) {
		for (unsigned i = 0; i <= CR_MOS_BUCKETS; i++)
			mh[i] += e->workers[w].mos_hist[i];
		for (unsigned i = 0; i <= CR_JIT_BUCKETS; i++)
			jh[i] += e->workers[w].jit_hist[i];
		ms += e->workers[w].mos_sum;
		js += e->workers[w].jit_sum;
	}
	hist(f, "callrec_stream_mos", "MOS (ITU-T G.107 E-model) of streams that ended", cr_mos_le,
	     CR_MOS_BUCKETS, mh, ms);
	double jle[CR_JIT_BUCKETS];
	for (unsigned i = 0; i < CR_JIT_BUCKETS; i++)
		jle[i] = cr_jit_le[i] / 1000.0;
	hist(f, "callrec_stream_jitter_seconds",
	     "mean interarrival jitter (RFC 3550) of streams that ended", jle, CR_JIT_BUCKETS, jh,
	     js / 1000.0);
	(void)streams;
	return ferror(f) ? -EIO : 0;
}

/* ---- DPDK telemetry: /callrec/... on the EAL telemetry socket ---- */

static const struct cr_engine *tel_engine; /* the one engine of the process */

static int
tel_fates(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	const struct cr_engine *e = __atomic_load_n(&tel_engine, __ATOMIC_ACQUIRE);
	if (e == NULL)
		return -ENODEV;
	uint64_t fate[CR_FATE_MAX];
	cr_engine_fates(e, fate);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "received", cr_engine_received(e));
	for (int i = 0; i < CR_FATE_MAX; i++)
		rte_tel_data_add_dict_u64(d, cr_fate_names[i], fate[i]);
	return 0;
}

static int
tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)params;
	const struct cr_engine *e = __atomic_load_n(&tel_engine, __ATOMIC_ACQUIRE);
	if (e == NULL)
		return -ENODEV;
	rte_tel_data_start_dict(d);
	if (strcmp(cmd, "/callrec/calls") == 0) {
		const struct cr_call_stats *cs = cr_call_stats(e->calls);
		rte_tel_data_add_dict_u64(d, "calls", cs->calls_created);
		rte_tel_data_add_dict_u64(d, "active", cs->calls_created - cs->calls_ended);
		rte_tel_data_add_dict_u64(d, "not_recorded", e->calls_skipped);
		rte_tel_data_add_dict_u64(d, "ondemand_refused", cs->ondemand_refused);
		uint64_t streams = 0;
		for (unsigned w = 0; w < e->cfg.n_workers; w++)
			streams += e->cfg.max_streams - e->workers[w].n_free;
		rte_tel_data_add_dict_u64(d, "active_streams", streams);
	} else if (strcmp(cmd, "/callrec/store") == 0) {
		rte_tel_data_add_dict_u64(d, "bytes", e->io_bytes);
		rte_tel_data_add_dict_u64(d, "blocks", e->io_blocks);
		rte_tel_data_add_dict_u64(d, "segments", e->io_segments);
		rte_tel_data_add_dict_u64(d, "write_errors", e->io_errors);
		rte_tel_data_add_dict_u64(d, "alarm", (uint64_t)e->io_alarm);
		rte_tel_data_add_dict_u64(d, "index_lag", rte_ring_count(e->idx_ring));
		rte_tel_data_add_dict_u64(d, "index_errors", e->idx_errors);
		rte_tel_data_add_dict_u64(d, "index_lost", cr_engine_index_lost(e));
	} else { /* /callrec/workers */
		char k[32];
		for (unsigned w = 0; w < e->cfg.n_workers; w++) {
			snprintf(k, sizeof(k), "w%u_busy_cycles", w);
			rte_tel_data_add_dict_u64(d, k, e->workers[w].busy_cycles);
			snprintf(k, sizeof(k), "w%u_idle_cycles", w);
			rte_tel_data_add_dict_u64(d, k, e->workers[w].idle_cycles);
			snprintf(k, sizeof(k), "w%u_ring_used", w);
			rte_tel_data_add_dict_u64(d, k, e->workers[w].ring ? rte_ring_count(e->workers[w].ring) : 0);
			snprintf(k, sizeof(k), "w%u_ring_drops", w);
			rte_tel_data_add_dict_u64(d, k, e->ring_drops[w]);
			snprintf(k, sizeof(k), "w%u_lz4_cycles", w);
			rte_tel_data_add_dict_u64(d, k, e->workers[w].lz4_cycles);
		}
		rte_tel_data_add_dict_u64(d, "rx_busy_cycles", e->rx_busy_cycles);
		rte_tel_data_add_dict_u64(d, "rx_idle_cycles", e->rx_idle_cycles);
		rte_tel_data_add_dict_u64(d, "io_busy_cycles", e->io_busy_cycles);
	}
	return 0;
}

void
cr_metrics_telemetry(const struct cr_engine *e)
{
	static int registered;
	__atomic_store_n(&tel_engine, e, __ATOMIC_RELEASE);
	if (e == NULL || registered)
		return;
	registered = 1;
	rte_telemetry_register_cmd("/callrec/fates", tel_fates,
				   "Packets by fate (they add up to received). No parameters");
	rte_telemetry_register_cmd("/callrec/calls", tel_status, "Calls and streams. No parameters");
	rte_telemetry_register_cmd("/callrec/store", tel_status,
				   "Segment store and index. No parameters");
	rte_telemetry_register_cmd("/callrec/workers", tel_status,
				   "Busy/idle cycles and ring use per worker. No parameters");
}

void
cr_engine_stages(const struct cr_engine *e, struct cr_engine_stages *s)
{
	memset(s, 0, sizeof(*s));
	s->tsc_hz = rte_get_tsc_hz();
	s->rx_packets = cr_engine_received(e);
	s->rx_busy_cycles = e->rx_busy_cycles;
	s->rx_idle_cycles = e->rx_idle_cycles;
	for (unsigned w = 0; w < e->cfg.n_workers; w++) {
		s->worker_packets += e->workers[w].done_objs;
		s->worker_busy_cycles += e->workers[w].busy_cycles;
		s->worker_idle_cycles += e->workers[w].idle_cycles;
		s->worker_lz4_cycles += e->workers[w].lz4_cycles;
	}
	s->io_busy_cycles = e->io_busy_cycles;
	s->rx_cpu_ns = e->rx_cpu_ns;
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		s->worker_cpu_ns += e->workers[w].cpu_ns;
	s->io_cpu_ns = e->io_cpu_ns;
	s->idx_cpu_ns = e->idx_cpu_ns;
	/* rte_hash: key + a bucket slot (signature, key index) + free-slot ring entry */
	s->mem_per_stream_bytes = sizeof(struct cr_stream) + e->cfg.chunk_cap +
				  sizeof(struct cr_stream_key) + 8 + 8 + 4 + sizeof(uint32_t);
}
