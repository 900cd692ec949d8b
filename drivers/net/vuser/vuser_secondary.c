/* SPDX-License-Identifier: BSD-3-Clause */
/* Secondary processes: the port attached from one, and the primary's answers to them. */
#include <stdlib.h>
#include <unistd.h>

#include <bus_vdev_driver.h>
#include <rte_eal.h>
#include <rte_string_fns.h>

#include "vuser_queue.h"

/*
 * A secondary process (dpdk-proc-info, dpdk-pdump, dpdk-dumpcap, an application's own)
 * shares the port's data, its queues and rings with the primary, which alone has the
 * device: the backend connection lives in the primary's heap and fds. So a secondary
 * reads statistics and may run bursts, and refuses control operations. Its Tx and Rx
 * refills kick the backend through its own copies of the queues' kick eventfds, which
 * the primary hands over at attach (a primary's fd number means nothing in another
 * process, or another file).
 */

/* The request a secondary sends for a port's kick eventfds, RTE_MP_MAX_FD_NUM at a time. */
#define VUSER_MP_KICK_FDS "vuser_kick_fds"
#define VUSER_MP_TIMEOUT_S 5

struct vuser_mp_kick_req {
	char name[RTE_DEV_NAME_MAX_LEN];
	uint16_t first; /* virtqueue index of the first fd asked for */
};

struct vuser_mp_kick_reply {
	int32_t rc;	/* 0 or -errno */
	uint16_t total; /* kick fds the port has: one per data virtqueue */
	uint16_t first; /* the request's */
};

_Static_assert(sizeof(struct vuser_mp_kick_req) <= RTE_MP_MAX_PARAM_LEN &&
		       sizeof(struct vuser_mp_kick_reply) <= RTE_MP_MAX_PARAM_LEN,
	       "multi-process message parameters");

/* Primary: ports that answer secondaries (the request handler is registered once). */
static unsigned int vuser_serving;
/* The primary's ops table (vuser_secondary_ops_init): it tells this driver's ports. */
static const struct eth_dev_ops *vuser_primary_ops;

/* The port of this driver named `name`, or NULL. */
static const struct vuser_port *
vuser_port_by_name(const char *name)
{
	uint16_t port_id;

	if (rte_eth_dev_get_port_by_name(name, &port_id) != 0 ||
	    rte_eth_devices[port_id].dev_ops != vuser_primary_ops)
		return NULL;
	return vuser_port_of(&rte_eth_devices[port_id]);
}

static uint16_t
vuser_nb_data_vqs(const struct vuser_port *port)
{
	return (uint16_t)(2 * port->args.queues);
}

static int
vuser_mp_answer_kick_fds(const struct rte_mp_msg *msg, const void *peer)
{
	const struct vuser_mp_kick_req *req = (const void *)msg->param;
	const struct vuser_port *port = NULL;
	struct vuser_mp_kick_reply *rep;
	struct rte_mp_msg reply;

	memset(&reply, 0, sizeof(reply));
	rep = (struct vuser_mp_kick_reply *)reply.param;
	strlcpy(reply.name, msg->name, sizeof(reply.name));
	reply.len_param = sizeof(*rep);
	if (msg->len_param == sizeof(*req) && memchr(req->name, '\0', sizeof(req->name)))
		port = vuser_port_by_name(req->name);
	if (!port) {
		rep->rc = -ENODEV;
		return rte_mp_reply(&reply, peer);
	}
	rep->total = vuser_nb_data_vqs(port);
	rep->first = req->first;
	for (uint16_t vq = req->first; vq < rep->total && reply.num_fds < RTE_MP_MAX_FD_NUM; vq++) {
		int fd = vuser_glue_kick_fd(port, vq);

		if (fd < 0) {
			rep->rc = fd;
			reply.num_fds = 0;
			break;
		}
		reply.fds[reply.num_fds++] = fd;
	}
	VUSER_LOG(INFO, port, "a secondary process asked for the kick fds of virtqueues %u..%u",
		  req->first, req->first + reply.num_fds - 1);
	return rte_mp_reply(&reply, peer);
}

