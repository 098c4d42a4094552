// The closed error taxonomy (moby errdefs style). Services throw these; only
// src/api/errors.ts maps them to HTTP status codes. Never branch on message text.

export type ErrorKind =
  | 'NotFound'
  | 'InvalidParameter'
  | 'Conflict'
  | 'NotModified'
  | 'Unavailable'
  | 'Forbidden'
  | 'Unauthorized'
  | 'NotImplemented'
  | 'System';

export class BerthError extends Error {
  readonly kind: ErrorKind = 'System';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends BerthError { override readonly kind = 'NotFound' as const; }
export class InvalidParameterError extends BerthError { override readonly kind = 'InvalidParameter' as const; }
export class ConflictError extends BerthError { override readonly kind = 'Conflict' as const; }
/** 304: e.g. starting a running container or stopping a stopped one. */
export class NotModifiedError extends BerthError { override readonly kind = 'NotModified' as const; }
export class UnavailableError extends BerthError { override readonly kind = 'Unavailable' as const; }
export class ForbiddenError extends BerthError { override readonly kind = 'Forbidden' as const; }
export class UnauthorizedError extends BerthError { override readonly kind = 'Unauthorized' as const; }
export class NotImplementedError extends BerthError { override readonly kind = 'NotImplemented' as const; }
export class SystemError extends BerthError { override readonly kind = 'System' as const; }

export function errorKind(err: unknown): ErrorKind {
  return err instanceof BerthError ? err.kind : 'System';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
