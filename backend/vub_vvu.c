/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub virtio-vhost-user transport: the backend in a slave VM, over the VVU PCI device. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vu_ring.h"
#include "vub_priv.h"

/* The device's messages and registers are little-endian ("all message fields are
 * little-endian", notes/vvu.md); this transport reads them in place. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the VVU transport supports little-endian hosts only"
#endif

#define VUB_VVU_SYSFS "/sys/bus/pci/devices"
#define VUB_VVU_VENDOR 0x1af4
/* Modern virtio-pci device IDs: 0x1040 + the virtio device ID (the VVU ID is private). */
#define VUB_VVU_DEVICE_FIRST 0x1040
#define VUB_VVU_DEVICE_LAST 0x107f
/* virtio_pci binds every modern ID but has no driver for the VVU one: it is unbound. */
#define VUB_VVU_KERNEL_DRIVER "virtio-pci"
#define VUB_VVU_UIO_DRIVER "uio_pci_generic"

/* PCI configuration space. */
#define VUB_PCI_CFG_SIZE 256
#define VUB_PCI_COMMAND 0x04
#define VUB_PCI_CMD_MEMORY 0x0002u
#define VUB_PCI_CMD_MASTER 0x0004u
#define VUB_PCI_CMD_INTX_OFF 0x0400u
#define VUB_PCI_CAP_PTR 0x34
#define VUB_PCI_CAP_VENDOR 0x09
#define VUB_PCI_NBARS 6

/* virtio-pci capability types (virtio 1.2, 4.1.4) and the VVU shared memory one. */
enum vub_vvu_cap {
	VUB_CAP_COMMON = 1,
	VUB_CAP_NOTIFY = 2,
	VUB_CAP_DEVICE = 4,
	VUB_CAP_SHM = 8,
	VUB_CAP_TYPES,
};

/* struct virtio_pci_common_cfg offsets (virtio 1.2, 4.1.4.3). */
#define VUB_CC_DFSELECT 0x00
#define VUB_CC_DF 0x04
#define VUB_CC_GFSELECT 0x08
#define VUB_CC_GF 0x0c
#define VUB_CC_MSIX 0x10
#define VUB_CC_STATUS 0x14
#define VUB_CC_Q_SELECT 0x16
#define VUB_CC_Q_SIZE 0x18
#define VUB_CC_Q_MSIX 0x1a
#define VUB_CC_Q_ENABLE 0x1c
#define VUB_CC_Q_NOFF 0x1e
#define VUB_CC_Q_DESC 0x20
#define VUB_CC_Q_AVAIL 0x28
#define VUB_CC_Q_USED 0x30
#define VUB_NO_VECTOR 0xffffu

/* The VVU config space: le32 status, le32 max_vhost_queues, u8 uuid[16]. */
#define VUB_VVU_CFG_STATUS 0
#define VUB_VVU_CFG_MAX_QUEUES 4
#define VUB_VVU_SLAVE_UP 1u  /* the driver's: the backend is up */
#define VUB_VVU_MASTER_UP 2u /* the device's: a master is connected and served */

/* rxq (0) brings the master's messages, txq (1) takes the replies; doorbells are notify
 * indexes: 2i + 2 calls vring i, 2i + 3 its error (qemu-vvu/README.md). */
#define VUB_VVU_RXQ 0
#define VUB_VVU_TXQ 1
#define VUB_VVU_NQUEUES 2
#define VUB_VVU_DOORBELL_CALL(i) (2u * (i) + 2u)
#define VUB_VVU_DOORBELL_ERR(i) (2u * (i) + 3u)

/* DMA memory: one huge page holds both rings and every message buffer. */
#define VUB_VVU_HUGEPAGE (2u << 20)
#define VUB_VVU_RING_MAX 256
#define VUB_VVU_RING_BYTES (2u * 4096u + 2u * 4096u) /* room for a 256-entry split ring */
#define VUB_VVU_BUF_SIZE 512 /* > 12 + the largest payload the device relays (268) */
#define VUB_VVU_BUF_BASE (VUB_VVU_NQUEUES * VUB_VVU_RING_BYTES)
#define VUB_PAGEMAP_PFN_MASK ((1ull << 55) - 1)
#define VUB_PAGEMAP_PRESENT (1ull << 63)

/* No interrupts under uio: the rings and the status are polled this often. */
#define VUB_VVU_POLL_US 1000
#define VUB_VVU_RESET_POLLS 1000
#define VUB_VVU_RESET_POLL_US 1000
#define VUB_VVU_EVENTS 4

