/**
 * What the fleet engine needs from firmware builds, without knowing how they were made:
 * slot images to factory-flash, signed OTA bundles to offer, and the code a booted image
 * runs, looked up by the image's appended SHA-256 (so every device running the same image
 * shares one loaded module, never its state). images.ts builds one on Node from real agent
 * builds. Node-free.
 */
import type { AgentConfig, AgentEvent } from "../../device/core/agent";
import type { Ports } from "../../device/ports";

/** A deliberately bad image: "crash" throws at start-up, "hang" never finishes starting. */
export type BadImage = "crash" | "hang";

/** The agent as the image exports it (device/core/index.ts). */
export interface AgentInstance {
  start(): void;
  stop(): void;
}
export type AgentConstructor = new (ports: Ports, config: AgentConfig, observe: (e: AgentEvent) => void) => AgentInstance;

/** Loaded code of one image: its Agent, or why evaluating it failed (a crash at start-up). */
export interface FirmwareCode {
  version: string;
  Agent?: AgentConstructor;
  /** Set when the image's module threw while loading: every boot of it crashes. */
  crash?: string;
  /** Set when the image's module never finishes loading (a top-level await that never settles). */
  hang?: boolean;
  /** The image's code (an ES module), for devices that run it inside XS. */
  payload?: Uint8Array;
  /** Whatever else the module exports (OTA wiring, version). */
  exports: Record<string, unknown>;
}

/**
 * Devices inside XS (host-sim/xs): one boot of one image in its own XS machine. `crash` and
 * `hung` are what loading the image's module did there; `start` runs its Agent on the device's
 * ports; `dispose` ends the boot (power cut, reset).
 */
export interface XsBoot {
  readonly crash: string | undefined;
  readonly hung: boolean;
  start(ports: Ports, config: AgentConfig, observe: (e: AgentEvent) => void): AgentInstance;
  dispose(): void;
}

export interface XsRunner {
  boot(code: FirmwareCode): XsBoot;
}

export interface OtaBundle {
  version: number;
  /** Signed manifest envelope (tether/<id>/ota/manifest). */
  envelope: Uint8Array;
  /** SHA-256 of the image, hex: names its shared block topics tether/ota/image/<hex>/block/<n>. */
  imageHex: string;
  blocks: Uint8Array[];
}

export interface FirmwareLibrary {
  hardwareId: string;
  /** ed25519 public keys the devices trust for OTA manifests. */
  trustedKeys: Uint8Array[];
  /** The wrapped slot image of a factory firmware version. */
  image(version: string): Uint8Array;
  /** The OTA bundle for a version (bad: an image that crashes or hangs at start-up). */
  bundle(version: string, bad: BadImage | undefined, signedAs?: string): OtaBundle;
  /** The code of the image whose appended SHA-256 is `hashHex`. */
  code(hashHex: string): FirmwareCode | undefined;
}

export { toHex } from "../../device/core/ota/bytes";
