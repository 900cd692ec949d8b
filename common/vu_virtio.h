/* SPDX-License-Identifier: BSD-3-Clause */
/* Virtio and virtio-net constants, feature bits and on-the-wire layouts (virtio 1.2 spec). */
#ifndef VU_VIRTIO_H
#define VU_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

/* "The maximum Queue Size value is 32768" (spec 2.6; 2.8: a packed ring's too). */
#define VU_QUEUE_SIZE_MAX 32768u

/* Device status bits (spec 2.1). */
#define VU_STATUS_ACKNOWLEDGE 1u
#define VU_STATUS_DRIVER 2u
#define VU_STATUS_DRIVER_OK 4u
#define VU_STATUS_FEATURES_OK 8u
#define VU_STATUS_DEVICE_NEEDS_RESET 64u
#define VU_STATUS_FAILED 128u

/* Generic feature bits (spec 6). */
#define VU_F_RING_INDIRECT_DESC 28
#define VU_F_RING_EVENT_IDX 29
#define VU_F_VERSION_1 32
#define VU_F_ACCESS_PLATFORM 33
#define VU_F_RING_PACKED 34
#define VU_F_IN_ORDER 35

/* virtio-net feature bits (spec 5.1.3). */
#define VU_NET_F_CSUM 0
#define VU_NET_F_GUEST_CSUM 1
#define VU_NET_F_MTU 3
#define VU_NET_F_MAC 5
#define VU_NET_F_GUEST_TSO4 7
#define VU_NET_F_GUEST_TSO6 8
#define VU_NET_F_HOST_TSO4 11
#define VU_NET_F_HOST_TSO6 12
#define VU_NET_F_MRG_RXBUF 15
#define VU_NET_F_STATUS 16
#define VU_NET_F_CTRL_VQ 17
#define VU_NET_F_CTRL_RX 18
#define VU_NET_F_CTRL_VLAN 19
#define VU_NET_F_MQ 22
#define VU_NET_F_CTRL_MAC_ADDR 23

#define VU_BIT(b) (1ull << (b))

/* Control virtqueue commands (spec 5.1.6.5): class, command, and the ack values. */
#define VU_NET_OK 0
#define VU_NET_ERR 1
#define VU_NET_CTRL_RX 0
#define VU_NET_CTRL_RX_PROMISC 0
#define VU_NET_CTRL_RX_ALLMULTI 1
#define VU_NET_CTRL_MAC 1
#define VU_NET_CTRL_MAC_TABLE_SET 0
#define VU_NET_CTRL_MAC_ADDR_SET 1
#define VU_NET_CTRL_VLAN 2
#define VU_NET_CTRL_VLAN_ADD 0
#define VU_NET_CTRL_VLAN_DEL 1
#define VU_NET_CTRL_MQ 4
#define VU_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VU_NET_CTRL_MQ_VQ_PAIRS_MIN 1
#define VU_NET_CTRL_MQ_VQ_PAIRS_MAX 0x8000

/* virtio-net config space status field. */
#define VU_NET_S_LINK_UP 1u

/* MTU range: the config space mtu field is 16 bits wide (spec 5.1.4), and 68 is the least
 * every IPv4 link must carry (RFC 791), the minimum Linux and DPDK take too. */
#define VU_NET_MIN_MTU 68u
#define VU_NET_MAX_MTU 65535u
#define VU_NET_DEFAULT_MTU 1500u

/* virtio-net device configuration layout (spec 5.1.4), little endian. */
struct vu_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

/* The header in front of every packet (spec 5.1.6); 12 bytes once VERSION_1 or
 * MRG_RXBUF is negotiated, 10 bytes for legacy devices without MRG_RXBUF. */
struct vu_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define VU_NET_HDR_LEGACY_SIZE 10u

/* The header's flags and gso_type values (spec 5.1.6). */
#define VU_NET_HDR_F_NEEDS_CSUM 1u
#define VU_NET_HDR_F_DATA_VALID 2u
#define VU_NET_HDR_GSO_NONE 0u
#define VU_NET_HDR_GSO_TCPV4 1u
#define VU_NET_HDR_GSO_TCPV6 4u

/* Do the negotiated features make the rings packed (spec 2.8) rather than split? */
static inline bool
vu_ring_is_packed(uint64_t features)
{
	return features & VU_BIT(VU_F_RING_PACKED);
}

/* Size of the virtio-net header for a negotiated feature set. */
static inline uint32_t
vu_net_hdr_size(uint64_t features)
{
	if (features & (VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF)))
		return sizeof(struct vu_net_hdr);
	return VU_NET_HDR_LEGACY_SIZE;
}

#endif /* VU_VIRTIO_H */