struct vub_vvu_bar {
	uint8_t *addr;
	size_t len;
};

struct vub_vvu_queue {
	struct vu_split_ring ring;
	uint64_t ring_pa;
	uint8_t *bufs; /* ring.size buffers of VUB_VVU_BUF_SIZE */
	uint64_t bufs_pa;
	volatile uint16_t *notify;
};

struct vub_vvu {
	struct vub_transport base;
	char name[VUB_NAME_MAX];
	char dir[PATH_MAX]; /* the device's sysfs directory */
	int cfg_fd;
	int epfd;
	int timer_fd;
	struct vub_vvu_bar bars[VUB_PCI_NBARS];
	volatile uint8_t *cap[VUB_CAP_TYPES];
	uint64_t cap_len[VUB_CAP_TYPES];
	uint32_t notify_mult;
	uint32_t max_queues;
	uint8_t *dma;
	uint64_t dma_pa;
	struct vub_vvu_queue q[VUB_VVU_NQUEUES];
	bool master; /* the core has a connected frontend */
};

static struct vub_vvu *
vub_vvu(struct vub_transport *t)
{
	return (struct vub_vvu *)t;
}

static uint8_t
vub_rd8(const volatile uint8_t *base, size_t off)
{
	return *(const volatile uint8_t *)(base + off);
}

static uint16_t
vub_rd16(const volatile uint8_t *base, size_t off)
{
	return *(const volatile uint16_t *)(const volatile void *)(base + off);
}

static uint32_t
vub_rd32(const volatile uint8_t *base, size_t off)
{
	return *(const volatile uint32_t *)(const volatile void *)(base + off);
}

static void
vub_wr8(volatile uint8_t *base, size_t off, uint8_t v)
{
	*(volatile uint8_t *)(base + off) = v;
}

static void
vub_wr16(volatile uint8_t *base, size_t off, uint16_t v)
{
	*(volatile uint16_t *)(volatile void *)(base + off) = v;
}

static void
vub_wr32(volatile uint8_t *base, size_t off, uint32_t v)
{
	*(volatile uint32_t *)(volatile void *)(base + off) = v;
}

/* 64-bit common config fields as two 32-bit writes, low first (virtio 1.2, 4.1.3.1). */
static void
vub_wr64(volatile uint8_t *base, size_t off, uint64_t v)
{
	vub_wr32(base, off, (uint32_t)v);
	vub_wr32(base, off + 4, (uint32_t)(v >> 32));
}

