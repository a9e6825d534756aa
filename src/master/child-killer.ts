// Killing children that are stuck, past a deadline, or unable to drain: the murder step of the
// tick acts here on judgeChild's verdicts, and a stop past its deadline kills what is left, each
// kill with the log line operators grep for. It holds the children's stack probes because only a
// kill asks them (the stack of a stuck child).

import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log/logger.js';
import type { ChildRecord } from './registry.js';
import { keeperNotReady, keeperSilentBooting } from './keeper-boot-words.js';
import { notReplacedWords, outgoingFor } from './reload-successor.js';
import { captureStuckStack, formatStack, type StackFrame } from './stack-capture.js';
import { cannotDrain, judgeChild } from './stuck-judgement.js';

/**
 * Why a worker may be silent while booting, when nothing more is known; its exit replaces it with
 * the limit the cgroup's counters name, when they name one (child-exits.ts).
 */
export const SILENT_BOOT_GUESS = ' (the app blocks the event loop at import or in createApp: make that work asynchronous, or raise CORRAL_TIMEOUT above how long it takes and reload or restart; or node could not start its threads under the process or thread limit, TasksMax= or pids.max: pthread_create on its stderr)';

/**
 * Why a child may be silent since its fork, before its first beat (sent before the app is
 * imported), when nothing more is known; replaced at its exit as SILENT_BOOT_GUESS is. Node itself
 * ran a while (the slow load that was killed so had started node and was loading corral's
 * modules), hence "did not finish starting", not "never started"; a NODE_OPTIONS preload
 * (--require, --import) runs before corral's code, so before the first beat, too.
 */
export const NEVER_BEAT_GUESS = " (node or corral's own modules did not finish starting: node could not start its threads under the process or thread limit, TasksMax= or pids.max, pthread_create on its stderr? the host too short of CPU or memory? or a NODE_OPTIONS preload, --require or --import, that blocks?)";

/** Time allowed to read a stuck child's stack before the kill (its probe gives up at 800 ms). */
const STACK_CAPTURE_MS = 1000;

/** corral's own directory (dist/src), whose frames are its loader's, not the app's. */
const OWN_CODE = fileURLToPath(new URL('..', import.meta.url));

/**
 * The first frame of a stuck child's stack in a file outside corral's own code and Node's
 * internals: where a worker blocked while booting (the app's import or createApp), as a path.
 */
function appFrameOf(frames: readonly StackFrame[]): string | undefined {
  for (const f of frames) {
    if (!f.url.startsWith('file://')) continue;
    const path = fileURLToPath(f.url);
    if (!path.startsWith(OWN_CODE)) return `${path}:${f.line}:${f.column}`;
  }
  return undefined;
}

export interface ChildKillerOptions {
  readonly log: Logger;
  readonly now: () => number;
  /** CORRAL_STUCK_STACKS as the settings now say (a reload may change it). */
  readonly stuckStacks: () => boolean;
  /**
   * Reads the cgroup's counters and says by child whether it refused a fork or a thread since that
   * child was forked (DeathCauses.taskRefusals): asked at most once a murder pass.
   */
  readonly taskRefusals: () => (id: number) => boolean;
  /**
   * The generation a reload in progress boots, or undefined: a worker of another one killed as
   * stuck is not replaced (reload-successor.ts), and its line must not say so.
   */
  readonly reloadingTo: () => number | undefined;
}

export class ChildKiller {
  private readonly probes = new Map<number, Duplex | undefined>();

  constructor(private readonly o: ChildKillerOptions) {}

  /** A child was forked: its stack probe, if it has one, serves a later stack capture. */
  track(id: number, probe: Duplex | undefined): void {
    this.probes.set(id, probe);
  }

  /** A child was reaped. */
  forget(id: number): void {
    this.probes.delete(id);
  }

