/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's virtio-net header offloads: offered, negotiated, checked, written. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"
#include "vub_transport.h"

#define FRAME_LEN 100u
#define CSUM_START 34u	/* Ethernet + IPv4 */
#define UDP_CSUM_OFF 6u /* offsetof(struct udp header, checksum) */
#define MSS 1400u
#define ALL VUB_OFFLOAD_FEATURES
#define F(b) VU_BIT(VU_NET_F_##b)

static struct vub_pkt pkt;
static uint8_t frame[FRAME_LEN];

static struct vf *
open_dev(uint64_t offloads, uint64_t features)
{
	struct vf *f = test_malloc(sizeof(*f));

	tu_log_capture();
	vf_open_offloads(f, 1, offloads);
	vf_handshake(f, VF_FEATURES | features);
	return f;
}

static void
close_dev(struct vf *f)
{
	vf_close(f);
	test_free(f);
}

/* Offered exactly as asked; a set beyond the header offloads or a TSO without its
 * checksum is refused at create with a line saying which. */
static void
test_offered(void **state)
{
	struct vub_af_unix_params ap = { .name = "vub-ut" };
	struct vub_dev_params dp = { .name = "vub-ut", .queue_pairs = 1 };
	const uint64_t bad[] = { F(HOST_TSO4), F(GUEST_TSO6), F(CTRL_VQ) };
	const char *why[] = { "HOST_TSO4/6 without VIRTIO_NET_F_CSUM",
			      "GUEST_TSO4/6 without VIRTIO_NET_F_GUEST_CSUM", "beyond" };
	struct vub_transport *t;
	struct vub_dev *dev;
	struct vf f;

	(void)state;
	tu_log_capture();
	vf_open_offloads(&f, 1, ALL);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_FEATURES) & ALL, ALL);
	vf_close(&f);
	vf_open(&f, 1);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_FEATURES) & ALL, 0);
	vf_close(&f);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		ap.fd = sv[1];
		assert_int_equal(vub_af_unix_create(&ap, &t), 0);
		dp.offloads = bad[i];
		assert_int_equal(vub_dev_create(&dp, t, &dev), -EINVAL);
		vf_assert_error_logged(why[i]);
		close(sv[0]);
	}
}

/* GUEST_TSO4 without GUEST_CSUM (DPDK's driver, LRO without Rx checksums): accepted,
 * and no segmented frame goes to the frontend, since that needs NEEDS_CSUM. */
static void
test_tso_without_csum(void **state)
{
	struct vf *f = open_dev(ALL, F(GUEST_TSO4));
	struct vu_net_hdr tso = { .flags = VU_NET_HDR_F_NEEDS_CSUM,
				  .gso_type = VU_NET_HDR_GSO_TCPV4,
				  .gso_size = MSS,
				  .csum_start = CSUM_START,
				  .csum_offset = UDP_CSUM_OFF };
	struct vub_vq *vq;

	(void)state;
	assert_int_equal(vub_dev_features(f->dev), VF_FEATURES | F(GUEST_TSO4));
	vf_post_rx(f, 1, VF_BUF_SIZE);
	vq = vub_enqueue_enter(f->dev, 0);
	assert_int_equal(vub_enqueue_begin(vq, FRAME_LEN, &pkt), 1);
	assert_int_equal(vub_enqueue_offload(vq, &pkt, &tso), -ENOTSUP);
	vub_enqueue_abort(vq, &pkt);
	vub_vq_leave(vq);
	assert_int_equal(tu_log_errors(), 0);
	close_dev(f);
}

/* Post one frame whose header carries hdr, take it, return the header the device hands
 * out. */
static struct vu_net_hdr
send_with(struct vf *f, const struct vu_net_hdr *hdr)
{
	uint16_t slot = f->ring[VF_TX].avail_idx & f->ring[VF_TX].mask;
	uint8_t out[FRAME_LEN];
	uint32_t len, id, ulen;

	vf_post_tx(f, frame, FRAME_LEN);
	memcpy(vf_buf(f, VF_TX, slot), hdr, VF_HDR_LEN);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(len, FRAME_LEN);
	assert_true(vf_used(f, VF_TX, &id, &ulen));
	return pkt.hdr;
}

static void
assert_hdr(const struct vu_net_hdr *got, const struct vu_net_hdr *want)
{
	assert_int_equal(got->flags, want->flags);
	assert_int_equal(got->gso_type, want->gso_type);
	assert_int_equal(got->hdr_len, want->hdr_len);
	assert_int_equal(got->gso_size, want->gso_size);
	assert_int_equal(got->csum_start, want->csum_start);
	assert_int_equal(got->csum_offset, want->csum_offset);
}

/* The frontend's requests pass when negotiated and inside the frame; anything else is
 * cleared with one line per ring. */
