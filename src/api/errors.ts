import type { ServerResponse } from 'node:http';
import { errorKind, errorMessage, type ErrorKind } from '../errors.js';

// The ONE place an error class becomes an HTTP status (moby httpstatus.FromError).
const STATUS: Record<ErrorKind, number> = {
  NotFound: 404,
  InvalidParameter: 400,
  Conflict: 409,
  NotModified: 304,
  Unavailable: 503,
  Forbidden: 403,
  Unauthorized: 401,
  NotImplemented: 501,
  System: 500,
};

export function statusFor(err: unknown): number {
  return STATUS[errorKind(err)];
}

export function writeError(res: ServerResponse, err: unknown): void {
  const status = statusFor(err);
  if (res.headersSent) {
    // Mid-stream failure: the status is gone; end the stream so the client sees EOF.
    res.destroy();
    return;
  }
  if (status === 304) {
    res.writeHead(304);
    res.end();
    return;
  }
  const body = JSON.stringify({ message: errorMessage(err) });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