  /** Kills what judgeChild finds stuck or past its deadlines. */
  murder(children: Iterable<ChildRecord>, timeoutMs: number): void {
    const now = this.o.now();
    // Read only when a child that never beat is silent past CORRAL_TIMEOUT, and once for all of them.
    let refusals: ((id: number) => boolean) | undefined;
    for (const c of children) {
      const verdict = judgeChild(c, now, timeoutMs, () => (refusals ??= this.o.taskRefusals())(c.id));
      switch (verdict.kind) {
        case 'none':
          break;
        case 'stuck':
          if (verdict.neverBeat) this.killNeverBeat(c, verdict.silentMs, verdict.neverBeat);
          else this.killStuck(c, verdict.silentMs, timeoutMs);
          break;
        case 'not-beating':
          this.killNotBeating(c, c.stopReason ?? 'stop');
          break;
        case 'no-exit-after-sigterm':
          c.sigkillAt = undefined;
          this.o.log.warn({ event: `${c.role}.kill`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, reason: 'no exit after SIGTERM' }, `${c.role} ${c.id} did not exit after SIGTERM; killing`);
          c.handle.kill('SIGKILL');
          break;
        case 'drain-deadline':
          this.killAtDrainDeadline(c, now);
          break;
        case 'boot-timeout':
          c.bootError =
            c.role === 'keeper'
              ? { code: 'CORRAL_ERR_KEEPER_BOOT', message: keeperNotReady(c, Math.round(verdict.bootMs / 1000), Math.round((now - Math.max(c.startedAt, c.bootProgressAt ?? -Infinity)) / 1000)) }
              : { code: 'CORRAL_ERR_APP_LOAD', message: `not ready after ${Math.round(verdict.bootMs / 1000)} s (createApp never resolved?)` };
          c.state = 'killing';
          c.handle.kill('SIGKILL');
          break;
      }
    }
  }

  /**
   * Past its drain deadline. One whose beats stopped meanwhile (a close hook that blocks its loop,
   * short of CORRAL_TIMEOUT) could not close what was left itself: said so, with its stack, since
   * "did not finish draining" alone sent the operator looking for slow requests that were not there.
   */
  private killAtDrainDeadline(c: ChildRecord, now: number): void {
    c.state = 'killing';
    if (!cannotDrain({ ...c, state: 'draining' }, now)) {
      this.o.log.warn({ event: `${c.role}.kill`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, reason: 'drain deadline passed' }, `${c.role} ${c.id} did not finish draining; killing`);
      c.handle.kill('SIGKILL');
      return;
    }
    const seconds = Math.round((now - c.lastBeatAt) / 100) / 10;
    const where = !this.o.stuckStacks() ? 'no stack is logged, CORRAL_STUCK_STACKS=false' : this.probes.get(c.id) !== undefined ? `${c.role}.stack shows where` : 'no stack can be read from it';
    this.o.log.warn(
      { event: `${c.role}.kill`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, reason: 'drain deadline passed', seconds_silent: seconds },
      `${c.role} ${c.id} did not finish draining: it has not beaten for ${seconds} s, its event loop blocked (${c.role === 'worker' ? 'a close hook or other synchronous code' : 'synchronous code'}: ${where}); killing`,
    );
    this.killWithStack(c);
  }

  /** A stop's deadline passed: every child not already being killed is. */
  killAtGracefulTimeout(children: Iterable<ChildRecord>): void {
    for (const c of children) {
      if (c.state !== 'killing') {
        this.o.log.warn({ event: `${c.role}.kill`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, reason: 'graceful timeout' }, `killing ${c.role} ${c.id} after the graceful timeout`);
        c.state = 'killing';
        c.stopReason ??= 'shutdown';
        c.handle.kill('SIGKILL');
      }
    }
  }

