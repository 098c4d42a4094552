// The container state machine as data: which events move a container between Docker's seven states,
// and which requests a state refuses (Docker's 304 and 409 answers). Services change State only
// through transition(); they ask refusal()/assertAllowed() before acting. Pure: no I/O.
import { ConflictError, NotModifiedError, SystemError, type BerthError } from '../errors.js';
import type { HealthState } from './healthcheck.js';
import { humanDuration } from './human.js';

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export const STATUSES: readonly Status[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];

export interface ContainerState {
  Status: Status; Running: boolean; Paused: boolean; Restarting: boolean; OOMKilled: boolean; Dead: boolean;
  Pid: number; ExitCode: number; Error: string; StartedAt: string; FinishedAt: string;
  Health?: HealthState;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
  };
}

/** Events that change a container's state. `to: 'same'` keeps the status (the event only records facts). */
export type StateEvent =
  | 'started' | 'start-failed' | 'exited' | 'exited-restarting' | 'restart-begin' | 'restart-ended'
  | 'paused' | 'unpaused' | 'removing';

interface Transition { from: readonly Status[]; to: Status | 'same' }

const ALL = STATUSES;

/** The transition table. Anything not listed is a bug in the caller (SystemError). */
export const TRANSITIONS: Readonly<Record<StateEvent, Transition>> = {
  // a user's start, or the restart policy's (from restarting)
  started: { from: ['created', 'exited', 'restarting', 'dead'], to: 'running' },
  // runc create/start failed: the exit code and error are recorded, the status stays
  'start-failed': { from: ['created', 'exited', 'restarting', 'dead'], to: 'same' },
  // the process ended; removing: a container found running while it was being removed (live restore)
  exited: { from: ['running', 'paused', 'removing'], to: 'exited' },
  // the process ended and the restart policy will start it again after a back-off
  'exited-restarting': { from: ['running', 'paused', 'removing'], to: 'restarting' },
  // the back-off is over: the policy's start runs (Running is false while it does)
  'restart-begin': { from: ['restarting'], to: 'restarting' },
  // the policy's restart was cancelled (stop, kill, rm -f, daemon restart) or its start failed
  'restart-ended': { from: ['restarting'], to: 'exited' },
  paused: { from: ['running'], to: 'paused' },
  // unpause, or the thaw before a stop/kill/rm of a paused container
  unpaused: { from: ['paused'], to: 'running' },
  removing: { from: ALL, to: 'removing' },
};

/** The flags Docker derives from the status; a transition's patch may override them (restart-begin). */
function flagsOf(s: Status): Pick<ContainerState, 'Running' | 'Paused' | 'Restarting' | 'Dead'> {
  return {
    Running: s === 'running' || s === 'paused' || s === 'restarting',
    Paused: s === 'paused', Restarting: s === 'restarting', Dead: s === 'dead',
  };
}

/** The state after `event`, with `patch`'s recorded facts (exit code, times, pid...). */
export function transition(state: ContainerState, event: StateEvent, patch: Partial<Omit<ContainerState, 'Status'>> = {}): ContainerState {
  const t = TRANSITIONS[event];
  if (!t.from.includes(state.Status)) {
    throw new SystemError(`invalid container state transition: ${event} from ${state.Status}`);
  }
  if (t.to === 'same') return { ...state, ...patch, Status: state.Status };
  // 'removing' keeps Running as it was: a force-remove whose kill was not yet seen stays "running" to exit handling.
  const flags = t.to === 'removing' ? { ...flagsOf('removing'), Running: state.Running } : flagsOf(t.to);
  return { ...state, ...flags, ...patch, Status: t.to };
}

/** Requests a state may refuse. */
export type StateRequest = 'start' | 'stop' | 'kill' | 'pause' | 'unpause' | 'remove' | 'resize' | 'attach';

export interface RequestContext {
  id: string;
  /** the container's name with its leading "/" */
  name: string;
  /** the reference the client used (kill's message quotes it) */
  ref?: string;
  force?: boolean;
}

type Rule = { when: (s: ContainerState, c: RequestContext) => boolean; error: (s: ContainerState, c: RequestContext) => BerthError };

/** Docker's refusals, checked in order; the first that matches answers the request. */
export const REFUSALS: Readonly<Record<StateRequest, readonly Rule[]>> = {
  start: [
    // paused first, as moby's containerStart: a paused container is also Running
    { when: (s) => s.Status === 'paused', error: () => new ConflictError('cannot start a paused container, try unpause instead') },
    { when: (s) => s.Running, error: () => new NotModifiedError('container already started') },
    { when: (s) => s.Status === 'removing', error: () => new ConflictError('container is marked for removal and cannot be started') },
  ],
  stop: [
    { when: (s) => !s.Running, error: () => new NotModifiedError('container already stopped') },
  ],
  kill: [
    { when: (s) => !s.Running, error: (_s, c) => new ConflictError(`cannot kill container: ${c.ref ?? c.id}: container ${c.id} is not running`) },
  ],
  pause: [
    { when: (s) => !s.Running, error: (_s, c) => new ConflictError(`Container ${c.id} is not running`) },
    { when: (s) => s.Paused, error: (_s, c) => new ConflictError(`Container ${c.id} is already paused`) },
    { when: (s) => s.Restarting, error: (_s, c) => new ConflictError(`Container ${c.id} is restarting, wait until the container is running`) },
  ],
  unpause: [
    { when: (s) => !s.Paused, error: (_s, c) => new ConflictError(`Container ${c.id} is not paused`) },
  ],
  remove: [
    { when: (s, c) => s.Restarting && !c.force, error: (_s, c) => new ConflictError(`cannot remove container "${c.name}": container is restarting: stop the container before removing or force remove`) },
    { when: (s, c) => s.Running && !c.force, error: (_s, c) => new ConflictError(`cannot remove container "${c.name}": container is running: stop the container before removing or force remove`) },
  ],
  resize: [
    { when: (s) => !s.Running, error: (_s, c) => new ConflictError(`Container ${c.id} is not running`) },
  ],
  attach: [
    { when: (s) => s.Paused, error: () => new ConflictError('You cannot attach to a paused container, unpause it first') },
    { when: (s) => !s.Running && s.Status !== 'created' && s.Status !== 'exited', error: () => new ConflictError('You cannot attach to a stopped container, start it first') },
  ],
};

export function refusal(request: StateRequest, state: ContainerState, ctx: RequestContext): BerthError | undefined {
  const rule = REFUSALS[request].find((r) => r.when(state, ctx));
  return rule?.error(state, ctx);
}

export function assertAllowed(request: StateRequest, state: ContainerState, ctx: RequestContext): void {
  const err = refusal(request, state, ctx);
  if (err) throw err;
}

/** The Status column text, computed by the daemon as dockerd does (container/state.go String). */
export function statusText(s: ContainerState, now = Date.now()): string {
  switch (s.Status) {
    case 'running': return `Up ${humanDuration(now - Date.parse(s.StartedAt))}`;
    case 'paused': return `Up ${humanDuration(now - Date.parse(s.StartedAt))} (Paused)`;
    case 'restarting': return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    case 'created': return 'Created';
    case 'exited':
      if (s.FinishedAt === ZERO_TIME) return '';
      return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    default: return '';
  }
}
