import { describe, expect, it } from "vitest";
import { BrokerUrlError, parseBrokerUrl, redactBrokerUrl } from "../../device/core/util/broker-url";

describe("parseBrokerUrl", () => {
  it("parses mqtt and mqtts with default and explicit ports", () => {
    expect(parseBrokerUrl("mqtt://127.0.0.1")).toEqual({ url: "mqtt://127.0.0.1", host: "127.0.0.1", port: 1883 });
    expect(parseBrokerUrl("mqtt://broker:1884/")).toMatchObject({ host: "broker", port: 1884 });
    expect(parseBrokerUrl("mqtts://iot.example", "PEM")).toMatchObject({ host: "iot.example", port: 8883, tls: { ca: "PEM" } });
    expect(parseBrokerUrl("mqtt://[::1]:1883")).toMatchObject({ host: "::1", port: 1883 });
  });

  it("takes credentials from the URL, percent-decoded", () => {
    expect(parseBrokerUrl("mqtt://dev%401:p%3Ass@h:1")).toMatchObject({ username: "dev@1", password: "p:ss", host: "h", port: 1 });
    expect(parseBrokerUrl("mqtt://user@h")).toMatchObject({ username: "user", host: "h" });
  });

  it.each(["http://h", "mqtt://", "mqtt://h:0", "mqtt://h:70000", "mqtt://h/path", "h:1883", "mqtt://h:12x"])("rejects %s clearly", (url) => {
    expect(() => parseBrokerUrl(url)).toThrowError(BrokerUrlError);
  });

  it("never puts the password in the URL it keeps for logs, nor in its errors", () => {
    expect(parseBrokerUrl("mqtt://dev-1:hunter2@h:1883")).toMatchObject({ url: "mqtt://dev-1:***@h:1883", password: "hunter2" });
    expect(redactBrokerUrl("mqtts://u:p@ss@h")).toBe("mqtts://u:***@h");
    expect(redactBrokerUrl("mqtt://u@h")).toBe("mqtt://u@h");
    for (const bad of ["mqtt://u:hunter2@h:0", "mqtt://u:hunter2@h/x", "mqtt://u:hun%ZZter2@h"]) {
      expect(() => parseBrokerUrl(bad)).toThrowError(BrokerUrlError);
      expect(() => parseBrokerUrl(bad)).not.toThrowError(/hunter2|hun%ZZ/);
    }
  });
});
