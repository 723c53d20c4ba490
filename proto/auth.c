#include "auth.h"

#include <sodium.h>
#include <string.h>

int auth_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void auth_new_nonce(uint8_t nonce[PROTO_NONCE_LEN])
{
	randombytes_buf(nonce, PROTO_NONCE_LEN);
}

void auth_answer(const void *secret, size_t secret_len,
		 const uint8_t nonce[PROTO_NONCE_LEN], const char *name,
		 uint8_t mac[PROTO_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, secret, secret_len);
	crypto_auth_hmacsha256_update(&st, nonce, PROTO_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)name,
				      strlen(name));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

bool auth_check(const void *secret, size_t secret_len,
		const uint8_t nonce[PROTO_NONCE_LEN], const char *name,
		const uint8_t mac[PROTO_MAC_LEN])
{
	uint8_t want[PROTO_MAC_LEN];
	bool ok;

	auth_answer(secret, secret_len, nonce, name, want);
	ok = crypto_verify_32(want, mac) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}
