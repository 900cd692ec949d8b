/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's notifications: EVENT_IDX call suppression and the kick modes. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"

#define FRAME_LEN 60u
#define NFRAMES 20u	 /* two and a half laps of an 8-entry ring */
#define BATCH 4u	 /* frames taken in one burst, one flush */
#define WRAP_BASE 65530u /* a split ring whose 16-bit indexes wrap after 6 entries */
#define EVENT_IDX VU_BIT(VU_F_RING_EVENT_IDX)
#define PACKED VU_BIT(VU_F_RING_PACKED)

static struct vub_pkt pkt;
static uint8_t frame[FRAME_LEN];
/* Flushes of the Tx ring that said they called the frontend, since calls() last looked. */
static uint64_t flush_calls;

static struct vf *
open_dev(uint64_t features, uint16_t split_base)
{
	struct vf *f = test_malloc(sizeof(*f));

	tu_log_capture();
	flush_calls = 0;
	vf_open(f, 1);
	f->split_base = split_base;
	vf_handshake(f, VF_FEATURES | features);
	assert_int_equal(vub_dev_features(f->dev), VF_FEATURES | features);
	return f;
}

static void
close_dev(struct vf *f)
{
	assert_int_equal(tu_log_errors(), 0);
	vf_close(f);
	test_free(f);
}

/* Take n frames from the frontend's Tx ring in one burst: one flush, as a PMD does. */
static void
take_burst(struct vf *f, unsigned int n)
{
	struct vub_vq *vq = vub_dequeue_enter(f->dev, 0);

	assert_non_null(vq);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(vub_dequeue_begin(vq, &pkt), 1);
		assert_int_equal(pkt.len, FRAME_LEN);
		vub_dequeue_end(vq, &pkt);
	}
	flush_calls += vub_vq_flush(vq);
	vub_vq_leave(vq);
}

/* The driver reads back every used entry (so the ring never fills). */
static void
reap(struct vf *f, uint32_t ring, unsigned int n)
{
	uint32_t id, len;

	for (unsigned int i = 0; i < n; i++)
		assert_true(vf_used(f, ring, &id, &len));
	assert_false(vf_used(f, ring, &id, &len));
}

/* The calls the frontend got on a ring; on the Tx ring, each one a flush reported (what
 * net_vubackend counts as guest_notifications). */
static uint64_t
calls(struct vf *f, uint32_t ring)
{
	uint64_t n = vf_eventfd_count(f->call[ring]);

	if (ring == VF_TX) {
		assert_int_equal(n, flush_calls);
		flush_calls = 0;
	}
	return n;
}

/* Split, EVENT_IDX: a call exactly when the used entry placed at index used_event is
 * published, whatever avail->flags says ("The device MUST ignore the lower bit of
 * flags"); across the 16-bit index wrap and the ring's own. */
static void
test_split_used_event(void **state)
{
	struct vf *f = open_dev(EVENT_IDX, WRAP_BASE);
	struct vu_split_ring *r = &f->ring[VF_TX];
	uint16_t *used_event = vu_split_used_event(r->avail, r->size);

	(void)state;
	r->avail->flags = VU_AVAIL_F_NO_INTERRUPT;
	for (unsigned int i = 0; i < NFRAMES; i++) {
		uint16_t idx = (uint16_t)(WRAP_BASE + i);
		bool wanted = i % 3 == 0;

		/* Not wanted: the event is the entry after this one. */
		*used_event = wanted ? idx : (uint16_t)(idx + 1);
		vf_post_tx(f, frame, FRAME_LEN);
		take_burst(f, 1);
		assert_int_equal(calls(f, VF_TX), wanted ? 1 : 0);
		reap(f, VF_TX, 1);
	}
	/* One flush of 4 entries: a call when used_event is among them, once. */
	for (unsigned int off = 0; off <= BATCH; off++) {
		uint16_t idx = r->last_used_idx;

		*used_event = (uint16_t)(idx + off);
		for (unsigned int i = 0; i < BATCH; i++)
			vf_post_tx(f, frame, FRAME_LEN);
		take_burst(f, BATCH);
		assert_int_equal(calls(f, VF_TX), off < BATCH ? 1 : 0);
		reap(f, VF_TX, BATCH);
	}
	close_dev(f);
}

/* Split without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT alone decides, and used_event is
 * not read ("The device MUST ignore the used_event value"). */
static void
test_split_no_interrupt(void **state)
{
	struct vf *f = open_dev(0, 0);
	struct vu_split_ring *r = &f->ring[VF_TX];

	(void)state;
	*vu_split_used_event(r->avail, r->size) = 100;
	for (unsigned int i = 0; i < NFRAMES; i++) {
		bool quiet = i % 2;

		r->avail->flags = quiet ? VU_AVAIL_F_NO_INTERRUPT : 0;
		vf_post_tx(f, frame, FRAME_LEN);
		take_burst(f, 1);
		assert_int_equal(calls(f, VF_TX), quiet ? 0 : 1);
		reap(f, VF_TX, 1);
	}
	close_dev(f);
}

