/*
 * Client authentication: chunkd sends a fresh random nonce with each
 * connection (rdma_cm accept private data); the client answers in HELLO
 * with HMAC-SHA256(secret, nonce || name). A fresh nonce per connection
 * makes a recorded answer useless on another one. libsodium does the
 * cryptography; the comparison is constant-time.
 */
#ifndef CHUNKD_PROTO_AUTH_H
#define CHUNKD_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Initializes libsodium; returns 0 or -1. Safe to call more than once. */
int auth_init(void);

/* Fills nonce with PROTO_NONCE_LEN random bytes. */
void auth_new_nonce(uint8_t nonce[PROTO_NONCE_LEN]);

/* The answer to nonce for a client called name holding secret. */
void auth_answer(const void *secret, size_t secret_len,
		 const uint8_t nonce[PROTO_NONCE_LEN], const char *name,
		 uint8_t mac[PROTO_MAC_LEN]);

/* Whether mac is the right answer (constant-time). */
bool auth_check(const void *secret, size_t secret_len,
		const uint8_t nonce[PROTO_NONCE_LEN], const char *name,
		const uint8_t mac[PROTO_MAC_LEN]);

#endif
