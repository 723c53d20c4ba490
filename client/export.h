/*
 * Marks the definitions that libchunkclient exports. The library is built
 * with -fvisibility=hidden and a version script (chunkclient.map); both must
 * agree for a symbol to be public.
 */
#ifndef CHUNKD_CLIENT_EXPORT_H
#define CHUNKD_CLIENT_EXPORT_H

#define CHUNK_EXPORT __attribute__((visibility("default")))

#endif
