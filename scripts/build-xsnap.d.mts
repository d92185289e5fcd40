export declare const repoRoot: string;
export declare function xsnapCacheKey(): string;
export declare function xsnapBinaryPath(): string;
export declare function ensureXsnap(options?: { force?: boolean; log?: (msg: string) => void }): Promise<string>;
