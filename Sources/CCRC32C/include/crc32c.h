#ifndef PAYNODE_CRC32C_H
#define PAYNODE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Extends a finished CRC-32C (Castagnoli) value with `length` more bytes.
///
/// Pass 0 to start; the pre- and post-inversion is applied internally, so
/// crc32c_extend(crc32c_extend(0, a, n), b, m) equals the CRC of a || b.
/// Uses SSE4.2 or ARMv8 CRC32 instructions when the CPU has them.
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t length);

/// The same function computed with slicing-by-8 tables only, never hardware.
/// Exposed so tests can check that the hardware path agrees with it.
uint32_t crc32c_extend_portable(uint32_t crc, const void *data, size_t length);

/// 1 when crc32c_extend uses CPU instructions (SSE4.2 or ARMv8 CRC32), else 0.
int crc32c_hardware_available(void);

#ifdef __cplusplus
}
#endif

#endif