/* Would the driver kick after publishing `n` entries (spec 2.7.10, driver side)? */
static bool
split_driver_kicks(struct vf *f, bool event_idx, unsigned int n)
{
	struct vu_split_ring *r = &f->ring[VF_TX];
	uint16_t old = r->avail_idx;

	for (unsigned int i = 0; i < n; i++)
		vf_post_tx(f, frame, FRAME_LEN);
	if (event_idx)
		return vu_need_event(*vu_split_avail_event(r->used, r->size), r->avail_idx, old);
	return !(r->used->flags & VU_USED_F_NO_NOTIFY);
}

static int
kick_mode(struct vf *f, enum vub_kick_mode mode)
{
	struct vub_vq *vq = vub_dequeue_enter(f->dev, 0);
	int rc;

	assert_non_null(vq);
	rc = vub_vq_kick_mode(vq, mode);
	vub_vq_leave(vq);
	return rc;
}

/* Split, both with and without EVENT_IDX: polled asks for no kick, notify for one at the
 * next entry, and says when an entry came before it could ask. Across the index wrap. */
static void
split_kicks(bool event_idx)
{
	struct vf *f = open_dev(event_idx ? EVENT_IDX : 0, WRAP_BASE);
	struct vu_split_ring *r = &f->ring[VF_TX];

	/* Polled from the start: 5 entries, no kick asked for. */
	assert_false(split_driver_kicks(f, event_idx, 5));
	take_burst(f, 5);
	reap(f, VF_TX, 5);
	/* Nothing available: sleep; the next entry is kicked for. */
	assert_int_equal(kick_mode(f, VUB_KICK_NOTIFY), 0);
	if (event_idx)
		assert_int_equal(*vu_split_avail_event(r->used, r->size), r->avail_idx);
	assert_true(split_driver_kicks(f, event_idx, 1));
	/* The entry is there: do not sleep. */
	assert_int_equal(kick_mode(f, VUB_KICK_NOTIFY), 1);
	take_burst(f, 1);
	reap(f, VF_TX, 1);
	/* Back to polled: 7 more entries (past the 16-bit wrap), no kick. */
	assert_int_equal(kick_mode(f, VUB_KICK_POLLED), 0);
	assert_false(split_driver_kicks(f, event_idx, 7));
	take_burst(f, 7);
	reap(f, VF_TX, 7);
	close_dev(f);
}

static void
test_split_kicks_event_idx(void **state)
{
	(void)state;
	split_kicks(true);
}

static void
test_split_kicks_flags(void **state)
{
	(void)state;
	split_kicks(false);
}

/* The mode is the application's: a restarted ring (GET_VRING_BASE, set up again) asks
 * for kicks as it did; the kick eventfd the frontend passed is the one handed out. */
