/* SPDX-License-Identifier: BSD-3-Clause */
/* ioctl() of a binary linked with -Wl,--wrap=ioctl, handed whole to the fake kernel. */
#include <stdarg.h>

#include "fake_kernel.h"

int __wrap_ioctl(int fd, unsigned long request, ...);

/* fk_ioctl() answers vhost (and, unless fk.real_tun, TUN) requests itself and passes
 * every other request to the real ioctl(). */
int
__wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fk_ioctl(fd, request, arg);
}