/* Read a small sysfs file of the device (or beside it) into buf. */
static int
vub_vvu_read_file(const struct vub_vvu *v, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX + 32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", v->dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int
vub_vvu_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* The device must be the VVU one, and free of a kernel driver that would also drive it:
 * virtio_pci is unbound (it has no driver for the VVU ID), uio_pci_generic may stay. */
static int
vub_vvu_claim(struct vub_vvu *v, const char *pci)
{
	char buf[64], link[PATH_MAX + 16], drv[PATH_MAX];
	unsigned long vendor = 0, device = 0;
	const char *name;
	ssize_t n;

	if (vub_vvu_read_file(v, "vendor", buf, sizeof(buf)) == 0)
		vendor = strtoul(buf, NULL, 16);
	if (vub_vvu_read_file(v, "device", buf, sizeof(buf)) == 0)
		device = strtoul(buf, NULL, 16);
	if (vendor != VUB_VVU_VENDOR || device < VUB_VVU_DEVICE_FIRST ||
	    device > VUB_VVU_DEVICE_LAST) {
		VU_ERR("%s: PCI device %s is %04lx:%04lx, not a modern virtio device (1af4:1040 to "
		       "1af4:107f)",
		       v->name, pci, vendor, device);
		return -ENODEV;
	}
	snprintf(link, sizeof(link), "%s/driver", v->dir);
	n = readlink(link, drv, sizeof(drv) - 1);
	if (n < 0)
		return 0;
	drv[n] = '\0';
	name = strrchr(drv, '/') ? strrchr(drv, '/') + 1 : drv;
	if (strcmp(name, VUB_VVU_UIO_DRIVER) == 0)
		return 0;
	if (strcmp(name, VUB_VVU_KERNEL_DRIVER) != 0) {
		VU_ERR("%s: PCI device %s is bound to %s: unbind it first", v->name, pci, name);
		return -EBUSY;
	}
	snprintf(link, sizeof(link), "%s/driver/unbind", v->dir);
	if (vub_vvu_write_file(link, pci) < 0) {
		VU_ERR("%s: cannot unbind %s from %s: %s", v->name, pci, name, strerror(errno));
		return -EBUSY;
	}
	VU_INFO("%s: PCI device %s unbound from %s", v->name, pci, name);
	return 0;
}

/* Memory decoding (sysfs enable), bus mastering for the rings, and INTx off: the device
 * is polled, and its line may be shared with devices whose driver would see it fire. */
static int
vub_vvu_enable(struct vub_vvu *v)
{
	char path[PATH_MAX + 16];
	uint16_t cmd;
	int rc;

	snprintf(path, sizeof(path), "%s/enable", v->dir);
	rc = vub_vvu_write_file(path, "1");
	if (rc < 0 && rc != -EIO) {
		VU_ERR("%s: %s: %s", v->name, path, strerror(-rc));
		return rc;
	}
	if (pread(v->cfg_fd, &cmd, sizeof(cmd), VUB_PCI_COMMAND) != sizeof(cmd))
		return -errno;
	cmd |= VUB_PCI_CMD_MEMORY | VUB_PCI_CMD_MASTER | VUB_PCI_CMD_INTX_OFF;
	if (pwrite(v->cfg_fd, &cmd, sizeof(cmd), VUB_PCI_COMMAND) != sizeof(cmd)) {
		rc = -errno;
		VU_ERR("%s: writing the PCI command register: %s", v->name, strerror(-rc));
		return rc;
	}
	return 0;
}

/* mmap BAR i through sysfs resource<i> (once). */
static int
vub_vvu_map_bar(struct vub_vvu *v, unsigned int i)
{
	char path[PATH_MAX + 16];
	struct stat st;
	void *p;
	int fd;

	if (v->bars[i].addr)
		return 0;
	snprintf(path, sizeof(path), "%s/resource%u", v->dir, i);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		VU_ERR("%s: BAR %u (%s): %s", v->name, i, path, fd < 0 ? strerror(errno) : "empty");
		if (fd >= 0)
			close(fd);
		return -ENODEV;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		VU_ERR("%s: mmap of BAR %u (%lld bytes): %s", v->name, i, (long long)st.st_size,
		       strerror(errno));
		return -ENODEV;
	}
	v->bars[i].addr = p;
	v->bars[i].len = (size_t)st.st_size;
	return 0;
}

/* The structures this driver uses; the notification one (7) is for interrupt-driven
 * drivers, the device is polled here. */
static const uint8_t vub_vvu_caps_needed[] = {
	VUB_CAP_COMMON,
	VUB_CAP_NOTIFY,
	VUB_CAP_DEVICE,
	VUB_CAP_SHM,
};

static bool
vub_vvu_cap_needed(uint8_t type)
{
	return memchr(vub_vvu_caps_needed, type, sizeof(vub_vvu_caps_needed)) != NULL;
}

/* One vendor capability: where its structure is, mapped. */
static int
vub_vvu_cap(struct vub_vvu *v, const uint8_t *cfg, unsigned int pos)
{
	uint8_t type = cfg[pos + 3], bar = cfg[pos + 4];
	uint64_t off, len;
	int rc;

	if (!vub_vvu_cap_needed(type) || v->cap[type] || bar >= VUB_PCI_NBARS)
		return 0;
	memcpy(&off, cfg + pos + 8, sizeof(uint32_t));
	off &= UINT32_MAX;
	memcpy(&len, cfg + pos + 12, sizeof(uint32_t));
	len &= UINT32_MAX;
	/* struct virtio_pci_cap64: offset_hi and length_hi follow */
	if (type == VUB_CAP_SHM) {
		uint32_t hi[2];

		memcpy(hi, cfg + pos + 16, sizeof(hi));
		off |= (uint64_t)hi[0] << 32;
		len |= (uint64_t)hi[1] << 32;
	}
	if (type == VUB_CAP_NOTIFY)
		memcpy(&v->notify_mult, cfg + pos + 16, sizeof(v->notify_mult));
	rc = vub_vvu_map_bar(v, bar);
	if (rc < 0)
		return rc;
	if (off > v->bars[bar].len || len > v->bars[bar].len - off) {
		VU_ERR("%s: capability %u lies outside BAR %u", v->name, type, bar);
		return -ENODEV;
	}
	v->cap[type] = v->bars[bar].addr + off;
	v->cap_len[type] = len;
	return 0;
}

