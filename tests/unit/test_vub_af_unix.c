/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's AF_UNIX transport: server and client mode, one frontend at a time. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vu_vhost_user_msg.h"
#include "vub.h"
#include "vub_transport.h"

#define WAIT_MS 3000
#define IO_MS 1000

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct env {
	char dir[SUN_PATH_MAX];
	char path[SUN_PATH_MAX];
	struct vub_dev *dev;
};

static void
set_sun_path(struct sockaddr_un *sa, const char *path)
{
	assert_true(strlen(path) < sizeof(sa->sun_path));
	memcpy(sa->sun_path, path, strlen(path) + 1);
}

static int
setup(void **state)
{
	static struct env e;

	tu_log_capture();
	memset(&e, 0, sizeof(e));
	assert_non_null(tu_mkdtemp(e.dir, sizeof(e.dir)));
	assert_true(strlen(e.dir) + sizeof("/vub.sock") <= sizeof(e.path));
	strcpy(e.path, e.dir);
	strcat(e.path, "/vub.sock");
	*state = &e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	vub_dev_destroy(e->dev);
	unlink(e->path);
	rmdir(e->dir);
	return 0;
}

static int
dev_open(struct env *e, bool client)
{
	struct vub_af_unix_params ap = {
		.name = "vub-ut", .path = e->path, .client = client, .fd = -1
	};
	struct vub_dev_params dp = { .name = "vub-ut", .queue_pairs = 1 };
	struct vub_transport *t;

	assert_int_equal(vub_af_unix_create(&ap, &t), 0);
	assert_int_equal(vub_dev_create(&dp, t, &e->dev), 0);
	return vub_dev_start(e->dev);
}

/* Run the device until cond holds, waking on its event fd; false after WAIT_MS. */
static bool
run_until(struct vub_dev *dev, bool (*cond)(struct vub_dev *dev))
{
	int64_t deadline = tu_now_ms() + WAIT_MS;

	while (!cond(dev)) {
		struct pollfd p = { .fd = vub_dev_event_fd(dev), .events = POLLIN };
		int64_t left = deadline - tu_now_ms();

		if (left <= 0)
			return false;
		poll(&p, 1, (int)left);
		assert_int_equal(vub_dev_process(dev), 0);
	}
	return true;
}

static bool
is_connected(struct vub_dev *dev)
{
	return vub_dev_connected(dev);
}

static bool
is_disconnected(struct vub_dev *dev)
{
	return !vub_dev_connected(dev);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	set_sun_path(&sa, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The device answers GET_QUEUE_NUM on sock. */
static void
assert_served(struct vub_dev *dev, int sock)
{
	struct vu_vhost_msg msg, reply;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_QUEUE_NUM, 0);
	assert_int_equal(vu_vhost_msg_send(sock, &msg, IO_MS), 0);
	assert_int_equal(vub_dev_process(dev), 0);
	assert_int_equal(vu_vhost_msg_recv(sock, &reply, IO_MS), 0);
	assert_int_equal(reply.payload.u64, 1);
}

/* Server mode: one frontend at a time; a second is closed at once; after the first
 * leaves, the next one is served. */
static void
test_server(void **state)
{
	struct env *e = *state;
	struct vu_vhost_msg msg;
	struct stat st;
	int a, b, c;

	assert_int_equal(dev_open(e, false), 0);
	assert_int_equal(stat(e->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	a = connect_to(e->path);
	assert_true(run_until(e->dev, is_connected));
	assert_served(e->dev, a);
	b = connect_to(e->path);
	assert_int_equal(vub_dev_process(e->dev), 0);
	assert_int_equal(vu_vhost_msg_recv(b, &msg, IO_MS), -ECONNRESET);
	assert_true(strstr(tu_log_last_error(), "a second frontend connected"));
	assert_served(e->dev, a);
	close(a);
	assert_true(run_until(e->dev, is_disconnected));
	c = connect_to(e->path);
	assert_true(run_until(e->dev, is_connected));
	assert_served(e->dev, c);
	close(b);
	close(c);
	vub_dev_destroy(e->dev);
	e->dev = NULL;
	/* The socket file goes with the device. */
	assert_int_equal(stat(e->path, &st), -1);
}

/* A socket file nobody listens on is replaced; a regular file is not. */
static void
test_server_stale_path(void **state)
{
	struct env *e = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	set_sun_path(&sa, e->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(dev_open(e, false), 0);
	vub_dev_destroy(e->dev);
	e->dev = NULL;
	fd = open(e->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	tu_log_reset();
	assert_int_equal(dev_open(e, false), -EEXIST);
	assert_true(strstr(tu_log_last_error(), "is not a UNIX socket"));
}

/* A second device on a path another one listens on is refused. */
static void
test_server_path_in_use(void **state)
{
	struct env *e = *state;
	struct vub_dev *first;

	assert_int_equal(dev_open(e, false), 0);
	first = e->dev;
	assert_int_equal(dev_open(e, false), -EADDRINUSE);
	assert_true(strstr(tu_log_last_error(), "another process is listening"));
	vub_dev_destroy(e->dev);
	e->dev = first;
}

static int
listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	set_sun_path(&sa, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/* Client mode: the frontend's socket appears later; the device connects within a
 * reconnect period, and again after the frontend leaves. */
static void
test_client_reconnects(void **state)
{
	struct env *e = *state;
	int lfd, a, b;

	assert_int_equal(dev_open(e, true), 0);
	assert_false(vub_dev_connected(e->dev));
	lfd = listen_on(e->path);
	assert_true(run_until(e->dev, is_connected));
	a = accept(lfd, NULL, NULL);
	assert_true(a >= 0);
	assert_served(e->dev, a);
	close(a);
	assert_true(run_until(e->dev, is_disconnected));
	assert_true(run_until(e->dev, is_connected));
	b = accept(lfd, NULL, NULL);
	assert_served(e->dev, b);
	close(b);
	close(lfd);
	assert_int_equal(tu_log_errors(), 0);
}

static void
test_path_too_long(void **state)
{
	char path[200];
	struct vub_af_unix_params ap = { .name = "vub-ut", .path = path, .fd = -1 };
	struct vub_transport *t;

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(vub_af_unix_create(&ap, &t), -ENAMETOOLONG);
	assert_true(strstr(tu_log_last_error(), "socket path must be 1 to 107 bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_stale_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_path_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_reconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
