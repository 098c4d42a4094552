/**
 * Go's net/http wording for a failed dial (`dial tcp 127.0.0.1:5000: connect: connection refused`), which
 * is what docker users see from dockerd and match on; other errors keep Node's message.
 */
export function goDialError(u: URL, err: { code?: string; message: string }): string {
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const hostPort = `${u.hostname.replace(/^\[|\]$/g, '')}:${port}`;
  switch (err.code) {
    case 'ECONNREFUSED': return `dial tcp ${hostPort}: connect: connection refused`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `dial tcp: lookup ${u.hostname}: no such host`;
    case 'EHOSTUNREACH': return `dial tcp ${hostPort}: connect: no route to host`;
    case 'ENETUNREACH': return `dial tcp ${hostPort}: connect: network is unreachable`;
    case 'ETIMEDOUT': return `dial tcp ${hostPort}: i/o timeout`;
    case 'ECONNRESET': return 'read: connection reset by peer';
    default: return err.message;
  }
}
