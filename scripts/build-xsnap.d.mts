export declare const repoRoot: string;
/** The ESP32 manifest's XS stack, in slots. */
export declare const ESP32_STACK_SLOTS: number;
export declare function xsnapCacheKey(): string;
export declare function xsnapBinaryPath(stackSlots?: number, worker?: boolean): string;
export declare function ensureXsnap(options?: { force?: boolean; log?: (msg: string) => void; stackSlots?: number; worker?: boolean }): Promise<string>;
