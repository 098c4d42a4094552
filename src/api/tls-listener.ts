/**
 * TLS for berthd's tcp:// listeners (dockerd's --tls/--tlsverify): the server's certificate and key, and
 * with verify the CA whose signature a client certificate must carry; a client without one is refused
 * in the handshake. Files are read once at start so a bad path stops berthd instead of every connection.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { RequestListener } from 'node:http';
import { InvalidParameterError } from '../errors.js';

export interface TlsSettings {
  verify: boolean;
  caFile?: string;
  certFile: string;
  keyFile: string;
}

function readPem(what: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new InvalidParameterError(`could not load ${what} ${file}: ${(e as Error).message}`);
  }
}

export function tlsServerOptions(t: TlsSettings): https.ServerOptions {
  const o: https.ServerOptions = {
    cert: readPem('X509 key pair', t.certFile),
    key: readPem('X509 key pair', t.keyFile),
    minVersion: 'TLSv1.2',
  };
  if (t.verify) {
    o.ca = readPem('CA certificate', t.caFile ?? '');
    o.requestCert = true;
    o.rejectUnauthorized = true;
  }
  return o;
}

/** An https server carrying the same handler and timeouts as the plain one. */
export function createTlsServer(t: TlsSettings, base: https.ServerOptions, handler: RequestListener): https.Server {
  return https.createServer({ ...base, ...tlsServerOptions(t) }, handler);
}
