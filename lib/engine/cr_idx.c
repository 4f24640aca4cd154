/* SPDX-License-Identifier: BSD-3-Clause */
/* Index thread: drains the index ring and writes SQLite in batched
 * transactions (one per drain, at most every 200 ms), never on the packet
 * path. Overload policy: producers in live mode drop the record and count
 * INDEX_FULL when the message pool or ring is exhausted; offline imports wait. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "cr_engine_internal.h"

struct cr_msg *
cr_idx_msg_get(struct cr_engine *e)
{
	void *obj;
	while (rte_mempool_get(e->msgs, &obj) != 0) {
		if (!e->cfg.offline)
			return NULL;
		usleep(50);
	}
	return obj;
}

int
cr_idx_send(struct cr_engine *e, struct cr_msg *m)
{
	while (rte_ring_mp_enqueue(e->idx_ring, m) != 0) {
		if (!e->cfg.offline) {
			rte_mempool_put(e->msgs, m);
			return -ENOBUFS;
		}
		usleep(50);
	}
	return 0;
}

static void *
idx_main(void *arg)
{
	struct cr_engine *e = arg;
	void *objs[256];
	for (;;) {
		unsigned n = rte_ring_sc_dequeue_burst(e->idx_ring, objs, RTE_DIM(objs), NULL);
		if (n == 0) {
			if (__atomic_load_n(&e->idx_stop, __ATOMIC_ACQUIRE) &&
			    rte_ring_empty(e->idx_ring))
				break;
			usleep(2000);
			continue;
		}
		if (cr_index_begin(e->idx) != 0)
			e->idx_errors++;
		/* keep draining into this transaction, up to a bound */
		unsigned total = 0;
		while (n > 0) {
			for (unsigned i = 0; i < n; i++) {
				struct cr_msg *m = objs[i];
				int r = 0;
				if (m->type == CR_MSG_CALL) {
					r = cr_index_put_call(e->idx, &m->call);
					e->idx_calls++;
				} else if (m->type == CR_MSG_STREAM) {
					r = cr_index_put_stream(e->idx, &m->stream);
					e->idx_streams++;
				} else if (m->type == CR_MSG_LOSS) {
					for (uint32_t c = 0; c < m->n && r == 0; c++)
						r = cr_index_put_loss(e->idx, m->chunks[c].stream_uid,
								      m->chunks[c].n_pkts);
				} else if (m->type == CR_MSG_CHUNKS) {
					for (uint32_t c = 0; c < m->n && r == 0; c++)
						r = cr_index_put_chunk(e->idx, &m->chunks[c]);
					e->idx_chunks += m->n;
				}
				if (r != 0) {
					e->idx_errors++;
					e->idx_err = r;
				}
				rte_mempool_put(e->msgs, m);
			}
			total += n;
			if (total >= 16384)
				break;
			n = rte_ring_sc_dequeue_burst(e->idx_ring, objs, RTE_DIM(objs), NULL);
		}
		if (cr_index_commit(e->idx) != 0) {
			e->idx_errors++;
			e->idx_err = -EIO;
		}
		e->idx_batches++;
	}
	return NULL;
}

int
cr_idx_start(struct cr_engine *e)
{
	return -pthread_create(&e->idx_thread, NULL, idx_main, e);
}

void
cr_idx_stop(struct cr_engine *e)
{
	__atomic_store_n(&e->idx_stop, 1, __ATOMIC_RELEASE);
	pthread_join(e->idx_thread, NULL);
}
