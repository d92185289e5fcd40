/* Stub of ESP-IDF v6.0 components/esp_common/include/esp_err.h: only what tether-esp.c uses. */
#pragma once
#include <stdint.h>
typedef int esp_err_t;
#define ESP_OK 0
#define ESP_FAIL -1
const char *esp_err_to_name(esp_err_t code);
