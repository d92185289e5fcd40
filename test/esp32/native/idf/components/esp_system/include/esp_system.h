/* Stub of ESP-IDF v6.0 components/esp_system/include/esp_system.h: esp_reset_reason(). */
#pragma once
#include <stdint.h>
#include "esp_err.h"
typedef enum {
	ESP_RST_UNKNOWN,
	ESP_RST_POWERON,
	ESP_RST_EXT,
	ESP_RST_SW,
	ESP_RST_PANIC,
	ESP_RST_INT_WDT,
	ESP_RST_TASK_WDT,
	ESP_RST_WDT,
} esp_reset_reason_t;
esp_reset_reason_t esp_reset_reason(void);
