#include "raw_lmdb.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAP_SIZE ((size_t)8 << 30)
#define BATCH_OVERHEAD 61
#define RECORD_OVERHEAD 10

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t raw_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_be64(uint8_t *out, uint64_t v) {
    for (int i = 7; i >= 0; i--) { out[i] = (uint8_t)v; v >>= 8; }
}

static uint64_t get_be64(const uint8_t *in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | in[i];
    return v;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Orders are created 1000 per millisecond from a fixed epoch, so ids are deterministic. */
#define ID_EPOCH_MS 1767225600000ll

void raw_order_id(int64_t i, uint8_t out[RAW_ORDER_ID_SIZE]) {
    uint64_t ms = (uint64_t)(ID_EPOCH_MS + i / 1000);
    for (int k = 5; k >= 0; k--) { out[k] = (uint8_t)ms; ms >>= 8; }
    uint16_t counter = (uint16_t)(0x7000 | (i % 1000));
    out[6] = (uint8_t)(counter >> 8);
    out[7] = (uint8_t)counter;
    put_be64(out + 8, splitmix64((uint64_t)i));
}

void raw_fill_result_value(int64_t i, uint8_t *out, int32_t size) {
    uint8_t head[RAW_ORDER_ID_SIZE + 9];
    raw_order_id(i, head);
    head[16] = 2; /* status: captured */
    put_be64(head + 17, (uint64_t)(1000 + i % 100000)); /* amount in cents */
    int32_t n = size < (int32_t)sizeof head ? size : (int32_t)sizeof head;
    memcpy(out, head, (size_t)n);
    for (int32_t k = n; k < size; k++) out[k] = (uint8_t)('a' + (k + i) % 26);
}

void raw_fill_order(int64_t i, uint8_t out[RAW_ORDER_SIZE]) {
    memset(out, 0, RAW_ORDER_SIZE);
    out[0] = 1; /* layout version */
    put_be64(out + 1, (uint64_t)(1000 + i % 100000));
    put_be64(out + 9, (uint64_t)(ID_EPOCH_MS + i / 1000));
    out[17] = 1; /* applied statuses: created */
}

int raw_apply_result(uint8_t order[RAW_ORDER_SIZE], uint8_t status, int64_t now_ms) {
    uint8_t bit = (uint8_t)(1u << (status & 7));
    if (order[17] & bit) return 0;
    order[17] |= bit;
    order[18] = status;
    put_be64(order + 19, (uint64_t)now_ms);
    return 1;
}

void raw_fill_history(const uint8_t id[RAW_ORDER_ID_SIZE], uint8_t status, int64_t amount, int64_t now_ms,
                      uint8_t out[RAW_HISTORY_SIZE]) {
    memset(out, 0, RAW_HISTORY_SIZE);
    memcpy(out, id, RAW_ORDER_ID_SIZE);
    out[16] = status;
    put_be64(out + 17, (uint64_t)amount);
    put_be64(out + 25, (uint64_t)now_ms);
}

void raw_fill_outbox(const uint8_t id[RAW_ORDER_ID_SIZE], uint8_t status, int64_t amount, int64_t now_ms,
                     int64_t offset, uint8_t out[RAW_OUTBOX_SIZE]) {
    memset(out, 0, RAW_OUTBOX_SIZE);
    out[0] = 1; /* event type: payment status changed */
    memcpy(out + 1, id, RAW_ORDER_ID_SIZE);
    out[17] = status;
    put_be64(out + 18, (uint64_t)amount);
    put_be64(out + 26, (uint64_t)now_ms);
    put_be64(out + 34, (uint64_t)offset);
    memcpy(out + 42, "payment.status.changed", 22);
}

/* ---- environment helpers ---- */

#define CHECK(expr)                                                                      \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0) {                                                                  \
            fprintf(stderr, "raw_lmdb: %s failed: %s (%s:%d)\n", #expr, mdb_strerror(rc_), \
                    __FILE__, __LINE__);                                                 \
            goto fail;                                                                   \
        }                                                                                \
    } while (0)

