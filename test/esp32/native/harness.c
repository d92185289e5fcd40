/* Runs tether-esp.c's host functions against a scripted ESP-IDF (partitions, otadata, error
   returns) and prints one JSON line per case for native.test.ts. Compiled with the mock xsmc.h,
   the stub ESP-IDF tree and an sdkconfig.h generated from the modelled merge. */
#include <string.h>
#include "xsmc.h"
#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_rom_crc.h"
#include "sdkconfig.h"

void xs_tether_running_slot(xsMachine *the);
void xs_tether_record_seq(xsMachine *the);
void xs_tether_set_boot_slot(xsMachine *the);
void xs_tether_mark_invalid_and_reboot(xsMachine *the);
void xs_tether_rollback_enabled(xsMachine *the);

static esp_partition_t ota0 = { .type = ESP_PARTITION_TYPE_APP, .subtype = ESP_PARTITION_SUBTYPE_APP_OTA_0, .address = 0x20000, .label = "ota_0" };
static esp_partition_t ota1 = { .type = ESP_PARTITION_TYPE_APP, .subtype = ESP_PARTITION_SUBTYPE_APP_OTA_1, .address = 0x1E0000, .label = "ota_1" };
static esp_partition_t test = { .type = ESP_PARTITION_TYPE_APP, .subtype = ESP_PARTITION_SUBTYPE_APP_TEST, .label = "test" };
static esp_partition_t otadata = { .type = ESP_PARTITION_TYPE_DATA, .subtype = ESP_PARTITION_SUBTYPE_DATA_OTA, .label = "otadata" };
static const esp_partition_t *running = &ota0;
static esp_err_t nextError = ESP_OK;
static esp_ota_select_entry_t entries[2];

/* ESP-IDF v6.0 esp_err_to_name(): the table exists only with CONFIG_ESP_ERR_TO_NAME_LOOKUP (esp_err_to_msg.c). */
const char *esp_err_to_name(esp_err_t code)
{
#ifdef CONFIG_ESP_ERR_TO_NAME_LOOKUP
	if (code == ESP_ERR_OTA_ROLLBACK_FAILED) return "ESP_ERR_OTA_ROLLBACK_FAILED";
	if (code == ESP_ERR_OTA_VALIDATE_FAILED) return "ESP_ERR_OTA_VALIDATE_FAILED";
#endif
	(void)code;
	return "UNKNOWN ERROR";
}
const esp_partition_t *esp_partition_find_first(esp_partition_type_t type, esp_partition_subtype_t subtype, const char *label)
{
	(void)label;
	const esp_partition_t *all[] = { &ota0, &ota1, &test, &otadata };
	for (int i = 0; i < 4; i++)
		if ((all[i]->type == type) && (all[i]->subtype == subtype)) return all[i];
	return NULL;
}
esp_err_t esp_partition_read(const esp_partition_t *p, size_t offset, void *dst, size_t size)
{
	if ((p != &otadata) || (size > sizeof(entries[0]))) return ESP_FAIL;
	memcpy(dst, &entries[offset / 4096], size);
	return ESP_OK;
}
uint32_t esp_rom_crc32_le(uint32_t crc, uint8_t const *buf, uint32_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *buf++;
		for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
	}
	return ~crc;
}
const esp_partition_t *esp_ota_get_running_partition(void) { return running; }
esp_err_t esp_ota_set_boot_partition(const esp_partition_t *p) { (void)p; return nextError; }
esp_err_t esp_ota_get_state_partition(const esp_partition_t *p, esp_ota_img_states_t *s) { (void)p; *s = ESP_OTA_IMG_VALID; return ESP_OK; }
esp_err_t esp_ota_mark_app_valid_cancel_rollback(void) { return nextError; }
esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void) { return nextError; }
esp_reset_reason_t esp_reset_reason(void) { return ESP_RST_TASK_WDT; }

static void run(const char *name, void (*fn)(xsMachine *), int arg)
{
	xsMachine machine = { .args = { arg }, .resultKind = "none" };
	xsMachine *the = &machine;
	if (setjmp(the->jump) == 0) {
		fn(the);
		printf("{\"case\":\"%s\",\"%s\":%.0f}\n", name, the->resultKind, the->result);
	}
	else
		printf("{\"case\":\"%s\",\"error\":\"%s\"}\n", name, the->error);
}

static void entry(int i, uint32_t seq, int validCrc)
{
	memset(&entries[i], 0xFF, sizeof(entries[i]));
	entries[i].ota_seq = seq;
	entries[i].crc = esp_rom_crc32_le(UINT32_MAX, (const uint8_t *)&seq, 4) ^ (validCrc ? 0 : 1);
}

int main(void)
{
	running = &ota1;
	run("running-ota1", xs_tether_running_slot, 0);
	running = &test;
	run("running-test-app", xs_tether_running_slot, 0);
	running = &ota0;
	nextError = ESP_ERR_OTA_ROLLBACK_FAILED;
	run("rollback-failed", xs_tether_mark_invalid_and_reboot, 0);
	nextError = ESP_ERR_OTA_VALIDATE_FAILED;
	run("set-boot-invalid-image", xs_tether_set_boot_slot, 1);
	nextError = ESP_OK;
	run("set-boot-running", xs_tether_set_boot_slot, 0);
	run("set-boot-bad-slot", xs_tether_set_boot_slot, 2);
	entry(0, 7, 1);
	entry(1, 9, 0);
	run("record-seq-skips-bad-crc", xs_tether_record_seq, 0);
	run("rollback-enabled", xs_tether_rollback_enabled, 0);
	return 0;
}
