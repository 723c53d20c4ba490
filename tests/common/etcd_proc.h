/* A 3-member etcd for tests that run chunkd in cluster mode inside the
 * guest, started and stopped with deploy/etcd-cluster.sh. */
#ifndef CHUNKD_TESTS_ETCD_PROC_H
#define CHUNKD_TESTS_ETCD_PROC_H

#include <stddef.h>

/* Starts it with its data in /dev/shm/chunkd-NAME-etcd-PID (into dir) and
 * its client ports from port; fills endpoints (len bytes). script is
 * deploy/etcd-cluster.sh. Fails the running test if it does not start. */
void etcd_proc_start(const char *script, const char *name, int port, char *dir,
		     size_t dir_len, char *endpoints, size_t len);

/* The etcd ctest started for every case that requires its fixture "etcd"
 * (tests/CMakeLists.txt): copies its endpoints, CHUNKD_TEST_ETCD, into
 * endpoints (len bytes), or fails the running test if none is set. Cases
 * on it keep to keys of their own (a prefix with their PID). */
void etcd_proc_shared(char *endpoints, size_t len);

/* Stops what etcd_proc_start started in dir. */
void etcd_proc_stop(const char *script, const char *dir);

#endif
