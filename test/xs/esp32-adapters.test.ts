/**
 * XS tier for the ESP32 adapters: device/platform/moddable runs against the Moddable fakes inside
 * a real XS engine and inside Node; the traces must match, and must say what the hardware would.
 */
import { describe, expect, it } from "vitest";
import { runEsp32Scenario } from "../esp32/bundle";

const SCENARIO = "test/xs/scenarios/esp32-adapters.scenario.ts";

describe("ESP32 adapters on the Moddable fakes", () => {
  it("behave the same in XS and Node, and as the hardware would", async () => {
    const { xs, node } = await runEsp32Scenario(SCENARIO);
    expect(xs.lines).toEqual(node.lines);
    const lines = node.lines;
    const find = (prefix: string) => lines.filter((l) => l.startsWith(prefix));

    expect(lines.at(-1)).toBe("done");
    expect(find("clock ")).toEqual(["clock order=abcd advanced=400"]);
    expect(find("wallclock ")[0]).toMatch(/^wallclock synced=1 unix=17672256\d\d traces=\d+$/);
    expect(find("kv ")).toEqual(["kv codes=key-too-long,value-too-long,full,io keys=boot,str"]);
    // 0xf0 & 0x3c = 0x30, 0x0f & 0xff = 0x0f, then an erased byte.
    expect(find("flash ")).toEqual(["flash nor=300eff codes=range,range,io,io"]);
    expect(find("sha256 ")).toEqual(["sha256 abc=ba7816bf8f01cfea"]);
    expect(find("battery ")).toEqual(["battery counts=2482 res=12 mv=3999 rssi=-61 offline={}"]);
    expect(find("boot ")).toEqual([
      "boot factory: slot=0 state=undefined other=undefined seq=0 reset=power-on rollback=true",
      "boot refused=true",
      "boot pending: slot=0 state=undefined other=new seq=2 reset=power-on", // esp_rewrite_ota_data: seq 2 selects ota_1
      "boot restart=System.restart",
      "boot trial: slot=1 state=pending-verify other=undefined seq=2 reset=software",
      "boot confirmed: slot=1 state=valid other=undefined seq=2 reset=software", // marked valid in place: same seq
      "boot trial2: slot=0 state=pending-verify other=valid seq=3 reset=software",
      "boot aborted: slot=1 state=valid other=aborted seq=3 reset=software",
      "boot trial3: slot=0 state=pending-verify other=valid seq=3 reset=software", // the aborted seq-3 entry rewritten as NEW
      "boot rollback=rollback",
      "boot rolled-back: slot=1 state=valid other=invalid seq=3 reset=software", // marked invalid in place: same seq
      "boot no-way-back=RollbackFailed restarts=5",
      "boot no-rollback available=false state=undefined",
    ]);
    // Moddable's simulator has no restart: logged plainly, the agent stopped once, no throw.
    expect(find("sim-restart ")).toEqual(["missing", "throws", "returns"].map((k) => `sim-restart ${k} stops=1 clear-log=true restarts=5`));
    expect(find("update ")).toEqual(["update slot=0 next=new byte4999=7 seq=2", "update bad=end failed"]);
    const tcp = find("tcp ");
    expect(tcp[0]).toBe("tcp queued=5000 delivered=5000 echoed=5000 events=c:connect@11 c:close(closed)@200");
    expect(tcp[1]).toBe(
      // ECMA-419 onError carries no reason, so a refused connect reads as "connection lost".
      "tcp peer=p:connect@260 p:close(connection lost)@305 fail=d:close(dns: cannot resolve nowhere.lan)@351 r:close(connection lost)@360",
    );
    expect(find("tls ")).toEqual([
      "tls server-got=3000 events=res:connect@10 res:data(4) res:data(4) res:close(closed)@100 none:close(tls: no CA certificate for the broker)@100 pem:connect@110 bad:close(tls error)@110",
    ]);
    expect(find("wifi ")[0]).toBe("wifi UP@700 DOWN@1000 UP@9700");
  });
});