static void
test_dequeue_header(void **state)
{
	struct vf *f = open_dev(ALL, F(CSUM) | F(HOST_TSO4));
	const struct vu_net_hdr zero = { 0 };
	const struct vu_net_hdr csum = { .flags = VU_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = CSUM_START,
					 .csum_offset = UDP_CSUM_OFF };
	struct vu_net_hdr tso = csum, h;

	(void)state;
	tso.gso_type = VU_NET_HDR_GSO_TCPV4;
	tso.gso_size = MSS;
	tso.hdr_len = CSUM_START + 20;
	h = send_with(f, &csum);
	assert_hdr(&h, &csum);
	h = send_with(f, &tso);
	assert_hdr(&h, &tso);
	/* DATA_VALID is not for the driver to set: dropped, the rest kept. */
	h = csum;
	h.flags |= VU_NET_HDR_F_DATA_VALID;
	h = send_with(f, &h);
	assert_hdr(&h, &csum);
	assert_int_equal(tu_log_errors(), 0);
	/* The checksum field past the frame: cleared, logged. */
	h = csum;
	h.csum_offset = FRAME_LEN - CSUM_START - 1;
	h = send_with(f, &h);
	assert_hdr(&h, &zero);
	vf_assert_error_logged("checksum field past the end of the frame");
	/* Once per ring: TCPV6 not negotiated, segmentation without NEEDS_CSUM, size 0. */
	h = tso;
	h.gso_type = VU_NET_HDR_GSO_TCPV6;
	h = send_with(f, &h);
	assert_hdr(&h, &zero);
	h = tso;
	h.flags = 0;
	h = send_with(f, &h);
	assert_hdr(&h, &zero);
	h = tso;
	h.gso_size = 0;
	h = send_with(f, &h);
	assert_hdr(&h, &zero);
	assert_int_equal(tu_log_errors(), 0);
	close_dev(f);
}

/* CSUM offered but not negotiated: a NEEDS_CSUM request is cleared. */
static void
test_dequeue_not_negotiated(void **state)
{
	struct vf *f = open_dev(ALL, 0);
	const struct vu_net_hdr zero = { 0 };
	const struct vu_net_hdr csum = { .flags = VU_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = CSUM_START,
					 .csum_offset = UDP_CSUM_OFF };
	struct vu_net_hdr h;

	(void)state;
	h = send_with(f, &csum);
	assert_hdr(&h, &zero);
	vf_assert_error_logged("an offload not negotiated");
	close_dev(f);
}

/* Enqueue: what the frontend negotiated is written (num_buffers as ever); what it did
 * not is -ENOTSUP, what does not fit the frame -EINVAL, and the header stays zero. */
static void
test_enqueue_header(void **state)
{
	struct vf *f = open_dev(ALL, F(GUEST_CSUM) | F(GUEST_TSO4));
	struct vu_net_hdr csum = { .flags = VU_NET_HDR_F_NEEDS_CSUM,
				   .csum_start = CSUM_START,
				   .csum_offset = UDP_CSUM_OFF };
	struct vu_net_hdr tso = csum, bad = csum;
	const struct vu_net_hdr *got;
	struct vub_vq *vq;

	(void)state;
	tso.gso_type = VU_NET_HDR_GSO_TCPV4;
	tso.gso_size = MSS;
	vf_post_rx(f, 3, VF_BUF_SIZE);
	vq = vub_enqueue_enter(f->dev, 0);
	assert_non_null(vq);
	assert_int_equal(vub_enqueue_begin(vq, FRAME_LEN, &pkt), 1);
	assert_int_equal(vub_enqueue_offload(vq, &pkt, &csum), 0);
	vub_pkt_write(&pkt, 0, frame, FRAME_LEN);
	vub_enqueue_end(vq, &pkt);
	assert_int_equal(vub_enqueue_begin(vq, FRAME_LEN, &pkt), 1);
	assert_int_equal(vub_enqueue_offload(vq, &pkt, &tso), 0);
	vub_enqueue_end(vq, &pkt);
	assert_int_equal(vub_enqueue_begin(vq, FRAME_LEN, &pkt), 1);
	tso.gso_type = VU_NET_HDR_GSO_TCPV6;
	assert_int_equal(vub_enqueue_offload(vq, &pkt, &tso), -ENOTSUP);
	bad.csum_start = FRAME_LEN;
	assert_int_equal(vub_enqueue_offload(vq, &pkt, &bad), -EINVAL);
	bad = csum;
	bad.gso_type = 3;
	assert_int_equal(vub_enqueue_offload(vq, &pkt, &bad), -EINVAL);
	vub_enqueue_end(vq, &pkt);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	csum.num_buffers = 1;
	got = (const struct vu_net_hdr *)vf_buf(f, VF_RX, 0);
	assert_hdr(got, &csum);
	assert_int_equal(got->num_buffers, 1);
	tso.gso_type = VU_NET_HDR_GSO_TCPV4;
	assert_hdr((const struct vu_net_hdr *)vf_buf(f, VF_RX, 1), &tso);
	got = (const struct vu_net_hdr *)vf_buf(f, VF_RX, 2);
	assert_int_equal(got->flags, 0);
	assert_int_equal(got->gso_type, 0);
	assert_int_equal(got->num_buffers, 1);
	assert_int_equal(tu_log_errors(), 0);
	close_dev(f);
}

/* GUEST_CSUM offered and not negotiated: the application completes the checksum. */
static void
test_enqueue_not_negotiated(void **state)
{
	struct vf *f = open_dev(ALL, 0);
	const struct vu_net_hdr csum = { .flags = VU_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = CSUM_START,
					 .csum_offset = UDP_CSUM_OFF };
	struct vub_vq *vq;

	(void)state;
	vf_post_rx(f, 1, VF_BUF_SIZE);
	vq = vub_enqueue_enter(f->dev, 0);
	assert_int_equal(vub_enqueue_begin(vq, FRAME_LEN, &pkt), 1);
	assert_int_equal(vub_enqueue_offload(vq, &pkt, &csum), -ENOTSUP);
	vub_enqueue_abort(vq, &pkt);
	vub_vq_leave(vq);
	close_dev(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offered),
		cmocka_unit_test(test_tso_without_csum),
		cmocka_unit_test(test_dequeue_header),
		cmocka_unit_test(test_dequeue_not_negotiated),
		cmocka_unit_test(test_enqueue_header),
		cmocka_unit_test(test_enqueue_not_negotiated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
