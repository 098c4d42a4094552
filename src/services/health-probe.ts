import type { ProbeRunner } from './health-monitor.js';
import type { ExecService } from './exec-service.js';

const OUTPUT_CAP = 4096 + 16; // a little over the kept length so truncation can still mark "..."

/** Health probes as execs in the container (as dockerd runs them), output captured and capped. */
export function execProbeRunner(execs: ExecService): ProbeRunner {
  return async (containerId, cmd, _timeoutMs, signal) => {
    const { Id } = await execs.create(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const start = execs.start(Id, {});
    const { conn, done } = await start.run();
    const chunks: Buffer[] = [];
    let size = 0;
    const closed = new Promise<void>((resolve) => {
      if (!conn) { resolve(); return; }
      conn.on('data', (_s, d) => {
        if (size < OUTPUT_CAP) { chunks.push(d.subarray(0, OUTPUT_CAP - size)); size += d.length; }
      });
      conn.on('close', () => resolve());
    });
    const onAbort = () => {
      const pid = (execs.inspect(Id) as { Pid?: number }).Pid;
      if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      conn?.destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const exitCode = await done;
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
      return { exitCode, output: Buffer.concat(chunks) };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}