  /** Kills a child told to drain that cannot (see cannotDrain), saying why; its exit is an expected one. */
  killNotBeating(c: ChildRecord, reason: string): void {
    const seconds = Math.round((this.o.now() - c.lastBeatAt) / 100) / 10;
    // Never ready: it holds no listener and no request (a booting child told to stop).
    const serving = c.state === 'ready' || c.state === 'draining';
    c.stopReason ??= reason;
    c.state = 'killing';
    c.sigkillAt = undefined;
    this.o.log.warn(
      { event: `${c.role}.kill`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, reason: 'not beating', drain_reason: reason, seconds_silent: seconds, booting: !serving, ...(c.beaten ? {} : { never_beat: true }) },
      serving
        ? `${c.role} ${c.id} (pid ${c.handle.pid}) has not beaten for ${seconds} s: it cannot drain (${reason}); killing it now rather than at CORRAL_TIMEOUT (its requests in flight are cut)`
        : !c.beaten
          ? // Still starting: it would have had the boot timeout, not CORRAL_TIMEOUT (stuck-judgement.ts).
            `${c.role} ${c.id} (pid ${c.handle.pid}) has not beaten once in ${seconds} s since it was forked, still starting: it cannot stop (${reason}) by itself yet; killing it now (it serves nothing yet)`
          : `${c.role} ${c.id} (pid ${c.handle.pid}) has not beaten for ${seconds} s while booting: it cannot stop (${reason}); killing it now rather than at CORRAL_TIMEOUT (it serves nothing yet)`,
    );
    // Never beat: still starting (node and corral's own modules loading, slowly on a busy host),
    // not stuck. Said as stuck, an error with CORRAL_ERR_WORKER_TIMEOUT, a TTOU or a stop during
    // a boot alerted whoever watches that code for workers that had missed no CORRAL_TIMEOUT.
    this.killWithStack(c, c.beaten ? undefined : reason);
  }

  private killStuck(c: ChildRecord, silentMs: number, timeoutMs: number): void {
    const seconds = Math.round(silentMs / 100) / 10;
    // A child told to stop (draining, or booting and sent SIGTERM) was on its way out: it is not
    // replaced (a reload's new generation, or none at a stop, takes its place).
    const draining = c.state === 'draining' || c.state === 'killing';
    c.sigkillAt = undefined;
    if (c.state === 'booting') {
      // Silent before ready (an import that blocks the loop): a failed boot, so it counts towards
      // the backoff and CORRAL_BOOT_ATTEMPTS instead of being respawned at once, forever. It beat
      // once before the app was imported, so CORRAL_TIMEOUT judged it, not the boot timeout: named
      // with its value, as boot.exhausted and `corral start` repeat this message alone ("silent
      // for 3.2 s while booting" left the operator to guess which limit that was, and the fix).
      c.bootError = {
        code: 'CORRAL_ERR_WORKER_TIMEOUT',
        message: c.role === 'keeper' ? keeperSilentBooting(c, seconds) : `silent for ${seconds} s while booting, past CORRAL_TIMEOUT (${Math.round(timeoutMs / 100) / 10} s)${SILENT_BOOT_GUESS}`,
      };
    } else {
      c.stopReason = 'timeout';
    }
    c.state = 'killing';
    // Point at the stack line only when one follows: with CORRAL_STUCK_STACKS=false none does, and
    // "worker.stack shows where" sent the operator looking for a line that never comes.
    const where = !this.o.stuckStacks() ? 'no stack is logged, CORRAL_STUCK_STACKS=false' : this.probes.get(c.id) !== undefined ? `${c.role}.stack shows where` : 'no stack can be read from it';
    // Named after the role, as keeper.kill and keeper.exit are: a stuck keeper logged as
    // worker.timeout (with worker_id 0) sent whoever greps for keeper lines looking elsewhere.
    const outgoing = draining ? undefined : outgoingFor(c, this.o.reloadingTo());
    this.o.log.error(
      { event: `${c.role}.timeout`, code: 'CORRAL_ERR_WORKER_TIMEOUT', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, seconds_silent: seconds, draining, ...(outgoing !== undefined ? { replaced_by_reload: outgoing } : {}) },
      `${c.role} ${c.id} (pid ${c.handle.pid}) silent for ${seconds} s, past CORRAL_TIMEOUT: its event loop is blocked (a busy loop, a long synchronous call: ${where}) or the process is stopped; ${draining ? 'killing it' : this.killedAnd(outgoing)}`,
    );
    this.killWithStack(c);
  }

