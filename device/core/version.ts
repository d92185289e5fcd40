/**
 * The firmware version of this build. esbuild replaces TETHER_FIRMWARE_VERSION with a string
 * literal (`npm run build:xs -- --define:TETHER_FIRMWARE_VERSION='"1.2.3"'`); unbundled runs
 * (tests) see the development version.
 */
declare const TETHER_FIRMWARE_VERSION: string | undefined;

export const DEV_VERSION = "0.1.0-dev";

export const FIRMWARE_VERSION: string = typeof TETHER_FIRMWARE_VERSION === "string" ? TETHER_FIRMWARE_VERSION : DEV_VERSION;
