/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing of the net_vubackend devargs: DPDK net_vhost's keys where they apply. */
#include <stdio.h>
#include <string.h>

#include "vu_kv.h"
#include "vu_mac.h"
#include "vub.h"
#include "vubackend_devargs.h"

static int
vubackend_key_iface(const struct vu_kv_key *key, const char *val, void *arg, char *err,
		    size_t errlen)
{
	struct vubackend_devargs *out = arg;

	(void)key;
	if (val[0] == '\0' || strlen(val) >= sizeof(out->iface))
		return vu_kv_fail(err, errlen, "iface=%s: a socket path of 1 to %zu bytes expected",
				  val, sizeof(out->iface) - 1);
	memcpy(out->iface, val, strlen(val) + 1);
	return 0;
}

static int
vubackend_key_vduse(const struct vu_kv_key *key, const char *val, void *arg, char *err,
		    size_t errlen)
{
	struct vubackend_devargs *out = arg;

	(void)key;
	if (val[0] == '\0' || strlen(val) >= sizeof(out->vduse) || strchr(val, '/'))
		return vu_kv_fail(err, errlen,
				  "vduse=%s: a device name of 1 to %zu bytes, no '/', expected",
				  val, sizeof(out->vduse) - 1);
	memcpy(out->vduse, val, strlen(val) + 1);
	return 0;
}

static int
vubackend_key_mac(const struct vu_kv_key *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct vubackend_devargs *out = arg;

	(void)key;
	if (!vu_mac_parse(val, out->mac))
		return vu_kv_fail(err, errlen, "mac=%s: expected xx:xx:xx:xx:xx:xx", val);
	out->has_mac = true;
	return 0;
}

/* net_vhost's iommu-support: offer VIRTIO_F_ACCESS_PLATFORM (IOTLB mode). */
static int
vubackend_key_iommu(const struct vu_kv_key *key, const char *val, void *arg, char *err,
		    size_t errlen)
{
	struct vubackend_devargs *out = arg;

	(void)key;
	if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
		return vu_kv_fail(err, errlen, "iommu-support=%s: expected 0 or 1", val);
	out->iommu = val[0] == '1';
	return 0;
}

/* transport=NAME: one line per transport, a name not here is refused naming it. */
static const struct {
	const char *name;
	enum vubackend_transport transport;
} vubackend_transports[] = {
	{ "af_unix", VUBACKEND_AF_UNIX },
	{ "vvu", VUBACKEND_VVU },
};

static int
vubackend_key_transport(const struct vu_kv_key *key, const char *val, void *arg, char *err,
			size_t errlen)
{
	struct vubackend_devargs *out = arg;

	(void)key;
	for (size_t i = 0; i < sizeof(vubackend_transports) / sizeof(vubackend_transports[0]);
	     i++) {
		if (strcmp(val, vubackend_transports[i].name) == 0) {
			out->transport = vubackend_transports[i].transport;
			return 0;
		}
	}
	return vu_kv_fail(err, errlen, "transport=%s: unknown transport (af_unix, vvu)", val);
}

static int
vubackend_key_pci(const struct vu_kv_key *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct vubackend_devargs *out = arg;
	unsigned int dom, bus, dev, fn;
	char tail;

	(void)key;
	if (strlen(val) != VUBACKEND_PCI_MAX - 1 ||
	    sscanf(val, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) != 4)
		return vu_kv_fail(err, errlen, "pci=%s: a PCI address DDDD:BB:DD.F expected", val);
	memcpy(out->pci, val, VUBACKEND_PCI_MAX);
	return 0;
}

