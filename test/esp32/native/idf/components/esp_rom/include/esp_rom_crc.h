/* Stub of ESP-IDF v6.0 components/esp_rom/include/esp_rom_crc.h. */
#pragma once
#include <stdint.h>
uint32_t esp_rom_crc32_le(uint32_t crc, uint8_t const *buf, uint32_t len);