/* Walk the capability list for the virtio structures (virtio 1.2, 4.1.4). */
static int
vub_vvu_caps(struct vub_vvu *v)
{
	uint8_t cfg[VUB_PCI_CFG_SIZE];
	unsigned int pos, hops = 0;
	int rc;

	if (pread(v->cfg_fd, cfg, sizeof(cfg), 0) != (ssize_t)sizeof(cfg)) {
		VU_ERR("%s: reading PCI config space (run as root): %s", v->name, strerror(errno));
		return -EACCES;
	}
	for (pos = cfg[VUB_PCI_CAP_PTR]; pos && pos + 20 <= sizeof(cfg) && hops < 48;
	     pos = cfg[pos + 1], hops++) {
		if (cfg[pos] != VUB_PCI_CAP_VENDOR)
			continue;
		rc = vub_vvu_cap(v, cfg, pos);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < sizeof(vub_vvu_caps_needed) / sizeof(vub_vvu_caps_needed[0]); i++) {
		if (!v->cap[vub_vvu_caps_needed[i]]) {
			VU_ERR("%s: no virtio capability of type %d: not a virtio-vhost-user device",
			       v->name, vub_vvu_caps_needed[i]);
			return -ENODEV;
		}
	}
	return 0;
}

/* Physical address of a locked page of ours (what the device DMAs to, uio having no
 * IOMMU): /proc/self/pagemap, as DPDK's EAL finds its hugepages' (needs CAP_SYS_ADMIN). */
static int
vub_vvu_phys(struct vub_vvu *v, const void *addr, uint64_t *pa)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t entry = 0;
	off_t off = (off_t)((uintptr_t)addr / (uintptr_t)page * sizeof(entry));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, &entry, sizeof(entry), off);

	if (fd >= 0)
		close(fd);
	if (n != sizeof(entry) || !(entry & VUB_PAGEMAP_PRESENT) ||
	    !(entry & VUB_PAGEMAP_PFN_MASK)) {
		VU_ERR("%s: no physical address for our DMA memory in /proc/self/pagemap (needs "
		       "root)",
		       v->name);
		return -EACCES;
	}
	*pa = (entry & VUB_PAGEMAP_PFN_MASK) * (uint64_t)page + (uintptr_t)addr % (uintptr_t)page;
	return 0;
}

/* One huge page: physically contiguous, never moved, so one address covers the rings and
 * the buffers. */
static int
vub_vvu_dma_alloc(struct vub_vvu *v)
{
	void *p =
		mmap(NULL, VUB_VVU_HUGEPAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED, -1, 0);

	if (p == MAP_FAILED) {
		VU_ERR("%s: no 2 MiB huge page for the message rings (%s): set "
		       "/proc/sys/vm/nr_hugepages",
		       v->name, strerror(errno));
		return -ENOMEM;
	}
	v->dma = p;
	memset(v->dma, 0, VUB_VVU_HUGEPAGE);
	return vub_vvu_phys(v, v->dma, &v->dma_pa);
}

/* Reset: write 0 and wait until the device reads back 0 (virtio 1.2, 4.1.4.3.2). */
static int
vub_vvu_reset(struct vub_vvu *v)
{
	volatile uint8_t *cc = v->cap[VUB_CAP_COMMON];

	vub_wr8(cc, VUB_CC_STATUS, 0);
	for (int i = 0; i < VUB_VVU_RESET_POLLS; i++) {
		if (vub_rd8(cc, VUB_CC_STATUS) == 0)
			return 0;
		usleep(VUB_VVU_RESET_POLL_US);
	}
	VU_ERR("%s: the device did not reset", v->name);
	return -ETIMEDOUT;
}

/* VERSION_1 only: the VVU device defines no feature bits. */
static int
vub_vvu_features(struct vub_vvu *v)
{
	volatile uint8_t *cc = v->cap[VUB_CAP_COMMON];
	uint8_t status;

	vub_wr32(cc, VUB_CC_DFSELECT, 1);
	if (!(vub_rd32(cc, VUB_CC_DF) & VU_BIT(VU_F_VERSION_1 - 32))) {
		VU_ERR("%s: the device does not offer VIRTIO_F_VERSION_1", v->name);
		return -ENODEV;
	}
	vub_wr32(cc, VUB_CC_GFSELECT, 0);
	vub_wr32(cc, VUB_CC_GF, 0);
	vub_wr32(cc, VUB_CC_GFSELECT, 1);
	vub_wr32(cc, VUB_CC_GF, (uint32_t)VU_BIT(VU_F_VERSION_1 - 32));
	status = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK;
	vub_wr8(cc, VUB_CC_STATUS, status);
	if (!(vub_rd8(cc, VUB_CC_STATUS) & VU_STATUS_FEATURES_OK)) {
		VU_ERR("%s: the device refused FEATURES_OK", v->name);
		return -ENODEV;
	}
	return 0;
}

