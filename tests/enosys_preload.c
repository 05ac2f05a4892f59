// SPDX-License-Identifier: Apache-2.0
/* Simulates a kernel before 5.11, where epoll_pwait2 does not exist: preloaded
 * (LD_PRELOAD) into a test binary, it answers every epoll_pwait2 call with ENOSYS, as
 * glibc does on such a kernel. Lets CI test the poller's epoll_wait fallback. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>

int epoll_pwait2(int epfd, struct epoll_event* events, int maxevents,
                 const struct timespec* timeout, const sigset_t* sigmask) {
  (void)epfd;
  (void)events;
  (void)maxevents;
  (void)timeout;
  (void)sigmask;
  errno = ENOSYS;
  return -1;
}
