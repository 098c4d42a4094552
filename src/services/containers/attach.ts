// A container's stdio for attach and run: at once for a running container; for a created or exited
// one, when it next starts (connected between runc create and start, so nothing is lost).
import { assertAllowed } from '../../core/container-state.js';
import type { ContainerContext } from './context.js';
import type { AttachConnection, ContainerRecord } from './types.js';

export interface AttachHandle {
  live: ContainerRecord;
  conn: Promise<AttachConnection | undefined>;
  /** gives up a waiting attach (the client went away): its promise then resolves undefined */
  cancel: () => void;
}

export function attachContainer(ctx: ContainerContext, ref: string): AttachHandle {
  const live = ctx.store.find(ref);
  const rec = live.rec;
  assertAllowed('attach', rec.State, { id: rec.Id, name: rec.Name });
  if (rec.State.Running) return { live: rec, conn: ctx.d.runtime.attach(rec.Id), cancel: () => {} };
  let waiter!: (conn: AttachConnection | undefined) => void;
  const conn = new Promise<AttachConnection | undefined>((resolve) => { waiter = resolve; live.pendingAttach.push(resolve); });
  const cancel = () => {
    const i = live.pendingAttach.indexOf(waiter);
    if (i >= 0) { live.pendingAttach.splice(i, 1); waiter(undefined); }
  };
  return { live: rec, conn, cancel };
}