static void
test_kick_mode_survives_restart(void **state)
{
	struct vf *f = open_dev(0, 0);
	struct pollfd pfd = { .events = POLLIN };
	uint64_t one = 1;

	(void)state;
	assert_int_equal(kick_mode(f, VUB_KICK_NOTIFY), 0);
	assert_int_equal(vf_get_vring_base(f, VF_TX), 0);
	assert_int_equal(vf_setup_ring(f, VF_TX, VF_RING_SIZE), 0);
	assert_int_equal(f->ring[VF_TX].used->flags, 0);
	pfd.fd = vub_dev_kick_fd(f->dev, VF_TX);
	assert_true(pfd.fd >= 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(write(f->kick[VF_TX], &one, sizeof(one)), sizeof(one));
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(vf_eventfd_count(pfd.fd), 1);
	assert_int_equal(vub_dev_kick_fd(f->dev, 2 * VUB_MAX_QUEUE_PAIRS), -1);
	/* A mode that is neither is refused. */
	assert_int_equal(kick_mode(f, (enum vub_kick_mode)7), -EINVAL);
	assert_true(strstr(tu_log_last_error(), "kick mode 7"));
	tu_log_reset();
	/* Polled again, and again after a restart. */
	assert_int_equal(kick_mode(f, VUB_KICK_POLLED), 0);
	assert_int_equal(vf_get_vring_base(f, VF_TX), 0);
	assert_int_equal(vf_setup_ring(f, VF_TX, VF_RING_SIZE), 0);
	assert_int_equal(f->ring[VF_TX].used->flags, VU_USED_F_NO_NOTIFY);
	close_dev(f);
}

/* The driver's used position as a packed event offset and wrap counter, n ahead. */
static uint16_t
packed_used_event(const struct vu_packed_ring *r, uint16_t n)
{
	uint16_t pos = (uint16_t)(r->used_idx + n);
	bool wrap = r->used_wrap;

	if (pos >= r->size) {
		pos = (uint16_t)(pos - r->size);
		wrap = !wrap;
	}
	return vu_packed_ring_base(pos, wrap);
}

/* Packed, EVENT_IDX: RING_EVENT_FLAGS_DESC calls exactly when the descriptor at the
 * driver's offset and wrap counter is used; ENABLE always, DISABLE never. Over the ring's
 * wrap (the counter flips twice in 20 frames). */
static void
test_packed_driver_event(void **state)
{
	struct vf *f = open_dev(PACKED | EVENT_IDX, 0);
	struct vu_packed_ring *r = &f->pring[VF_TX];

	(void)state;
	r->driver_event->flags = VU_RING_EVENT_FLAGS_DESC;
	for (unsigned int i = 0; i < NFRAMES; i++) {
		bool wanted = i % 3 == 0;

		r->driver_event->off_wrap = packed_used_event(r, wanted ? 0 : 1);
		vf_post_tx(f, frame, FRAME_LEN);
		take_burst(f, 1);
		assert_int_equal(calls(f, VF_TX), wanted ? 1 : 0);
		reap(f, VF_TX, 1);
	}
	for (unsigned int off = 0; off <= BATCH; off++) {
		r->driver_event->off_wrap = packed_used_event(r, (uint16_t)off);
		for (unsigned int i = 0; i < BATCH; i++)
			vf_post_tx(f, frame, FRAME_LEN);
		take_burst(f, BATCH);
		assert_int_equal(calls(f, VF_TX), off < BATCH ? 1 : 0);
		reap(f, VF_TX, BATCH);
	}
	/* The wrap counter matters: the same offset a lap later is not this one. */
	r->driver_event->off_wrap = packed_used_event(r, VF_RING_SIZE);
	vf_post_tx(f, frame, FRAME_LEN);
	take_burst(f, 1);
	assert_int_equal(calls(f, VF_TX), 0);
	reap(f, VF_TX, 1);
	r->driver_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
	vf_post_tx(f, frame, FRAME_LEN);
	take_burst(f, 1);
	assert_int_equal(calls(f, VF_TX), 0);
	reap(f, VF_TX, 1);
	r->driver_event->flags = VU_RING_EVENT_FLAGS_ENABLE;
	vf_post_tx(f, frame, FRAME_LEN);
	take_burst(f, 1);
	assert_int_equal(calls(f, VF_TX), 1);
	reap(f, VF_TX, 1);
	close_dev(f);
}

/* Packed: polled is DISABLE; notify is DESC at the device's next descriptor and wrap
 * counter with EVENT_IDX, ENABLE without. After a lap, so the wrap bit is 0. */
static void
packed_kicks(bool event_idx)
{
	struct vf *f = open_dev(PACKED | (event_idx ? EVENT_IDX : 0), 0);
	struct vu_packed_ring *r = &f->pring[VF_TX];
	const unsigned int n = VF_RING_SIZE + 2;

	assert_int_equal(r->device_event->flags, VU_RING_EVENT_FLAGS_DISABLE);
	for (unsigned int i = 0; i < n; i++) {
		vf_post_tx(f, frame, FRAME_LEN);
		take_burst(f, 1);
		reap(f, VF_TX, 1);
	}
	assert_int_equal(kick_mode(f, VUB_KICK_NOTIFY), 0);
	if (event_idx) {
		assert_int_equal(r->device_event->flags, VU_RING_EVENT_FLAGS_DESC);
		assert_int_equal(r->device_event->off_wrap, vu_packed_ring_base(2, false));
		assert_int_equal(r->device_event->off_wrap,
				 vu_packed_ring_base(r->avail_idx, r->avail_wrap));
	} else {
		assert_int_equal(r->device_event->flags, VU_RING_EVENT_FLAGS_ENABLE);
	}
	vf_post_tx(f, frame, FRAME_LEN);
	assert_int_equal(kick_mode(f, VUB_KICK_NOTIFY), 1);
	take_burst(f, 1);
	reap(f, VF_TX, 1);
	assert_int_equal(kick_mode(f, VUB_KICK_POLLED), 0);
	assert_int_equal(r->device_event->flags, VU_RING_EVENT_FLAGS_DISABLE);
	close_dev(f);
}

static void
test_packed_kicks_event_idx(void **state)
{
	(void)state;
	packed_kicks(true);
}

static void
test_packed_kicks_flags(void **state)
{
	(void)state;
	packed_kicks(false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_used_event),
		cmocka_unit_test(test_split_no_interrupt),
		cmocka_unit_test(test_split_kicks_event_idx),
		cmocka_unit_test(test_split_kicks_flags),
		cmocka_unit_test(test_kick_mode_survives_restart),
		cmocka_unit_test(test_packed_driver_event),
		cmocka_unit_test(test_packed_kicks_event_idx),
		cmocka_unit_test(test_packed_kicks_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
