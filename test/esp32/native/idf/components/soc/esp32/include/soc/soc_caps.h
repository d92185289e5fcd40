/* Stub of ESP-IDF v6.0 components/soc/esp32/include/soc/soc_caps.h (esp_ota_ops.h includes it). */
#pragma once
