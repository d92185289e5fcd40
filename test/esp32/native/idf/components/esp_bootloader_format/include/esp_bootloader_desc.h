/* Stub of ESP-IDF v6.0 components/esp_bootloader_format/include/esp_bootloader_desc.h (esp_ota_ops.h includes it). */
#pragma once
#include "esp_err.h"
