#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>
#define CRC32C_HAVE_X86 1
#elif defined(__aarch64__)
#define CRC32C_HAVE_ARM64 1
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#endif

/* Reflected Castagnoli polynomial. */
#define CRC32C_POLY 0x82F63B78u

/* table[k][b] is the CRC contribution of byte b followed by k zero bytes,
   which lets the portable loop fold eight input bytes per iteration. */
static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void crc32c_build_table(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (crc >> 1) ^ CRC32C_POLY : crc >> 1;
        }
        crc32c_table[0][byte] = crc;
    }
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = crc32c_table[0][byte];
        for (int k = 1; k < 8; k++) {
            crc = crc32c_table[0][crc & 0xFF] ^ (crc >> 8);
            crc32c_table[k][byte] = crc;
        }
    }
}

/* Built lazily (8 KiB, a few microseconds) so hosts with hardware CRC never
   pay for it; pthread_once makes the first concurrent calls race-free. */
static void crc32c_ensure_table(void) {
    pthread_once(&crc32c_table_once, crc32c_build_table);
}

static inline uint64_t crc32c_load_le64(const unsigned char *p) {
    uint64_t word;
    memcpy(&word, p, sizeof word);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    word = __builtin_bswap64(word);
#endif
    return word;
}

uint32_t crc32c_extend_portable(uint32_t crc, const void *data, size_t length) {
    crc32c_ensure_table();
    const unsigned char *p = (const unsigned char *)data;
    uint32_t state = ~crc;
    while (length >= 8) {
        uint64_t word = crc32c_load_le64(p) ^ state;
        state = crc32c_table[7][word & 0xFF] ^
                crc32c_table[6][(word >> 8) & 0xFF] ^
                crc32c_table[5][(word >> 16) & 0xFF] ^
                crc32c_table[4][(word >> 24) & 0xFF] ^
                crc32c_table[3][(word >> 32) & 0xFF] ^
                crc32c_table[2][(word >> 40) & 0xFF] ^
                crc32c_table[1][(word >> 48) & 0xFF] ^
                crc32c_table[0][word >> 56];
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        state = crc32c_table[0][(state ^ *p) & 0xFF] ^ (state >> 8);
        p++;
        length--;
    }
    return ~state;
}

#if CRC32C_HAVE_X86
__attribute__((target("sse4.2")))
static uint32_t crc32c_extend_sse42(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t state = (uint32_t)~crc;
    while (length > 0 && ((uintptr_t)p & 7) != 0) {
        state = _mm_crc32_u8((uint32_t)state, *p);
        p++;
        length--;
    }
    /* Three independent streams would hide the instruction's 3-cycle latency,
       but merging them needs a shift table; batches are small enough that the
       single stream (about 8 bytes per 3 cycles) is not the bottleneck. */
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        state = _mm_crc32_u64(state, word);
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        state = _mm_crc32_u8((uint32_t)state, *p);
        p++;
        length--;
    }
    return ~(uint32_t)state;
}

static int crc32c_cpu_has_sse42(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}
#endif

#if CRC32C_HAVE_ARM64
#if defined(__ARM_FEATURE_CRC32)
#define CRC32C_ARM_TARGET
#else
#define CRC32C_ARM_TARGET __attribute__((target("crc")))
#endif

CRC32C_ARM_TARGET
static uint32_t crc32c_extend_armv8(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    uint32_t state = ~crc;
    while (length > 0 && ((uintptr_t)p & 7) != 0) {
        state = __crc32cb(state, *p);
        p++;
        length--;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        state = __crc32cd(state, word);
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        state = __crc32cb(state, *p);
        p++;
        length--;
    }
    return ~state;
}

static int crc32c_cpu_has_armv8_crc(void) {
#if defined(__ARM_FEATURE_CRC32)
    return 1;
#elif defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) ? 1 : 0;
#else
    return 0;
#endif
}
#endif

/* 0 = not yet probed, 1 = hardware, 2 = portable. Probing twice is harmless,
   so a relaxed atomic is enough to cache the answer. */
static int crc32c_implementation;

static int crc32c_choose_implementation(void) {
    int choice = 2;
#if CRC32C_HAVE_X86
    if (crc32c_cpu_has_sse42()) {
        choice = 1;
    }
#elif CRC32C_HAVE_ARM64
    if (crc32c_cpu_has_armv8_crc()) {
        choice = 1;
    }
#endif
    __atomic_store_n(&crc32c_implementation, choice, __ATOMIC_RELAXED);
    return choice;
}

static inline int crc32c_current_implementation(void) {
    int choice = __atomic_load_n(&crc32c_implementation, __ATOMIC_RELAXED);
    return choice != 0 ? choice : crc32c_choose_implementation();
}

int crc32c_hardware_available(void) {
    return crc32c_current_implementation() == 1;
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t length) {
    int choice = crc32c_current_implementation();
#if CRC32C_HAVE_X86
    if (choice == 1) {
        return crc32c_extend_sse42(crc, data, length);
    }
#elif CRC32C_HAVE_ARM64
    if (choice == 1) {
        return crc32c_extend_armv8(crc, data, length);
    }
#endif
    return crc32c_extend_portable(crc, data, length);
}
