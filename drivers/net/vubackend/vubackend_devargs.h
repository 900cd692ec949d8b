/* SPDX-License-Identifier: BSD-3-Clause */
/* Devargs of the net_vubackend PMD: parsing and validation, plain C for tests without EAL. */
#ifndef VUBACKEND_DEVARGS_H
#define VUBACKEND_DEVARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#define VUBACKEND_IFACE_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
/* A PCI address as sysfs names it, DDDD:BB:DD.F, and its NUL. */
#define VUBACKEND_PCI_MAX 13

/* How the frontend's messages, memory and notifications reach libvub. */
enum vubackend_transport {
	VUBACKEND_AF_UNIX, /* a vhost-user socket (iface) */
	VUBACKEND_VVU,	   /* a virtio-vhost-user PCI device in this VM (pci) */
};

struct vubackend_devargs {
	enum vubackend_transport transport;
	char pci[VUBACKEND_PCI_MAX];	 /* transport=vvu: the device */
	char iface[VUBACKEND_IFACE_MAX]; /* the vhost-user socket path, "" with vduse */
	char vduse[VUBACKEND_IFACE_MAX]; /* not net_vhost's: a VDUSE device's name, or "" */
	uint16_t queues;		 /* queue pairs offered to the frontend */
	bool client;			 /* connect to iface instead of listening on it */
	bool tso;			 /* offer VIRTIO_NET_F_HOST_TSO4/6 */
	bool iommu;			 /* iommu-support: offer VIRTIO_F_ACCESS_PLATFORM */
	bool inflight;			 /* not net_vhost's: offer INFLIGHT_SHMFD */
	/* The frontend's config space (GET_CONFIG): its MAC (VIRTIO_NET_F_MAC) and MTU
	 * (VIRTIO_NET_F_MTU), 0 when not given. */
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu;
};

/*
 * Parse "key=value,key=value" as given after the vdev name, with the keys and meanings
 * of DPDK's net_vhost that apply (iface, queues, client, iommu-support, tso), plus the frontend's config
 * space (mac, mtu), the inflight region (inflight), the transport (transport=af_unix with iface, or transport=vvu with
 * pci) and the VDUSE transport (vduse, instead of iface). Returns 0, or -EINVAL with a
 * one-line reason in err naming the key.
 */
int vubackend_devargs_parse(const char *args, struct vubackend_devargs *out, char *err,
			    size_t errlen);

#endif /* VUBACKEND_DEVARGS_H */
