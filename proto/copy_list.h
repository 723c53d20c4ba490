/*
 * The copy list inside PLACED and COPIES (msg.h): the servers, and the
 * ids there, of a replicated chunk's copies. Private to proto/.
 */
#ifndef CHUNKD_PROTO_COPY_LIST_H
#define CHUNKD_PROTO_COPY_LIST_H

#include <stdint.h>

#include "msg.h"

#define COPY_LIST_FIXED_LEN  2u	 /* u8 count, u8 0 */
#define COPY_ENTRY_FIXED_LEN 12u /* u64 id, u16 port, u8 length, u8 0 */

/* The list's length on the wire, or -1 when it cannot be sent (more than
 * max copies, an address too long). */
int copy_list_wire_len(const struct proto_copy_list *l, unsigned max);

/* Writes l (valid by copy_list_wire_len) at b. */
void copy_list_put(const struct proto_copy_list *l, uint8_t *b);

/* Reads a list of at most max copies that fills exactly len bytes at b;
 * -EBADMSG otherwise. */
int copy_list_get(const uint8_t *b, uint32_t len, unsigned max,
		  struct proto_copy_list *l);

#endif
