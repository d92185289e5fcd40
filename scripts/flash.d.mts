export declare const repoRoot: string;
export declare const PROJECT_DIR: string;
export declare const CA_OUT: string;
export declare class UsageError extends Error {}
export interface FlashOptions {
  device: string;
  mode: "development" | "production";
  port: string | undefined;
  ca: string | undefined;
  config: Record<string, string>;
  log: boolean;
  dryRun: boolean;
  help: boolean;
}
export declare function parseArgs(argv: string[]): FlashOptions;
export declare function pemToDer(pem: string): Uint8Array;
export declare function xsDevArgs(o: FlashOptions): string[];
export declare function main(argv: string[]): Promise<void>;
