/* Stub of ESP-IDF v6.0 components/esp_blockdev/include/esp_blockdev.h (esp_partition.h includes it). */
#pragma once