int
vuser_secondary_serve(void)
{
	if (vuser_serving++ > 0)
		return 0;
	/* --in-memory (no shared config): no secondary process can attach. */
	if (rte_mp_action_register(VUSER_MP_KICK_FDS, vuser_mp_answer_kick_fds) == 0 ||
	    rte_errno == ENOTSUP)
		return 0;
	vuser_serving--;
	rte_log(RTE_LOG_ERR, vuser_logtype,
		"VUSER: cannot register the multi-process request %s: %s\n", VUSER_MP_KICK_FDS,
		rte_strerror(rte_errno));
	return -rte_errno;
}

void
vuser_secondary_unserve(void)
{
	if (vuser_serving == 0 || --vuser_serving > 0)
		return;
	rte_mp_action_unregister(VUSER_MP_KICK_FDS);
}

static void
vuser_proc_free(struct vuser_proc *proc)
{
	if (!proc)
		return;
	for (uint16_t i = 0; i < proc->nb_kick_fds; i++)
		if (proc->kick_fds[i] >= 0)
			close(proc->kick_fds[i]);
	free(proc);
}

/* Check one answer of the primary and take its fds (closed when refused). */
static int
vuser_take_kick_fds(const struct vuser_port *port, const struct rte_mp_msg *msg, uint16_t first,
		    struct vuser_proc *proc)
{
	const struct vuser_mp_kick_reply *rep = (const void *)msg->param;
	int rc = 0;

	if (msg->len_param != sizeof(*rep) || msg->num_fds < 0 || msg->num_fds > RTE_MP_MAX_FD_NUM)
		rc = -EPROTO;
	else if (rep->rc < 0)
		rc = rep->rc;
	else if (rep->first != first || rep->total != proc->nb_kick_fds || msg->num_fds == 0 ||
		 first + msg->num_fds > proc->nb_kick_fds)
		rc = -EPROTO;
	if (rc < 0) {
		VUSER_LOG(ERR, port, "the primary process answered %s (virtqueue %u on) with %s",
			  VUSER_MP_KICK_FDS, first, rte_strerror(-rc));
		for (int i = 0; i < msg->num_fds && i < RTE_MP_MAX_FD_NUM; i++)
			close(msg->fds[i]);
		return rc;
	}
	for (int i = 0; i < msg->num_fds; i++)
		proc->kick_fds[first + i] = msg->fds[i];
	return msg->num_fds;
}

static int
vuser_get_kick_fds(const struct vuser_port *port, struct vuser_proc *proc)
{
	struct timespec timeout = { .tv_sec = VUSER_MP_TIMEOUT_S };

	for (uint16_t first = 0; first < proc->nb_kick_fds;) {
		struct vuser_mp_kick_req *req;
		struct rte_mp_reply answer;
		struct rte_mp_msg msg;
		int rc;

		memset(&msg, 0, sizeof(msg));
		strlcpy(msg.name, VUSER_MP_KICK_FDS, sizeof(msg.name));
		msg.len_param = sizeof(*req);
		req = (struct vuser_mp_kick_req *)msg.param;
		strlcpy(req->name, port->name, sizeof(req->name));
		req->first = first;
		memset(&answer, 0, sizeof(answer));
		if (rte_mp_request_sync(&msg, &answer, &timeout) < 0 || answer.nb_received != 1) {
			rc = answer.nb_received == 0 ? -ETIMEDOUT : -rte_errno;
			VUSER_LOG(ERR, port, "no answer from the primary process to %s: %s",
				  VUSER_MP_KICK_FDS, rte_strerror(-rc));
			free(answer.msgs);
			return rc;
		}
		rc = vuser_take_kick_fds(port, &answer.msgs[0], first, proc);
		free(answer.msgs);
		if (rc < 0)
			return rc;
		first = (uint16_t)(first + rc);
	}
	return 0;
}