/* Lay out virtqueue qi in our huge page and give it to the device, polled (no vector,
 * no interrupts asked). */
static int
vub_vvu_queue_setup(struct vub_vvu *v, uint16_t qi)
{
	volatile uint8_t *cc = v->cap[VUB_CAP_COMMON];
	struct vub_vvu_queue *q = &v->q[qi];
	size_t ring_off = (size_t)qi * VUB_VVU_RING_BYTES;
	uint16_t size, noff;

	vub_wr16(cc, VUB_CC_Q_SELECT, qi);
	size = vub_rd16(cc, VUB_CC_Q_SIZE);
	if (size == 0 || size > VUB_VVU_RING_MAX || (size & (size - 1))) {
		VU_ERR("%s: virtqueue %u has %u entries (1 to %d, a power of two, expected)",
		       v->name, qi, size, VUB_VVU_RING_MAX);
		return -ENODEV;
	}
	vu_split_ring_init(&q->ring, v->dma + ring_off, size);
	q->ring.avail->flags = VU_AVAIL_F_NO_INTERRUPT;
	q->ring_pa = v->dma_pa + ring_off;
	q->bufs = v->dma + VUB_VVU_BUF_BASE + (size_t)qi * VUB_VVU_RING_MAX * VUB_VVU_BUF_SIZE;
	q->bufs_pa = v->dma_pa + (uint64_t)(q->bufs - v->dma);
	vub_wr16(cc, VUB_CC_Q_MSIX, VUB_NO_VECTOR);
	vub_wr64(cc, VUB_CC_Q_DESC, q->ring_pa);
	vub_wr64(cc, VUB_CC_Q_AVAIL,
		 q->ring_pa + (uint64_t)((uint8_t *)q->ring.avail - (uint8_t *)q->ring.desc));
	vub_wr64(cc, VUB_CC_Q_USED,
		 q->ring_pa + (uint64_t)((uint8_t *)q->ring.used - (uint8_t *)q->ring.desc));
	noff = vub_rd16(cc, VUB_CC_Q_NOFF);
	if ((uint64_t)noff * v->notify_mult + sizeof(uint16_t) > v->cap_len[VUB_CAP_NOTIFY]) {
		VU_ERR("%s: virtqueue %u's notify address is outside the notify area", v->name, qi);
		return -ENODEV;
	}
	q->notify = (volatile uint16_t *)(volatile void *)(v->cap[VUB_CAP_NOTIFY] +
							   (size_t)noff * v->notify_mult);
	vub_wr16(cc, VUB_CC_Q_ENABLE, 1);
	return 0;
}

/* Descriptor i of q: buffer i, device-writable on rxq. */
static void
vub_vvu_post(struct vub_vvu_queue *q, uint16_t i, uint32_t len, bool writable)
{
	q->ring.desc[i].addr = q->bufs_pa + (uint64_t)i * VUB_VVU_BUF_SIZE;
	q->ring.desc[i].len = len;
	q->ring.desc[i].flags = writable ? VU_DESC_F_WRITE : 0;
	q->ring.desc[i].next = 0;
	vu_split_ring_avail_add(&q->ring, i);
}

static void
vub_vvu_notify(struct vub_vvu_queue *q, uint16_t qi)
{
	vu_split_ring_avail_publish(&q->ring);
	if (vu_split_ring_needs_kick(&q->ring))
		*q->notify = qi;
}

static volatile uint8_t *
vub_vvu_devcfg(struct vub_vvu *v)
{
	return v->cap[VUB_CAP_DEVICE];
}

/* The virtio driver's part (virtio 1.2, 3.1.1), then rxq's buffers "before SLAVE_UP". */
static int
vub_vvu_device_up(struct vub_vvu *v)
{
	volatile uint8_t *cc = v->cap[VUB_CAP_COMMON];
	int rc;

	rc = vub_vvu_reset(v);
	if (rc < 0)
		return rc;
	vub_wr8(cc, VUB_CC_STATUS, VU_STATUS_ACKNOWLEDGE);
	vub_wr8(cc, VUB_CC_STATUS, VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER);
	rc = vub_vvu_features(v);
	if (rc < 0)
		return rc;
	vub_wr16(cc, VUB_CC_MSIX, VUB_NO_VECTOR);
	memset(v->dma, 0, VUB_VVU_HUGEPAGE);
	for (uint16_t qi = 0; qi < VUB_VVU_NQUEUES && rc == 0; qi++)
		rc = vub_vvu_queue_setup(v, qi);
	if (rc < 0)
		return rc;
	vub_wr8(cc, VUB_CC_STATUS,
		VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK |
			VU_STATUS_DRIVER_OK);
	for (uint16_t i = 0; i < v->q[VUB_VVU_RXQ].ring.size; i++)
		vub_vvu_post(&v->q[VUB_VVU_RXQ], i, VUB_VVU_BUF_SIZE, true);
	vub_vvu_notify(&v->q[VUB_VVU_RXQ], VUB_VVU_RXQ);
	v->max_queues = vub_rd32(vub_vvu_devcfg(v), VUB_VVU_CFG_MAX_QUEUES);
	vub_wr32(vub_vvu_devcfg(v), VUB_VVU_CFG_STATUS, VUB_VVU_SLAVE_UP);
	VU_INFO("%s: virtio-vhost-user device up (%u vhost queues): waiting for a master", v->name,
		v->max_queues);
	return 0;
}

