/**
 * Broker URLs: mqtt://host[:port] and mqtts://host[:port], optionally with user:password@.
 * Portable (no URL class: XS has none) and strict: anything else is a clear error.
 */
import type { SocketOptions } from "../../ports";
import { setErrorName } from "./error-name";

export const MQTT_PORT = 1883;
export const MQTTS_PORT = 8883;

export interface BrokerTarget extends SocketOptions {
  url: string;
  username?: string;
  password?: string;
}

export class BrokerUrlError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "BrokerUrlError");
  }
}

/** The URL with any password in its user info replaced by "***": the only form that may reach a log, an event or an error. */
export function redactBrokerUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)@/i.exec(url); // greedy: up to the last "@" of the authority
  const colon = m === null ? -1 : m[2].indexOf(":");
  return m === null || colon < 0 ? url : `${m[1]}${m[2].slice(0, colon)}:***@${url.slice(m[0].length)}`;
}

export function parseBrokerUrl(url: string, ca?: string): BrokerTarget {
  const m = /^(mqtts?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[0-9a-fA-F:.]+\]|[^:/?#\s]+)(?::(\d{1,5}))?\/?$/.exec(url);
  const shown = redactBrokerUrl(url);
  if (m === null) throw new BrokerUrlError(`broker URL "${shown}" is not mqtt://host[:port] or mqtts://host[:port]`);
  const [, scheme, user, pass, rawHost, rawPort] = m;
  const tls = scheme === "mqtts";
  const port = rawPort === undefined ? (tls ? MQTTS_PORT : MQTT_PORT) : Number(rawPort);
  if (port < 1 || port > 65535) throw new BrokerUrlError(`broker URL "${shown}": port ${port} is out of range`);
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost;
  // `url` is for logs and events: never the password.
  const target: BrokerTarget = { url: shown, host, port };
  if (tls) target.tls = ca === undefined ? {} : { ca };
  if (user) target.username = decodeCredential(user, shown);
  if (pass !== undefined) target.password = decodeCredential(pass, shown);
  return target;
}

function decodeCredential(s: string, url: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new BrokerUrlError(`broker URL "${url}": bad %-escape in the user name or password`);
  }
}
