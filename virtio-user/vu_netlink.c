/* SPDX-License-Identifier: BSD-3-Clause */
/* Link settings over rtnetlink with libnl-3 route (rtnl_link): no shelling out to ip(8). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "vu_log.h"
#include "vu_netlink.h"

/* libnl reports -NLE_* codes; callers of this library get errnos. */
static int
vu_nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
	case NLE_RANGE:
		return -EINVAL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOACCESS:
	case NLE_PERM:
		return -EPERM;
	case NLE_AGAIN:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

static struct nl_sock *
vu_nl_connect(const char *who, const char *ifname, const char *what)
{
	struct nl_sock *sock = nl_socket_alloc();
	int err;

	if (!sock) {
		VU_ERR("%s: link %s: %s: cannot allocate a netlink socket", who, ifname, what);
		return NULL;
	}
	err = nl_connect(sock, NETLINK_ROUTE);
	if (err < 0) {
		VU_ERR("%s: link %s: %s: cannot connect to rtnetlink: %s", who, ifname, what,
		       nl_geterror(err));
		nl_socket_free(sock);
		return NULL;
	}
	return sock;
}

/* Fill `change` with one new attribute, described by `what` in log lines. */
typedef int (*vu_link_edit_fn)(struct rtnl_link *change, const void *arg);

static int
vu_link_change(const char *who, const char *ifname, const char *what, vu_link_edit_fn edit,
	       const void *arg)
{
	struct rtnl_link *link = NULL;
	struct rtnl_link *change = NULL;
	struct nl_sock *sock;
	int err;

	sock = vu_nl_connect(who, ifname, what);
	if (!sock)
		return -ENOMEM;
	err = rtnl_link_get_kernel(sock, 0, ifname, &link);
	if (err < 0) {
		VU_ERR("%s: link %s: %s: %s", who, ifname, what, nl_geterror(err));
		goto out;
	}
	change = rtnl_link_alloc();
	if (!change) {
		err = -NLE_NOMEM;
		goto out;
	}
	err = edit(change, arg);
	if (err == 0)
		err = rtnl_link_change(sock, link, change, 0);
	if (err < 0)
		VU_ERR("%s: link %s: %s: %s", who, ifname, what, nl_geterror(err));
out:
	rtnl_link_put(change);
	rtnl_link_put(link);
	nl_socket_free(sock);
	return err < 0 ? vu_nl_errno(err) : 0;
}

static int
vu_link_edit_mac(struct rtnl_link *change, const void *arg)
{
	struct nl_addr *addr = nl_addr_build(AF_LLC, arg, 6);

	if (!addr)
		return -NLE_NOMEM;
	rtnl_link_set_addr(change, addr);
	nl_addr_put(addr); /* the link holds its own reference */
	return 0;
}

int
vu_link_set_mac(const char *who, const char *ifname, const uint8_t mac[6])
{
	char what[48];

	snprintf(what, sizeof(what), "set MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return vu_link_change(who, ifname, what, vu_link_edit_mac, mac);
}

static int
vu_link_edit_mtu(struct rtnl_link *change, const void *arg)
{
	rtnl_link_set_mtu(change, *(const uint32_t *)arg);
	return 0;
}

int
vu_link_set_mtu(const char *who, const char *ifname, uint32_t mtu)
{
	char what[40];

	snprintf(what, sizeof(what), "set MTU %u", mtu);
	return vu_link_change(who, ifname, what, vu_link_edit_mtu, &mtu);
}

static int
vu_link_edit_up(struct rtnl_link *change, const void *arg)
{
	if (*(const bool *)arg)
		rtnl_link_set_flags(change, IFF_UP);
	else
		rtnl_link_unset_flags(change, IFF_UP);
	return 0;
}

int
vu_link_set_up(const char *who, const char *ifname, bool up)
{
	return vu_link_change(who, ifname, up ? "set up" : "set down", vu_link_edit_up, &up);
}
