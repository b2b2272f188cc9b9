#ifndef RAW_LMDB_H
#define RAW_LMDB_H

#include <stdint.h>

/* Plain-C LMDB baselines for the LogStore benchmark. Every function opens a fresh environment
 * in `dir` (which must exist and be empty) with the settings LogStore uses -- durable commits
 * (no MDB_NOSYNC / MDB_NOMETASYNC / MDB_WRITEMAP), MDB_NOTLS, named databases, keys big-endian
 * u64, MDB_APPEND for log appends -- does the work, closes the environment and returns the
 * elapsed wall-clock seconds of the timed part (open, prefill and close excluded), or a
 * negative number on failure (an error is printed to stderr). The caller removes `dir`. */

/* (a) One mdb_put of `record_size` bytes per record, one durable commit per
 * `records_per_commit` records. */
double raw_append_per_record(const char *dir, int64_t records, int32_t record_size, int32_t records_per_commit);

/* (b) Per commit ONE mdb_put of the batch's concatenated bytes: 61 + records_per_commit *
 * (record_size + 10) bytes, about what LogStore stores for a Kafka record batch v2 of
 * `records_per_commit` records of `record_size`-byte values. */
double raw_append_per_batch(const char *dir, int64_t records, int32_t record_size, int32_t records_per_commit);

/* The byte size of the value that raw_append_per_batch stores per commit. */
int64_t raw_batch_value_size(int32_t record_size, int32_t records_per_commit);

/* (c) The payment-consumer step. Untimed prefill: a log database of `records` values of
 * `record_size` bytes (value = raw_fill_result_value) and an orders table with one 64-byte
 * order per record (key = raw_order_id(i), value = raw_fill_order). Timed: per batch of
 * `per_commit` records, one write transaction that reads the batch from the log with a
 * cursor and for each record reads its order, overwrites it (applied-status bitmask), appends
 * a 48-byte history row and a 96-byte outbox row (keys big-endian u64 = the record's offset,
 * MDB_APPEND), then puts the group's offset record; one durable commit per batch. */
double raw_consume_step(const char *dir, int64_t records, int32_t record_size, int32_t per_commit);

/* Shared data layouts, so the Swift side writes byte-identical data. */
#define RAW_ORDER_ID_SIZE 16
#define RAW_ORDER_SIZE 64
#define RAW_HISTORY_SIZE 48
#define RAW_OUTBOX_SIZE 96

/* A 16-byte time-ordered id (UUIDv7-like): 48-bit big-endian milliseconds, a 16-bit counter
 * (version 7 nibble), 8 pseudo-random bytes. Ids of increasing i sort increasingly. */
void raw_order_id(int64_t i, uint8_t out[RAW_ORDER_ID_SIZE]);
/* The payment result for order i: id, status, amount, then filler up to `size` bytes. */
void raw_fill_result_value(int64_t i, uint8_t *out, int32_t size);
/* The order record as created (before any result is applied). */
void raw_fill_order(int64_t i, uint8_t out[RAW_ORDER_SIZE]);
/* Applies a result (status byte `status`, at time `now_ms`) to an order record in place;
 * returns 0 if that status had already been applied (idempotent no-op), 1 otherwise. */
int raw_apply_result(uint8_t order[RAW_ORDER_SIZE], uint8_t status, int64_t now_ms);
/* The history and outbox rows for a result applied to an order. */
void raw_fill_history(const uint8_t id[RAW_ORDER_ID_SIZE], uint8_t status, int64_t amount, int64_t now_ms,
                      uint8_t out[RAW_HISTORY_SIZE]);
void raw_fill_outbox(const uint8_t id[RAW_ORDER_ID_SIZE], uint8_t status, int64_t amount, int64_t now_ms,
                     int64_t offset, uint8_t out[RAW_OUTBOX_SIZE]);

/* Wall clock in milliseconds since the epoch. */
int64_t raw_now_ms(void);

#endif
