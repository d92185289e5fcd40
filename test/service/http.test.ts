// The HTTP API's edges: validation (4xx with a clear message), bearer-token auth beyond
// loopback, and the audit table for every state-changing call.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { realClock } from "../../service/clock";
import { openDatabase } from "../../service/db/open";
import { HttpApi, parseListen } from "../../service/http/server";
import { Registry } from "../../service/registry/registry";
import { registerDeviceRoutes } from "../../service/registry/routes";
import { tempDir } from "../helpers/temp";

async function api(tokenFile?: string) {
  const db = openDatabase(":memory:");
  const http = new HttpApi(db, realClock);
  registerDeviceRoutes(http, new Registry(db), realClock);
  const at = await http.listen({ host: "127.0.0.1", port: 0, tokenFile });
  return { db, http, url: at.url };
}

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("HTTP API", () => {
  it("answers bad requests with a 4xx and a message", async () => {
    const { http, url } = await api();
    try {
      expect(await call(`${url}/api/nothing`)).toEqual({ status: 404, body: { error: "no such endpoint: /api/nothing" } });
      expect((await call(`${url}/api/devices`, { method: "DELETE" })).status).toBe(405);
      expect(await call(`${url}/api/devices?limit=0`)).toMatchObject({ status: 400, body: { error: 'query "limit" must be an integer in 1..10000' } });
      expect(await call(`${url}/api/devices?colour=red`)).toMatchObject({ status: 400, body: { error: 'unknown query parameter "colour"' } });
      expect((await call(`${url}/api/devices/bad%20id`)).status).toBe(400);
      expect(await call(`${url}/api/devices/dev-1`)).toMatchObject({ status: 404, body: { error: 'no device "dev-1" in the registry' } });
      const patch = (body: string, type = "application/json") => call(`${url}/api/devices/dev-1`, { method: "PATCH", body, headers: { "content-type": type } });
      expect((await patch("{nope")).body.error).toMatch(/^request body is not valid JSON/);
      expect((await patch("[1]")).body.error).toBe("request body must be a JSON object");
      expect((await patch('{"colour":"red"}')).body.error).toBe('unknown field "colour" (allowed: group, hardware)');
      expect((await patch('{"group":"a b"}')).body.error).toMatch(/^"group": 1\.\.64 characters/);
      expect((await patch('{"group":"x"}', "text/plain")).status).toBe(415);
      expect(await patch('{"group":"field","hardware":"B"}')).toMatchObject({ status: 200, body: { device: { id: "dev-1", group_name: "field", hardware: "B" } } });
      const list = await call(`${url}/api/devices?group=field`);
      expect(list.body).toMatchObject({ total: 1, devices: [{ id: "dev-1" }] });
    } finally {
      await http.close();
    }
  });

  it("records every state-changing call in the audit table, refused ones too", async () => {
    const { db, http, url } = await api();
    try {
      await call(`${url}/api/devices/dev-1`, { method: "PATCH", body: '{"group":"field"}', headers: { "content-type": "application/json" } });
      await call(`${url}/api/devices/dev-1`, { method: "PATCH", body: '{"colour":"red"}', headers: { "content-type": "application/json" } });
      await call(`${url}/api/devices`);
      const rows = db.prepare("SELECT method, path, status, body FROM audit ORDER BY id").all();
      expect(rows).toEqual([
        { method: "PATCH", path: "/api/devices/dev-1", status: 200, body: '{"group":"field"}' },
        { method: "PATCH", path: "/api/devices/dev-1", status: 400, body: '{"colour":"red"}' },
      ]);
    } finally {
      await http.close();
    }
  });

  it("needs a token file beyond loopback, and then the bearer token on every call", async () => {
    const db = openDatabase(":memory:");
    await expect(new HttpApi(db, realClock).listen({ host: "0.0.0.0", port: 0 })).rejects.toThrow(/needs --token-file/);
    const file = path.join(tempDir("fleet-token-"), "token");
    fs.writeFileSync(file, "short\n");
    await expect(new HttpApi(db, realClock).listen({ host: "127.0.0.1", port: 0, tokenFile: file })).rejects.toThrow(/at least 16 characters/);
    fs.writeFileSync(file, "s3cret-token-0123456789\n");
    const { http, url } = await api(file);
    try {
      expect((await call(`${url}/api/devices`)).status).toBe(401);
      expect((await call(`${url}/api/devices`, { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
      expect((await call(`${url}/api/devices`, { headers: { authorization: "Bearer s3cret-token-0123456789" } })).status).toBe(200);
    } finally {
      await http.close();
    }
  });

  it("parses --http HOST:PORT", () => {
    expect(parseListen("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseListen("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(() => parseListen("8080")).toThrow(/expected HOST:PORT/);
    expect(() => parseListen("h:99999")).toThrow(/expected HOST:PORT/);
  });
});