static MDB_env *open_env(const char *dir) {
    MDB_env *env = NULL;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_maxdbs(env, 16));
    CHECK(mdb_env_set_mapsize(env, MAP_SIZE));
    /* Durable: no MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC or MDB_WRITEMAP. */
    CHECK(mdb_env_open(env, dir, MDB_NOTLS, 0644));
    return env;
fail:
    if (env) mdb_env_close(env);
    return NULL;
}

static int open_dbi(MDB_env *env, const char *name, MDB_dbi *dbi) {
    MDB_txn *txn = NULL;
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, name, MDB_CREATE, dbi));
    CHECK(mdb_txn_commit(txn));
    return 0;
fail:
    if (txn) mdb_txn_abort(txn);
    return -1;
}

/* ---- (a) and (b): appends ---- */

double raw_append_per_record(const char *dir, int64_t records, int32_t record_size, int32_t records_per_commit) {
    MDB_env *env = open_env(dir);
    if (!env) return -1;
    MDB_dbi dbi;
    MDB_txn *txn = NULL;
    double elapsed = -1;
    uint8_t *value = malloc((size_t)record_size);
    for (int32_t k = 0; k < record_size; k++) value[k] = (uint8_t)('a' + k % 26);
    if (open_dbi(env, "log", &dbi) != 0) goto fail;
    double start = now_seconds();
    int64_t offset = 0;
    while (offset < records) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (int32_t n = 0; n < records_per_commit && offset < records; n++, offset++) {
            uint8_t keybuf[8];
            put_be64(keybuf, (uint64_t)offset);
            MDB_val key = {8, keybuf}, data = {(size_t)record_size, value};
            CHECK(mdb_put(txn, dbi, &key, &data, MDB_APPEND));
        }
        CHECK(mdb_txn_commit(txn));
        txn = NULL;
    }
    elapsed = now_seconds() - start;
fail:
    if (txn) mdb_txn_abort(txn);
    free(value);
    mdb_env_close(env);
    return elapsed;
}

int64_t raw_batch_value_size(int32_t record_size, int32_t records_per_commit) {
    return BATCH_OVERHEAD + (int64_t)records_per_commit * (record_size + RECORD_OVERHEAD);
}

double raw_append_per_batch(const char *dir, int64_t records, int32_t record_size, int32_t records_per_commit) {
    MDB_env *env = open_env(dir);
    if (!env) return -1;
    MDB_dbi dbi;
    MDB_txn *txn = NULL;
    double elapsed = -1;
    size_t full = (size_t)raw_batch_value_size(record_size, records_per_commit);
    uint8_t *batch = malloc(full);
    for (size_t k = 0; k < full; k++) batch[k] = (uint8_t)('a' + k % 26);
    if (open_dbi(env, "log", &dbi) != 0) goto fail;
    double start = now_seconds();
    int64_t offset = 0;
    while (offset < records) {
        int64_t n = records - offset < records_per_commit ? records - offset : records_per_commit;
        uint8_t keybuf[8];
        put_be64(keybuf, (uint64_t)offset);
        MDB_val key = {8, keybuf}, data = {(size_t)raw_batch_value_size(record_size, (int32_t)n), batch};
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        CHECK(mdb_put(txn, dbi, &key, &data, MDB_APPEND));
        CHECK(mdb_txn_commit(txn));
        txn = NULL;
        offset += n;
    }
    elapsed = now_seconds() - start;
fail:
    if (txn) mdb_txn_abort(txn);
    free(batch);
    mdb_env_close(env);
    return elapsed;
}

/* ---- (c): the consumer step ---- */

