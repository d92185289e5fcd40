/**
 * The service's HTTP server: JSON routes that modules register (devices, rollouts, and the
 * health/dashboard routes of service/health and service/web), raw routes for pages and
 * server-sent events, request validation, bearer-token auth and the audit table.
 *
 * Loopback by default. On any other address a token file is required and every request must
 * carry `Authorization: Bearer <token>`; with a token file, loopback requires it too.
 * Every state-changing call (anything but GET/HEAD) is recorded in the audit table, refused or not.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceClock } from "../clock";
import type { Db } from "../db/open";

export const MAX_BODY_BYTES = 1024 * 1024;
const AUDIT_BODY_CHARS = 4096;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body (undefined when there is none). */
  body: unknown;
  remote: string;
}

export interface JsonReply {
  status?: number;
  body: unknown;
}

export type JsonHandler = (ctx: RouteContext) => JsonReply | Promise<JsonReply>;
export type RawHandler = (req: http.IncomingMessage, res: http.ServerResponse, params: Record<string, string>, query: URLSearchParams) => void | Promise<void>;

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

interface Route {
  method: Method;
  parts: string[];
  json?: JsonHandler;
  raw?: RawHandler;
}

export interface HttpOptions {
  host: string;
  port: number;
  /** File whose first line is the bearer token. Required unless host is loopback. */
  tokenFile?: string;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Parses "HOST:PORT" ("[::1]:8080" for IPv6). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--http "${s}": expected HOST:PORT, e.g. 127.0.0.1:8080`);
  return { host: m[1] ?? m[2], port };
}

export class HttpApi {
  private readonly routes: Route[] = [];
  private server: http.Server | undefined;
  private token: Buffer | undefined;
  private readonly auditInsert;

  constructor(
    private readonly db: Db,
    private readonly clock: ServiceClock,
  ) {
    this.auditInsert = db.prepare("INSERT INTO audit (at, remote, method, path, status, body) VALUES (?, ?, ?, ?, ?, ?)");
  }

  /** Registers a JSON route; `pattern` is like "/api/devices/:id". */
  route(method: Method, pattern: string, handler: JsonHandler): void {
    this.routes.push({ method, parts: split(pattern), json: handler });
  }

  /** Registers a route that writes its own response (HTML, static files, server-sent events). */
  rawRoute(method: Method, pattern: string, handler: RawHandler): void {
    this.routes.push({ method, parts: split(pattern), raw: handler });
  }

  async listen(options: HttpOptions): Promise<{ host: string; port: number; url: string }> {
    if (options.tokenFile !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(options.tokenFile, "utf8");
      } catch (err) {
        throw new Error(`--token-file ${options.tokenFile}: ${(err as Error).message}`);
      }
      const token = text.split(/\r?\n/)[0].trim();
      if (token.length < 16) throw new Error(`--token-file ${options.tokenFile}: the token must be at least 16 characters`);
      this.token = digest(token);
    } else if (!isLoopback(options.host)) {
      throw new Error(`--http ${options.host}: listening beyond loopback needs --token-file FILE (a bearer token)`);
    }
    const server = http.createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    const hostText = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return { host: a.address, port: a.port, url: `http://${hostText}:${a.port}` };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://x");
    const remote = req.socket.remoteAddress ?? "";
    let status = 500;
    let auditBody = "";
    try {
      if (this.token && !this.authorised(req)) throw new HttpError(401, "missing or wrong bearer token (Authorization: Bearer <token>)");
      const found = this.match(method === "HEAD" ? "GET" : method, url.pathname);
      if (found.route.raw) {
        await found.route.raw(req, res, found.params, url.searchParams);
        status = res.statusCode;
        return;
      }
      const raw = await readBody(req);
      auditBody = raw.slice(0, AUDIT_BODY_CHARS);
      const body = parseJson(raw, req.headers["content-type"]);
      const reply = await found.route.json!({ params: found.params, query: url.searchParams, body, remote });
      status = reply.status ?? 200;
      send(res, status, reply.body);
    } catch (err) {
      status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : `internal error: ${(err as Error).message}`;
      if (!res.headersSent) send(res, status, { error: message });
      else res.destroy();
    } finally {
      if (method !== "GET" && method !== "HEAD") {
        try {
          this.auditInsert.run(this.clock.now(), remote, method, url.pathname, status, auditBody || null);
        } catch {
          // The audit row is best effort only when the database itself is failing; the reply already says so.
        }
      }
    }
  }

  private authorised(req: http.IncomingMessage): boolean {
    const h = req.headers.authorization;
    const m = typeof h === "string" ? /^Bearer (\S+)$/.exec(h) : null;
    return m !== null && crypto.timingSafeEqual(digest(m[1]), this.token!);
  }

  private match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const parts = split(pathname);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchParts(route.parts, parts);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method) return { route, params };
    }
    if (pathMatched) throw new HttpError(405, `${method} is not allowed on ${pathname}`);
    throw new HttpError(404, `no such endpoint: ${pathname}`);
  }
}

function digest(s: string): Buffer {
  return crypto.createHash("sha256").update(s).digest();
}

function split(p: string): string[] {
  return p.split("/").filter((x) => x.length > 0);
}

function matchParts(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(":")) {
      try {
        params[pattern[i].slice(1)] = decodeURIComponent(parts[i]);
      } catch {
        return undefined;
      }
    } else if (pattern[i] !== parts[i]) return undefined;
  }
  return params;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(raw: string, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (contentType !== undefined && !/^application\/json\b/i.test(contentType)) {
    throw new HttpError(415, `request body must be application/json, got ${contentType}`);
  }
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + "\n";
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}