  /**
   * A booting child silent since its fork: its own code never ran as far as the first beat. Its
   * stack is asked for all the same: a worker starts its probe in runWorker just before its first
   * beat, so it seldom answers (a keeper starts its probe after its first beat: never).
   */
  private killNeverBeat(c: ChildRecord, silentMs: number, judged: 'boot-timeout' | 'task-limit'): void {
    const seconds = Math.round(silentMs / 100) / 10;
    c.sigkillAt = undefined;
    c.bootError = { code: 'CORRAL_ERR_WORKER_TIMEOUT', message: `no beat in ${seconds} s since it was forked${NEVER_BEAT_GUESS}` };
    c.state = 'killing';
    const past =
      judged === 'task-limit'
        ? "past CORRAL_TIMEOUT, with a fork or thread refused at the cgroup's process and thread limit since it was forked (pids.events)"
        : 'past the boot timeout';
    const outgoing = outgoingFor(c, this.o.reloadingTo());
    this.o.log.error(
      { event: `${c.role}.timeout`, code: 'CORRAL_ERR_WORKER_TIMEOUT', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, seconds_silent: seconds, draining: false, never_beat: true, ...(outgoing !== undefined ? { replaced_by_reload: outgoing } : {}) },
      `${c.role} ${c.id} (pid ${c.handle.pid}) has not beaten once in ${seconds} s since it was forked, ${past}: node or corral's own modules did not finish starting; ${this.killedAnd(outgoing)}`,
    );
    this.killWithStack(c);
  }

  /**
   * A worker killed silent while booting: its boot error names where in the app it blocked, as
   * worker.stack shows it, since boot.exhausted and `corral start` say the boot error alone. The
   * guess stays last (child-exits.ts replaces it with the cgroup's limit when that is the cause).
   */
  private placeSilentBoot(c: ChildRecord, frames: readonly StackFrame[]): void {
    const e = c.bootError;
    if (c.role !== 'worker' || e?.code !== 'CORRAL_ERR_WORKER_TIMEOUT' || !e.message.endsWith(SILENT_BOOT_GUESS)) return;
    const at = appFrameOf(frames);
    if (at === undefined) return;
    c.bootError = { ...e, message: `${e.message.slice(0, -SILENT_BOOT_GUESS.length)}, at ${at}${SILENT_BOOT_GUESS}` };
  }

  /** What follows the kill of a child not told to stop: its replacement, or, of a worker a reload replaces (`outgoing`), none. */
  private killedAnd(outgoing: number | undefined): string {
    return outgoing === undefined ? 'killing and replacing it' : `killing it, ${notReplacedWords(outgoing)}`;
  }

  /**
   * SIGKILL, after logging the child's JavaScript stack when CORRAL_STUCK_STACKS asks for it.
   * `startingStop`: the child had not beaten once and was told to stop for this reason: its stack
   * is where it was starting, not where it is stuck.
   */
  private killWithStack(c: ChildRecord, startingStop?: string): void {
    const probe = this.probes.get(c.id);
    const kill = () => c.handle.kill('SIGKILL');
    // Every child forked has a probe (a failed fork has none); CORRAL_STUCK_STACKS says whether to ask it.
    if (!this.o.stuckStacks() || !probe) {
      kill();
      return;
    }
    void captureStuckStack(probe, STACK_CAPTURE_MS).then(
      (frames) => {
        if (frames && frames.length > 0 && startingStop !== undefined) {
          this.o.log.warn({ event: `${c.role}.stack`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, never_beat: true, drain_reason: startingStop, frames }, `stack of ${c.role} ${c.id}, still starting when told to stop (${startingStop}):\n${formatStack(frames)}`);
        } else if (frames && frames.length > 0) {
          this.placeSilentBoot(c, frames);
          this.o.log.error({ event: `${c.role}.stack`, code: 'CORRAL_ERR_WORKER_TIMEOUT', worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, frames }, `stack of stuck ${c.role} ${c.id}:\n${formatStack(frames)}`);
        } else {
          this.o.log.warn({ event: `${c.role}.stack`, worker_id: c.id, worker_pid: c.handle.pid, generation: c.generation, frames: null }, `could not capture the stack of ${c.role} ${c.id}`);
        }
        kill();
      },
      kill,
    );
  }
}
