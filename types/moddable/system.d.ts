/**
 * The `System` global installed by Moddable's ECMA-419 "system" module
 * (modules/io/system/system.js, included by modules/io/manifest.json; its members are
 * declared in @moddable/typings as "embedded:io/system"). We only need `restart()`.
 */
declare var System: {
  restart(): void;
};
