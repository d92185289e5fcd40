/*
 * tether-esp native binding (see tether-esp.js for the JS side).
 *
 * Moddable's embedded:update writes a slot and sets the boot partition but cannot confirm an
 * image, roll back, or read image state; this adds exactly those esp_ota_* calls plus
 * esp_reset_reason(). Errors are thrown as JS Errors carrying the esp_err_t name and its
 * number: the name needs CONFIG_ESP_ERR_TO_NAME_LOOKUP (our sdkconfig sets it; Moddable's base
 * turns it off, and then every name reads "UNKNOWN ERROR"), the number is always there.
 *
 * Includes: Moddable's make.esp32.mk puts $(IDF_PATH)/components and some components' include
 * directories on the path, but not components/app_update/include, so esp_ota_ops.h goes by its
 * component path, as the SDK's own modules write it (modules/io/update/esp32/update-esp32.c).
 */

#include "xsmc.h"
#include "xsHost.h"

#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_err.h"
#include "esp_flash_partitions.h"
#include "esp_rom_crc.h"
#include "sdkconfig.h"
#include "mc.defines.h"

/* manifests/esp32/manifest.json sets defines.tether.require_rollback: a build whose sdkconfig lost
   CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (esp-idf #7859: images would never roll back) fails here
   instead of shipping. */
#if defined(MODDEF_TETHER_REQUIRE_ROLLBACK) && MODDEF_TETHER_REQUIRE_ROLLBACK && !defined(CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE)
	#error "Tether: CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE is not set; check SDKCONFIGPATH in the manifest"
#endif

/* -1 tells JS "no state": rollback compiled out, or otadata has no entry for the slot. */
#define kTetherNoState (-1)
/* Each otadata entry starts a 4 KB flash sector (SPI_FLASH_SEC_SIZE, whose header moved between IDF versions). */
#define kOtadataSector (4096)

static void throwEspError(xsMachine *the, esp_err_t err)
{
	xsUnknownError("%s (0x%x)", esp_err_to_name(err), (unsigned)err);
}

static const esp_partition_t *slotPartition(xsMachine *the, int slot)
{
	if ((slot < 0) || (slot > 1))
		xsRangeError("slot must be 0 or 1");
	const esp_partition_t *partition = esp_partition_find_first(ESP_PARTITION_TYPE_APP,
		(esp_partition_subtype_t)(ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot), NULL);
	if (!partition)
		xsUnknownError("no such OTA partition");
	return partition;
}

void xs_tether_running_slot(xsMachine *the)
{
	const esp_partition_t *running = esp_ota_get_running_partition();
	/* OTA_MAX is one past ota_15: it equals ESP_PARTITION_SUBTYPE_APP_TEST, which is no OTA slot. */
	int slot = -1;
	if (running && (running->type == ESP_PARTITION_TYPE_APP) &&
		(running->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_MIN) && (running->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MAX))
		slot = running->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN;
	xsmcSetInteger(xsResult, slot);
}

void xs_tether_slot_state(xsMachine *the)
{
	const esp_partition_t *partition = slotPartition(the, xsmcToInteger(xsArg(0)));
	esp_ota_img_states_t state;
	int result = kTetherNoState;
	if ((ESP_OK == esp_ota_get_state_partition(partition, &state)) && (state != ESP_OTA_IMG_UNDEFINED))
		result = (int)state;
	xsmcSetInteger(xsResult, result);
}

/* otadata holds two esp_ota_select_entry_t records, one per flash sector; the newer one
   (higher ota_seq, valid CRC over ota_seq) is current. */
void xs_tether_record_seq(xsMachine *the)
{
	const esp_partition_t *otadata = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, NULL);
	if (!otadata)
		xsUnknownError("no otadata partition");
	uint32_t best = 0;
	for (int i = 0; i < 2; i++) {
		esp_ota_select_entry_t entry;
		if (ESP_OK != esp_partition_read(otadata, i * kOtadataSector, &entry, sizeof(entry)))
			xsUnknownError("otadata read failed");
		if ((entry.ota_seq == UINT32_MAX) || (entry.crc != esp_rom_crc32_le(UINT32_MAX, (const uint8_t *)&entry.ota_seq, 4)))
			continue;
		if (entry.ota_seq > best)
			best = entry.ota_seq;
	}
	xsmcSetNumber(xsResult, (xsNumberValue)best);
}

void xs_tether_rollback_enabled(xsMachine *the)
{
#ifdef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
	xsmcSetTrue(xsResult);
#else
	xsmcSetFalse(xsResult);
#endif
}

void xs_tether_set_boot_slot(xsMachine *the)
{
	const esp_partition_t *partition = slotPartition(the, xsmcToInteger(xsArg(0)));
	if (partition == esp_ota_get_running_partition())
		xsUnknownError("slot is running");
	/* Verifies the image (esp_image_verify) and writes otadata; the bootloader then boots it
	   as ESP_OTA_IMG_NEW -> PENDING_VERIFY when rollback is enabled. */
	esp_err_t err = esp_ota_set_boot_partition(partition);
	if (ESP_OK != err)
		throwEspError(the, err);
}

void xs_tether_mark_valid(xsMachine *the)
{
	esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
	if (ESP_OK != err)
		throwEspError(the, err);
}

void xs_tether_mark_invalid_and_reboot(xsMachine *the)
{
	/* Reboots on success; returns ESP_ERR_OTA_ROLLBACK_FAILED when no valid image remains. */
	esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
	throwEspError(the, err);
}

void xs_tether_reset_reason(xsMachine *the)
{
	xsmcSetInteger(xsResult, (xsIntegerValue)esp_reset_reason());
}
