/* SPDX-License-Identifier: BSD-3-Clause */
/* Link-state interrupts (backend connection events, in EAL's interrupt thread), Rx interrupts. */
#include <sys/eventfd.h>

#include <rte_interrupts.h>

#include "vuser_queue.h"

/*
 * EAL's interrupt thread: the device's event fd is readable (a backend connecting to the
 * server socket, or the connection closing). The application's own control calls
 * (start, stop, close, configure) may run on another thread at the same time: the glue
 * uses the device under the port's lock. The LSC callbacks run after it is released.
 */
static void
vuser_intr_lsc_handler(void *arg)
{
	struct rte_eth_dev *eth_dev = arg;
	struct vuser_port *port = vuser_port_of(eth_dev);
	bool changed = false;

	vuser_glue_handle_event(port, &changed);
	if (!changed)
		return;
	eth_dev->dev_ops->link_update(eth_dev, 0);
	VUSER_LOG(INFO, port, "link %s", eth_dev->data->dev_link.link_status ? "up" : "down");
	if (eth_dev->data->dev_conf.intr_conf.lsc)
		rte_eth_dev_callback_process(eth_dev, RTE_ETH_EVENT_INTR_LSC, NULL);
}

int
vuser_intr_init(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	int fd = vuser_glue_event_fd(port);
	int rc;

	if (fd < 0)
		return 0; /* a backend whose link never changes (vhost-kernel) */
	port->lsc_intr = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (!port->lsc_intr) {
		VUSER_LOG(ERR, port, "cannot allocate an interrupt handle: %s",
			  rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (rte_intr_type_set(port->lsc_intr, RTE_INTR_HANDLE_EXT) < 0 ||
	    rte_intr_fd_set(port->lsc_intr, fd) < 0) {
		rc = -rte_errno;
		goto fail;
	}
	rc = rte_intr_callback_register(port->lsc_intr, vuser_intr_lsc_handler, eth_dev);
	if (rc < 0)
		goto fail;
	eth_dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
	return 0;
fail:
	VUSER_LOG(ERR, port, "cannot watch the backend connection in EAL's interrupt thread: %s",
		  rte_strerror(-rc));
	rte_intr_instance_free(port->lsc_intr);
	port->lsc_intr = NULL;
	return rc;
}

void
vuser_intr_fini(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	int rc;

	if (port->lsc_intr) {
		/* From an LSC callback (EAL's interrupt thread) the handler is running: remove
		 * it once it returns; from anywhere else wait until it is not running. */
		if (rte_thread_is_intr())
			rc = rte_intr_callback_unregister_pending(
				port->lsc_intr, vuser_intr_lsc_handler, eth_dev, NULL);
		else
			rc = rte_intr_callback_unregister_sync(port->lsc_intr,
							       vuser_intr_lsc_handler, eth_dev);
		if (rc < 0)
			VUSER_LOG(ERR, port, "unregistering the link-state interrupt: %s",
				  rte_strerror(-rc));
		rte_intr_instance_free(port->lsc_intr);
		port->lsc_intr = NULL;
	}
	if (eth_dev->intr_handle) {
		/* Take the call eventfds out of the applications' epoll sets first. */
		rte_intr_free_epoll_fd(eth_dev->intr_handle);
		rte_intr_vec_list_free(eth_dev->intr_handle);
		rte_intr_instance_free(eth_dev->intr_handle);
		eth_dev->intr_handle = NULL;
	}
}

/*
 * Rx queue interrupts: vector i is Rx queue i, its event fd the queue's call eventfd,
 * which the backend signals after it used buffers unless the driver suppresses it
 * (VRING_AVAIL_F_NO_INTERRUPT or RING_EVENT_FLAGS_DISABLE, set while polling). EAL reads
 * the 8-byte eventfd counter when an application's epoll wakes up on it.
 */
int
vuser_intr_rxq_setup(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	uint16_t n = eth_dev->data->nb_rx_queues;
	struct rte_intr_handle *h = eth_dev->intr_handle;

	if (!eth_dev->data->dev_conf.intr_conf.rxq)
		return 0;
	if (n == 0 || n > RTE_MAX_RXTX_INTR_VEC_ID) {
		VUSER_LOG(ERR, port, "Rx interrupts: %u rx queues, EAL takes 1 to %d", n,
			  RTE_MAX_RXTX_INTR_VEC_ID);
		return -EINVAL;
	}
	if (!h) {
		h = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
		if (!h)
			goto fail;
		eth_dev->intr_handle = h;
	}
	if (rte_intr_type_set(h, RTE_INTR_HANDLE_VDEV) < 0 ||
	    rte_intr_efd_counter_size_set(h, sizeof(uint64_t)) < 0)
		goto fail;
	for (uint16_t i = 0; i < n; i++) {
		int fd = vuser_glue_call_fd(port, vuser_rxq_vq_index(eth_dev->data->rx_queues[i]));

		if (fd < 0 || rte_intr_efds_index_set(h, i, fd) < 0)
			goto fail;
	}
	/* One more than the queues: "other causes" (the link) are not on these vectors. */
	if (rte_intr_nb_efd_set(h, n) < 0 || rte_intr_max_intr_set(h, n + 1) < 0)
		goto fail;
	rte_intr_vec_list_free(h);
	if (rte_intr_vec_list_alloc(h, "vuser_intr_vec", n) < 0)
		goto fail;
	for (uint16_t i = 0; i < n; i++)
		if (rte_intr_vec_list_index_set(h, i, RTE_INTR_VEC_RXTX_OFFSET + i) < 0)
			goto fail;
	return 0;
fail:
	VUSER_LOG(ERR, port, "cannot set up Rx queue interrupts: %s", rte_strerror(rte_errno));
	return -rte_errno ? -rte_errno : -ENOMEM;
}

/* Are there used buffers the driver has not taken? */
static bool
vuser_rxq_has_used(const struct vuser_rxq *rxq, bool packed)
{
	if (packed)
		return vu_packed_desc_is_used(&rxq->packed.desc[rxq->packed.used_idx],
					      rxq->packed.used_wrap);
	return vu_split_ring_used_pending(&rxq->split) != 0;
}

static int
vuser_rxq_intr_set(struct rte_eth_dev *eth_dev, uint16_t queue_id, bool on)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	struct vuser_rxq *rxq = eth_dev->data->rx_queues[queue_id];
	bool packed = vu_ring_is_packed(port->features);

	if (!rxq || !port->started)
		return -EINVAL;
	if (packed)
		__atomic_store_n(&rxq->packed.driver_event->flags,
				 on ? VU_RING_EVENT_FLAGS_ENABLE : VU_RING_EVENT_FLAGS_DISABLE,
				 __ATOMIC_RELEASE);
	else
		__atomic_store_n(&rxq->split.avail->flags, on ? 0 : VU_AVAIL_F_NO_INTERRUPT,
				 __ATOMIC_RELEASE);
	if (!on)
		return 0;
	/*
	 * The backend may have used buffers before it could see the flag, and then it sent
	 * no notification: check after a full barrier (flag store before the used load, as
	 * virtio drivers do when they re-enable callbacks) and notify ourselves, so that an
	 * application going to sleep on the eventfd wakes up at once.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vuser_rxq_has_used(rxq, packed))
		eventfd_write(vuser_glue_call_fd(port, vuser_rxq_vq_index(rxq)), 1);
	return 0;
}

int
vuser_rx_queue_intr_enable(struct rte_eth_dev *eth_dev, uint16_t queue_id)
{
	return vuser_rxq_intr_set(eth_dev, queue_id, true);
}

int
vuser_rx_queue_intr_disable(struct rte_eth_dev *eth_dev, uint16_t queue_id)
{
	return vuser_rxq_intr_set(eth_dev, queue_id, false);
}