static int
vub_vvu_watch(struct vub_vvu *v, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		VU_ERR("%s: epoll_ctl: %s", v->name, strerror(err));
		return -err;
	}
	return 0;
}

static int
vub_vvu_start(struct vub_transport *t)
{
	struct vub_vvu *v = vub_vvu(t);
	struct itimerspec its = { .it_interval.tv_nsec = VUB_VVU_POLL_US * 1000L,
				  .it_value.tv_nsec = VUB_VVU_POLL_US * 1000L };
	int rc;

	rc = vub_vvu_enable(v);
	if (rc == 0)
		rc = vub_vvu_caps(v);
	if (rc == 0)
		rc = vub_vvu_dma_alloc(v);
	if (rc == 0)
		rc = vub_vvu_device_up(v);
	if (rc < 0)
		return rc;
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (v->timer_fd < 0 || timerfd_settime(v->timer_fd, 0, &its, NULL) < 0) {
		rc = -errno;
		VU_ERR("%s: timerfd: %s", v->name, strerror(-rc));
		return rc;
	}
	rc = vub_vvu_watch(v, v->timer_fd);
	if (rc == 0)
		rc = vub_vvu_watch(v, vub_dev_wake_fd(v->base.dev));
	return rc;
}

/* The core drops the frontend: the driver clearing SLAVE_UP disconnects the master
 * (spec); SLAVE_UP again serves the next one. */
static void
vub_vvu_drop(struct vub_vvu *v)
{
	vub_wr32(vub_vvu_devcfg(v), VUB_VVU_CFG_STATUS, 0);
	if (v->master) {
		v->master = false;
		vub_dev_on_disconnect(v->base.dev);
	}
	vub_wr32(vub_vvu_devcfg(v), VUB_VVU_CFG_STATUS, VUB_VVU_SLAVE_UP);
}

/* One used rxq buffer: a whole message (one per buffer, spec); its buffer is posted
 * again. */
static void
vub_vvu_receive(struct vub_vvu *v, const struct vu_used_elem *e)
{
	struct vub_vvu_queue *q = &v->q[VUB_VVU_RXQ];
	struct vu_vhost_msg msg;
	uint16_t id = (uint16_t)e->id;
	const uint8_t *buf;
	int rc = -EPROTO;

	if (e->id >= q->ring.size) {
		VU_ERR("%s: rxq used id %u out of range: resetting", v->name, e->id);
		return;
	}
	buf = q->bufs + (size_t)id * VUB_VVU_BUF_SIZE;
	memset(&msg, 0, sizeof(msg));
	if (e->len >= sizeof(msg.hdr) && e->len <= VUB_VVU_BUF_SIZE) {
		memcpy(&msg.hdr, buf, sizeof(msg.hdr));
		if (msg.hdr.size == e->len - sizeof(msg.hdr) &&
		    msg.hdr.size <= sizeof(msg.payload)) {
			memcpy(&msg.payload, buf + sizeof(msg.hdr), msg.hdr.size);
			rc = 0;
		}
	}
	vub_vvu_post(q, id, VUB_VVU_BUF_SIZE, true);
	if (rc < 0)
		VU_ERR("%s: rxq message of %u bytes with a bad size: dropping the master", v->name,
		       e->len);
	else if (v->master)
		rc = vub_dev_on_message(v->base.dev, &msg);
	else
		VU_ERR("%s: a message while no master is up: dropped", v->name);
	if (rc < 0)
		vub_vvu_drop(v);
}