/*
 * The bursts of a secondary. The primary picks its bursts at each start for the features
 * it negotiated; a secondary may have attached before that start, so it looks at the
 * features on every call. While the primary has the port stopped its rings are being
 * reset: no burst then.
 */
static __rte_always_inline struct vuser_proc *
vuser_secondary_ready(const struct vuser_port *port)
{
	struct vuser_proc *proc = rte_eth_devices[port->data->port_id].process_private;
	uint64_t features;

	if (unlikely(!proc || !__atomic_load_n(&port->started, __ATOMIC_ACQUIRE)))
		return NULL;
	features = __atomic_load_n(&port->features, __ATOMIC_RELAXED);
	if (unlikely(proc->features != features)) {
		const char *vec_refusal, *packed_isa;

		vuser_pick_bursts(port, &proc->rx_burst, &proc->tx_burst, &vec_refusal,
				  &packed_isa);
		proc->features = features;
	}
	return proc;
}

static uint16_t
vuser_secondary_rx(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct vuser_rxq *rxq = queue;
	struct vuser_proc *proc = vuser_secondary_ready(rxq->port);

	return proc ? proc->rx_burst(queue, pkts, nb_pkts) : 0;
}

static uint16_t
vuser_secondary_tx(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct vuser_txq *txq = queue;
	struct vuser_proc *proc = vuser_secondary_ready(txq->port);

	return proc ? proc->tx_burst(queue, pkts, nb_pkts) : 0;
}

/* Control operations reach the device, which only the primary has. */
static int
vuser_secondary_refuse(struct rte_eth_dev *eth_dev, const char *op, const char *api)
{
	const struct vuser_port *port = vuser_port_of(eth_dev);

	VUSER_LOG(ERR, port,
		  "%s (%s) refused in a secondary process (pid %d): only the primary process "
		  "controls the port; a secondary reads its statistics and may run bursts",
		  op, api, (int)getpid());
	return -ENOTSUP;
}