double raw_consume_step(const char *dir, int64_t records, int32_t record_size, int32_t per_commit) {
    MDB_env *env = open_env(dir);
    if (!env) return -1;
    MDB_dbi logdb, orders, history, outbox, offsets;
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    double elapsed = -1;
    uint8_t *value = malloc((size_t)record_size);
    if (open_dbi(env, "log", &logdb) || open_dbi(env, "orders", &orders) || open_dbi(env, "history", &history) ||
        open_dbi(env, "outbox", &outbox) || open_dbi(env, "offsets", &offsets))
        goto fail;

    /* Untimed prefill: the log and the orders it refers to, 10,000 per commit. */
    for (int64_t i = 0; i < records;) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (int n = 0; n < 10000 && i < records; n++, i++) {
            uint8_t keybuf[8], id[RAW_ORDER_ID_SIZE], order[RAW_ORDER_SIZE];
            put_be64(keybuf, (uint64_t)i);
            raw_fill_result_value(i, value, record_size);
            MDB_val key = {8, keybuf}, data = {(size_t)record_size, value};
            CHECK(mdb_put(txn, logdb, &key, &data, MDB_APPEND));
            raw_order_id(i, id);
            raw_fill_order(i, order);
            MDB_val okey = {RAW_ORDER_ID_SIZE, id}, odata = {RAW_ORDER_SIZE, order};
            CHECK(mdb_put(txn, orders, &okey, &odata, MDB_APPEND));
        }
        CHECK(mdb_txn_commit(txn));
        txn = NULL;
    }

    static const char group_key[] = "payments-consumer\0payment-results\0\0\0\0\0";
    double start = now_seconds();
    int64_t next = 0;
    while (next < records) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        CHECK(mdb_cursor_open(txn, logdb, &cursor));
        uint8_t startkey[8];
        put_be64(startkey, (uint64_t)next);
        MDB_val key = {8, startkey}, data;
        int rc = mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE);
        int64_t now_ms = raw_now_ms();
        for (int32_t n = 0; n < per_commit && rc == 0; n++) {
            int64_t offset = (int64_t)get_be64(key.mv_data);
            const uint8_t *result = data.mv_data;
            uint8_t status = result[16];
            int64_t amount = (int64_t)get_be64(result + 17);
            MDB_val okey = {RAW_ORDER_ID_SIZE, (void *)result}, ovalue;
            CHECK(mdb_get(txn, orders, &okey, &ovalue));
            uint8_t order[RAW_ORDER_SIZE];
            memcpy(order, ovalue.mv_data, RAW_ORDER_SIZE);
            if (raw_apply_result(order, status, now_ms)) {
                uint8_t id[RAW_ORDER_ID_SIZE], seq[8], hist[RAW_HISTORY_SIZE], out[RAW_OUTBOX_SIZE];
                memcpy(id, result, RAW_ORDER_ID_SIZE);
                MDB_val idkey = {RAW_ORDER_ID_SIZE, id}, ordval = {RAW_ORDER_SIZE, order};
                CHECK(mdb_put(txn, orders, &idkey, &ordval, 0));
                put_be64(seq, (uint64_t)offset + 1);
                raw_fill_history(id, status, amount, now_ms, hist);
                MDB_val skey = {8, seq}, hval = {RAW_HISTORY_SIZE, hist};
                CHECK(mdb_put(txn, history, &skey, &hval, MDB_APPEND));
                raw_fill_outbox(id, status, amount, now_ms, offset, out);
                MDB_val skey2 = {8, seq}, outval = {RAW_OUTBOX_SIZE, out};
                CHECK(mdb_put(txn, outbox, &skey2, &outval, MDB_APPEND));
            }
            next = offset + 1;
            rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT);
        }
        if (rc != 0 && rc != MDB_NOTFOUND) CHECK(rc);
        mdb_cursor_close(cursor);
        cursor = NULL;
        uint8_t offval[16];
        put_be64(offval, (uint64_t)next);
        put_be64(offval + 8, (uint64_t)now_ms);
        MDB_val gkey = {sizeof group_key - 1, (void *)group_key}, gval = {16, offval};
        CHECK(mdb_put(txn, offsets, &gkey, &gval, 0));
        CHECK(mdb_txn_commit(txn));
        txn = NULL;
    }
    elapsed = now_seconds() - start;
fail:
    if (cursor) mdb_cursor_close(cursor);
    if (txn) mdb_txn_abort(txn);
    free(value);
    mdb_env_close(env);
    return elapsed;
}
