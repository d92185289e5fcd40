export declare const repoRoot: string;
export declare const ESP32_MANIFEST: string;
export declare const LAYOUT_MANIFESTS: Readonly<Record<"4MB" | "8MB", string>>;
export declare const MIN_SPARE_FRACTION: number;
export declare const CA_OUT: string;
export declare const BUILD_MANIFEST: string;
export declare const SECRET_KEYS: readonly string[];
export declare class UsageError extends Error {}
export interface FlashOptions {
  device: string;
  mode: "development" | "production";
  flashSize: "4MB" | "8MB";
  port: string | undefined;
  ca: string | undefined;
  config: Record<string, string>;
  log: boolean;
  buildOnly: boolean;
  dryRun: boolean;
  help: boolean;
}
export declare function parseArgs(argv: string[]): FlashOptions;
export declare function readOtaPub(file: string): string;
export declare function pemToDer(pem: string): Uint8Array;
export declare function redact(key: string, value: string): string;
export declare function buildManifest(o: FlashOptions, manifestPath?: string): { include: string[]; config: Record<string, string>; data?: Record<string, string[]> };
export declare function mcconfigArgs(o: FlashOptions, manifestPath?: string): string[];
export declare function imagePath(o: FlashOptions, moddable: string): string;
export declare function slotSize(partitionsCsv: string): number;
export declare function imageReport(imageBytes: number, slotBytes: number): { spare: number; tight: boolean; line: string };
export declare function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void>;
export declare function main(argv: string[], log?: (m: string) => void): Promise<void>;
export declare const ESP32_BUNDLE: string;
