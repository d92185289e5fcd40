/**
 * Pulls in the @moddable/typings 5.6.0 declarations the adapters use. The package's
 * package.json lists "types" as an array, which TypeScript cannot load through
 * compilerOptions.types, so tsconfig.moddable.json references the files from here.
 */
/// <reference path="../../node_modules/@moddable/typings/xs.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/time.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/preference.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/net.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/socket.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/securesocket.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/sntp.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/wifi.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/Resource.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/mc/config.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/_common.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/analog.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/socket/tcp.d.ts" />
