/**
 * The flash layout virtual devices use: the same partitions, sizes and block size as
 * manifests/partitions.csv on a 4 MB ESP32 (a test keeps the two in step).
 */
import type { PartitionLayout } from "./virtual/flash";

export const FLASH_BLOCK_SIZE = 4096;

export const ESP32_4MB_LAYOUT: PartitionLayout[] = [
  { name: "otadata", size: 0x2000 },
  { name: "ota_0", size: 0x1f0000 },
  { name: "ota_1", size: 0x1f0000 },
];
