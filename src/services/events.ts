import { EventEmitter } from 'node:events';
import type { Filters } from '../core/filters.js';

/** An Engine API event message (GET /events). */
export interface EventMessage {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'plugin' | 'service' | 'node' | 'secret' | 'config' | 'builder';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  // Deprecated fields the docker CLI still prints for containers.
  status?: string;
  id?: string;
  from?: string;
}

const HISTORY = 1024;

/** In-memory event bus with a bounded history for `since` (as dockerd keeps its last events). */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: EventMessage[] = [];

  constructor() { this.emitter.setMaxListeners(0); }

  publish(type: EventMessage['Type'], action: string, id: string, attributes: Record<string, string> = {}): EventMessage {
    const nowNs = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000)) % 1_000_000n;
    const ev: EventMessage = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Number(nowNs / 1_000_000_000n), timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (type === 'container' && attributes.image) ev.from = attributes.image;
    }
    this.history.push(ev);
    if (this.history.length > HISTORY) this.history.shift();
    this.emitter.emit('event', ev);
    return ev;
  }

  /** Past events with time in [sinceMs, untilMs]. */
  since(sinceMs: number, untilMs = Infinity): EventMessage[] {
    return this.history.filter((e) => e.timeNano / 1e6 >= sinceMs && e.timeNano / 1e6 <= untilMs);
  }

  subscribe(fn: (ev: EventMessage) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
}

/** Docker's event filters: type, event/action, container, image, label, network, volume, daemon, scope. */
export function matchEvent(ev: EventMessage, f: Filters): boolean {
  const has = (k: string) => f.has(k) && f.get(k)!.length > 0;
  if (has('type') && !f.get('type')!.includes(ev.Type)) return false;
  if (has('event') && !f.get('event')!.some((a) => a === ev.Action || ev.Action.startsWith(`${a}:`))) return false;
  if (has('scope') && !f.get('scope')!.includes(ev.scope)) return false;
  const name = ev.Actor.Attributes.name;
  const matchesActor = (vals: string[]) => vals.some((v) => v === ev.Actor.ID || (v.length >= 1 && ev.Actor.ID.startsWith(v)) || v === name);
  if (has('container') && (ev.Type !== 'container' || !matchesActor(f.get('container')!))) return false;
  if (has('image')) {
    const img = ev.Type === 'image' ? [ev.Actor.ID, name] : [ev.Actor.Attributes.image];
    if (!f.get('image')!.some((v) => img.includes(v) || img.some((i) => i?.startsWith(`${v}:`)))) return false;
  }
  if (has('network') && (ev.Type !== 'network' || !matchesActor(f.get('network')!))) return false;
  if (has('volume') && (ev.Type !== 'volume' || !matchesActor(f.get('volume')!))) return false;
  if (has('label')) {
    const attrs = ev.Actor.Attributes;
    const ok = f.get('label')!.every((l) => {
      const i = l.indexOf('=');
      return i < 0 ? l in attrs : attrs[l.slice(0, i)] === l.slice(i + 1);
    });
    if (!ok) return false;
  }
  return true;
}