/* Messages first (a master's last messages precede its disconnect), then the status. */
static void
vub_vvu_poll(struct vub_vvu *v)
{
	struct vub_vvu_queue *rq = &v->q[VUB_VVU_RXQ];
	uint32_t status = vub_rd32(vub_vvu_devcfg(v), VUB_VVU_CFG_STATUS);
	uint16_t n;

	if (vub_rd8(v->cap[VUB_CAP_COMMON], VUB_CC_STATUS) & VU_STATUS_DEVICE_NEEDS_RESET) {
		VU_ERR("%s: the device needs a reset (a message larger than a buffer?): resetting",
		       v->name);
		if (v->master) {
			v->master = false;
			vub_dev_on_disconnect(v->base.dev);
		}
		if (vub_vvu_device_up(v) < 0)
			VU_ERR("%s: the device did not come back up", v->name);
		return;
	}
	if ((status & VUB_VVU_MASTER_UP) && !v->master) {
		v->master = true;
		vub_dev_on_connect(v->base.dev);
	}
	n = vu_split_ring_used_pending(&rq->ring);
	for (uint16_t i = 0; i < n; i++) {
		vub_vvu_receive(v, vu_split_ring_used_elem(&rq->ring, 0));
		rq->ring.last_used_idx++;
	}
	if (n)
		vub_vvu_notify(rq, VUB_VVU_RXQ);
	if (!(status & VUB_VVU_MASTER_UP) && v->master) {
		v->master = false;
		vub_dev_on_disconnect(v->base.dev);
	}
	/* the device clears both bits when the master leaves: up again for the next */
	if (!(status & VUB_VVU_SLAVE_UP))
		vub_wr32(vub_vvu_devcfg(v), VUB_VVU_CFG_STATUS, VUB_VVU_SLAVE_UP);
}

static int
vub_vvu_process(struct vub_transport *t)
{
	struct vub_vvu *v = vub_vvu(t);
	struct epoll_event ev[VUB_VVU_EVENTS];
	uint64_t ticks;
	int n = epoll_wait(v->epfd, ev, VUB_VVU_EVENTS, 0);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == v->timer_fd) {
			if (read(v->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				return -errno;
			vub_vvu_poll(v);
		} else {
			vub_dev_on_wake(v->base.dev);
		}
	}
	return 0;
}

static int
vub_vvu_event_fd(const struct vub_transport *t)
{
	return ((const struct vub_vvu *)t)->epfd;
}

/* A reply in the next txq buffer, once the device has used the earlier ones. */
static int
vub_vvu_send_reply(struct vub_transport *t, const struct vu_vhost_msg *msg)
{
	struct vub_vvu *v = vub_vvu(t);
	struct vub_vvu_queue *q = &v->q[VUB_VVU_TXQ];
	uint32_t len = (uint32_t)sizeof(msg->hdr) + msg->hdr.size;
	uint16_t slot;

	if (!v->master)
		return -ENOTCONN;
	q->ring.last_used_idx =
		(uint16_t)(q->ring.last_used_idx + vu_split_ring_used_pending(&q->ring));
	if ((uint16_t)(q->ring.avail_idx - q->ring.last_used_idx) >= q->ring.size) {
		VU_ERR("%s: txq full: the device takes no replies", v->name);
		return -EAGAIN;
	}
	if (len > VUB_VVU_BUF_SIZE)
		return -EMSGSIZE;
	slot = q->ring.avail_idx & q->ring.mask;
	memcpy(q->bufs + (size_t)slot * VUB_VVU_BUF_SIZE, &msg->hdr, sizeof(msg->hdr));
	memcpy(q->bufs + (size_t)slot * VUB_VVU_BUF_SIZE + sizeof(msg->hdr), &msg->payload,
	       msg->hdr.size);
	vub_vvu_post(q, slot, len, false);
	vub_vvu_notify(q, VUB_VVU_TXQ);
	return 0;
}

/* "Region i at the sum of the sizes of regions 0..i-1" of the shared memory BAR
 * (qemu-vvu/README.md): the device mapped them there before relaying the message. */
static int
vub_vvu_map_mem(struct vub_transport *t, const struct vu_vhost_msg *msg, struct vub_region *regions)
{
	struct vub_vvu *v = vub_vvu(t);
	const struct vu_vhost_memory *m = &msg->payload.memory;
	uint64_t off = 0;

	for (uint32_t i = 0; i < m->nregions; i++) {
		uint64_t size = m->regions[i].memory_size;

		if (size > v->cap_len[VUB_CAP_SHM] || off > v->cap_len[VUB_CAP_SHM] - size) {
			VU_ERR("%s: SET_MEM_TABLE region %u does not fit the shared memory BAR: "
			       "refused",
			       v->name, i);
			return -EINVAL;
		}
		regions[i].host = (uint8_t *)(uintptr_t)v->cap[VUB_CAP_SHM] + off;
		regions[i].map_addr = NULL;
		off += size;
	}
	return 0;
}

