// The globals a device inside XS must not see (host-sim/xs/device-runtime.ts deletes them). Node-free.

/**
 * Globals of xsnap (XS 13.3, xsnap.c / xsnap-worker.c xsBuildAgent) that Moddable's runtime
 * does not define: Moddable's XS core builds the ECMAScript globals and `trace` (xsGlobal.c);
 * `harden` is defined only by xsnap and xst; text codecs and base64 are modules on Moddable.
 * The host functions are kept privately below before they are deleted.
 */
export const MODDABLE_MISSING = [
  "TextEncoder",
  "TextDecoder",
  "Base64",
  "harden",
  "setImmediate",
  "gc",
  "print",
  "performance",
  "currentMeterLimit",
  "resetMeter",
  "issueCommand",
] as const;