#define VUSER_REFUSE(op, api, ...)                                               \
	static int vuser_refuse_##op(struct rte_eth_dev *eth_dev, ##__VA_ARGS__) \
	{                                                                        \
		return vuser_secondary_refuse(eth_dev, #op, api);                \
	}

VUSER_REFUSE(dev_start, "rte_eth_dev_start")
VUSER_REFUSE(dev_stop, "rte_eth_dev_stop")
VUSER_REFUSE(mtu_set, "rte_eth_dev_set_mtu", uint16_t mtu __rte_unused)
VUSER_REFUSE(promiscuous_enable, "rte_eth_promiscuous_enable")
VUSER_REFUSE(promiscuous_disable, "rte_eth_promiscuous_disable")
VUSER_REFUSE(allmulticast_enable, "rte_eth_allmulticast_enable")
VUSER_REFUSE(allmulticast_disable, "rte_eth_allmulticast_disable")
VUSER_REFUSE(mac_addr_set, "rte_eth_dev_default_mac_addr_set",
	     struct rte_ether_addr *addr __rte_unused)
VUSER_REFUSE(mac_addr_add, "rte_eth_dev_mac_addr_add", struct rte_ether_addr *addr __rte_unused,
	     uint32_t index __rte_unused, uint32_t vmdq __rte_unused)
VUSER_REFUSE(vlan_filter_set, "rte_eth_dev_vlan_filter", uint16_t vlan_id __rte_unused,
	     int on __rte_unused)
VUSER_REFUSE(rx_queue_intr_enable, "rte_eth_dev_rx_intr_enable", uint16_t queue_id __rte_unused)
VUSER_REFUSE(rx_queue_intr_disable, "rte_eth_dev_rx_intr_disable", uint16_t queue_id __rte_unused)

/* The primary keeps the link status in the shared data (rte_eth_linkstatus_set at start,
 * stop and link events): a secondary reads it from there as it is. */
static int
vuser_secondary_link_update(struct rte_eth_dev *eth_dev __rte_unused,
			    int wait_to_complete __rte_unused)
{
	return 0;
}

/* Closing the port in a secondary releases what that process holds, nothing shared. */
static int
vuser_secondary_close(struct rte_eth_dev *eth_dev)
{
	struct vuser_proc *proc = eth_dev->process_private;

	eth_dev->process_private = NULL;
	vuser_proc_free(proc);
	return 0;
}

/*
 * Left out on purpose (NULL): dev_configure, rx/tx_queue_setup and _release,
 * mac_addr_remove, vlan_offload_set. For those ethdev rewrites the port's shared data
 * (the configuration, the queue arrays, the MAC table) before it calls the driver, or
 * after a driver op that returns nothing; with no op it answers -ENOTSUP before touching
 * anything, as for DPDK's own virtio_user in a secondary.
 */
static struct eth_dev_ops vuser_secondary_ops = {
	.dev_start = vuser_refuse_dev_start,
	.dev_stop = vuser_refuse_dev_stop,
	.dev_close = vuser_secondary_close,
	.link_update = vuser_secondary_link_update,
	.mtu_set = vuser_refuse_mtu_set,
	.promiscuous_enable = vuser_refuse_promiscuous_enable,
	.promiscuous_disable = vuser_refuse_promiscuous_disable,
	.allmulticast_enable = vuser_refuse_allmulticast_enable,
	.allmulticast_disable = vuser_refuse_allmulticast_disable,
	.mac_addr_set = vuser_refuse_mac_addr_set,
	.mac_addr_add = vuser_refuse_mac_addr_add,
	.vlan_filter_set = vuser_refuse_vlan_filter_set,
	.rx_queue_intr_enable = vuser_refuse_rx_queue_intr_enable,
	.rx_queue_intr_disable = vuser_refuse_rx_queue_intr_disable,
};

/* The primary's operations that only read (or reset) the port's shared data. */
void
vuser_secondary_ops_init(const struct eth_dev_ops *primary)
{
	vuser_primary_ops = primary;
	vuser_secondary_ops.dev_infos_get = primary->dev_infos_get;
	vuser_secondary_ops.stats_get = primary->stats_get;
	vuser_secondary_ops.stats_reset = primary->stats_reset;
	vuser_secondary_ops.xstats_get = primary->xstats_get;
	vuser_secondary_ops.xstats_get_names = primary->xstats_get_names;
	vuser_secondary_ops.xstats_reset = primary->xstats_reset;
}

int
vuser_secondary_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct rte_eth_dev *eth_dev;
	struct vuser_port *port;
	struct vuser_proc *proc;
	int rc;

	eth_dev = rte_eth_dev_attach_secondary(name);
	if (!eth_dev) {
		rte_log(RTE_LOG_ERR, vuser_logtype,
			"VUSER: %s: the primary process has no such port to attach to\n", name);
		return -ENODEV;
	}
	port = vuser_port_of(eth_dev);
	proc = calloc(1, sizeof(*proc) + sizeof(proc->kick_fds[0]) * vuser_nb_data_vqs(port));
	if (!proc) {
		rte_eth_dev_release_port(eth_dev);
		return -ENOMEM;
	}
	proc->nb_kick_fds = vuser_nb_data_vqs(port);
	for (uint16_t i = 0; i < proc->nb_kick_fds; i++)
		proc->kick_fds[i] = -1;
	/* Bursts not picked yet: the first call picks them. */
	proc->features = UINT64_MAX;
	rc = vuser_get_kick_fds(port, proc);
	if (rc < 0) {
		vuser_proc_free(proc);
		rte_eth_dev_release_port(eth_dev);
		return rc;
	}
	eth_dev->process_private = proc;
	eth_dev->device = &vdev->device;
	eth_dev->dev_ops = &vuser_secondary_ops;
	eth_dev->rx_pkt_burst = vuser_secondary_rx;
	eth_dev->tx_pkt_burst = vuser_secondary_tx;
	eth_dev->tx_pkt_prepare = vuser_tx_prepare;
	rte_eth_dev_probing_finish(eth_dev);
	VUSER_LOG(INFO, port, "port %u attached in a secondary process", eth_dev->data->port_id);
	return 0;
}