static void
vub_vvu_unmap_mem(struct vub_transport *t, struct vub_region *r)
{
	(void)t;
	r->host = NULL;
}

/* A doorbell: the device signals the master's eventfd (writes without one do nothing). */
static int
vub_vvu_doorbell(struct vub_vvu *v, uint32_t idx)
{
	size_t off = (size_t)idx * v->notify_mult;

	if (!v->master || off + sizeof(uint16_t) > v->cap_len[VUB_CAP_NOTIFY])
		return 0;
	vub_wr16(v->cap[VUB_CAP_NOTIFY], off, (uint16_t)idx);
	return 0;
}

static int
vub_vvu_vring_call(struct vub_transport *t, uint16_t vring, int fd)
{
	(void)fd;
	return vub_vvu_doorbell(vub_vvu(t), VUB_VVU_DOORBELL_CALL(vring));
}

static int
vub_vvu_vring_err(struct vub_transport *t, uint16_t vring, int fd)
{
	(void)fd;
	return vub_vvu_doorbell(vub_vvu(t), VUB_VVU_DOORBELL_ERR(vring));
}

/* The device clears BACKEND_REQ from the protocol features: no channel to send on. */
static int
vub_vvu_send_backend_req(struct vub_transport *t, int fd, const struct vu_vhost_msg *msg,
			 uint64_t *ack)
{
	(void)t;
	(void)fd;
	(void)msg;
	(void)ack;
	return -ENOTSUP;
}

static void
vub_vvu_cleanup(struct vub_transport *t)
{
	struct vub_vvu *v = vub_vvu(t);

	/* clearing SLAVE_UP disconnects the master; the reset stops the rings' DMA */
	if (v->cap[VUB_CAP_DEVICE])
		vub_wr32(vub_vvu_devcfg(v), VUB_VVU_CFG_STATUS, 0);
	if (v->cap[VUB_CAP_COMMON])
		vub_vvu_reset(v);
	for (int i = 0; i < VUB_PCI_NBARS; i++)
		if (v->bars[i].addr)
			munmap(v->bars[i].addr, v->bars[i].len);
	if (v->dma)
		munmap(v->dma, VUB_VVU_HUGEPAGE);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->cfg_fd >= 0)
		close(v->cfg_fd);
	free(v);
}

static const struct vub_transport_ops vub_vvu_ops = {
	.name = "vvu",
	.passes_fds = false,
	.start = vub_vvu_start,
	.cleanup = vub_vvu_cleanup,
	.event_fd = vub_vvu_event_fd,
	.process = vub_vvu_process,
	.send_reply = vub_vvu_send_reply,
	.map_mem = vub_vvu_map_mem,
	.unmap_mem = vub_vvu_unmap_mem,
	.vring_call = vub_vvu_vring_call,
	.vring_err = vub_vvu_vring_err,
	.send_backend_req = vub_vvu_send_backend_req,
};

/* "DDDD:BB:DD.F", as sysfs names it. */
static bool
vub_vvu_pci_valid(const char *pci)
{
	unsigned int dom, bus, dev, fn;
	char tail;

	return pci && strlen(pci) == 12 &&
		sscanf(pci, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) == 4 && dev < 32 &&
		fn < 8;
}

int
vub_vvu_create(const struct vub_vvu_params *params, struct vub_transport **out)
{
	char path[PATH_MAX + 16];
	struct vub_vvu *v;
	int rc;

	if (!vub_vvu_pci_valid(params->pci)) {
		VU_ERR("%s: PCI address %s: DDDD:BB:DD.F expected", params->name,
		       params->pci ? params->pci : "(none)");
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->base.ops = &vub_vvu_ops;
	v->cfg_fd = v->timer_fd = -1;
	snprintf(v->name, sizeof(v->name), "%s", params->name);
	snprintf(v->dir, sizeof(v->dir), "%s/%s", VUB_VVU_SYSFS, params->pci);
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	rc = v->epfd < 0 ? -errno : vub_vvu_claim(v, params->pci);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/config", v->dir);
		v->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
		if (v->cfg_fd < 0) {
			rc = -errno;
			VU_ERR("%s: %s: %s", v->name, path, strerror(-rc));
		}
	}
	if (rc < 0) {
		vub_vvu_cleanup(&v->base);
		return rc;
	}
	*out = &v->base;
	return 0;
}