/* net_vhost's keys, in its order; those without a parse function are refused by name. */
static const struct vu_kv_key vubackend_keys[] = {
	{ .name = "iface", .parse = vubackend_key_iface },
	VU_KV_U16(struct vubackend_devargs, queues, 1, VUB_MAX_QUEUE_PAIRS),
	VU_KV_BOOL(struct vubackend_devargs, client),
	{ .name = "iommu-support", .parse = vubackend_key_iommu },
	{ .name = "postcopy-support", .missing = "postcopy live migration" },
	VU_KV_BOOL(struct vubackend_devargs, tso),
	{ .name = "linear-buffer", .missing = "a choice of mbuf layout" },
	{ .name = "ext-buffer", .missing = "external mbuf buffers" },
	{ .name = "legacy-ol-flags", .missing = "the mbuf offload flags of DPDK before 21.11" },
	/* Not net_vhost's: the config space the frontend reads with GET_CONFIG. */
	{ .name = "mac", .parse = vubackend_key_mac },
	VU_KV_U16(struct vubackend_devargs, mtu, VU_NET_MIN_MTU, VU_NET_MAX_MTU),
	/* Not net_vhost's: INFLIGHT_SHMFD offered (net_vhost offers it to no net device). */
	VU_KV_BOOL(struct vubackend_devargs, inflight),
	/* Not net_vhost's: the transport, and the virtio-vhost-user device it needs. */
	{ .name = "transport", .parse = vubackend_key_transport },
	{ .name = "pci", .parse = vubackend_key_pci },
	/* Not net_vhost's: the device as a VDUSE device instead of on a socket. */
	{ .name = "vduse", .parse = vubackend_key_vduse },
};

static const struct vu_kv_table vubackend_kv_table = {
	.driver = "net_vubackend",
	.origin = "net_vhost",
	.keys = vubackend_keys,
	.nkeys = sizeof(vubackend_keys) / sizeof(vubackend_keys[0]),
	.item_max = VUBACKEND_IFACE_MAX + VU_KV_KEY_MAX,
};

int
vubackend_devargs_parse(const char *args, struct vubackend_devargs *out, char *err, size_t errlen)
{
	struct vu_kv_seen seen;
	int rc;

	memset(out, 0, sizeof(*out));
	out->queues = 1;
	rc = vu_kv_parse(&vubackend_kv_table, args, out, &seen, err, errlen);
	if (rc < 0)
		return rc;
	/* IOTLB messages travel on a vhost-user socket; VDUSE has its own IOTLB. */
	if (out->iommu && (out->transport == VUBACKEND_VVU || out->vduse[0] != '\0'))
		return vu_kv_fail(err, errlen,
				  "iommu-support=1: only with a vhost-user socket "
				  "(iface=), not with %s",
				  out->vduse[0] != '\0' ? "vduse" : "transport=vvu");
	/* The region travels as an fd in GET/SET_INFLIGHT_FD: vhost-user messages only. */
	if (out->inflight && (out->transport == VUBACKEND_VVU || out->vduse[0] != '\0'))
		return vu_kv_fail(err, errlen,
				  "inflight=1: only with a vhost-user socket (iface=), not with %s",
				  out->vduse[0] != '\0' ? "vduse" : "transport=vvu");
	if (out->transport == VUBACKEND_VVU) {
		/* the master's socket is the slave VMM's, not this program's */
		if (vu_kv_given(&seen, "iface") || vu_kv_given(&seen, "client") ||
		    vu_kv_given(&seen, "vduse"))
			return vu_kv_fail(err, errlen, "%s: not with transport=vvu (pci=<device>)",
					  vu_kv_given(&seen, "iface")	       ? "iface" :
						  vu_kv_given(&seen, "client") ? "client" :
										 "vduse");
		if (out->pci[0] == '\0')
			return vu_kv_fail(err, errlen, "transport=vvu needs pci=<DDDD:BB:DD.F>");
		return 0;
	}
	if (vu_kv_given(&seen, "pci"))
		return vu_kv_fail(err, errlen, "pci: only with transport=vvu");
	if (out->vduse[0] != '\0') {
		/* The VDUSE transport serves one pair and no socket (backend/vub_vduse.c). */
		if (out->iface[0] != '\0' || out->client)
			return vu_kv_fail(err, errlen,
					  "vduse=%s: iface and client are for "
					  "vhost-user sockets, not a VDUSE device",
					  out->vduse);
		if (out->queues != 1)
			return vu_kv_fail(err, errlen,
					  "vduse=%s: queues=%u: the VDUSE transport serves one "
					  "queue pair (no control queue)",
					  out->vduse, out->queues);
		return 0;
	}
	if (out->iface[0] == '\0')
		return vu_kv_fail(err, errlen,
				  "iface is required (iface=<vhost-user socket>, or vduse=<name>)");
	return 0;
}
