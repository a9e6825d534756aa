// The seeds' Locust-style JSON profile (seeds/003), validated field by field. Every problem names
// the field path (users.distribution.plateau.duration), because an operator edits this by hand.

import { readFileSync } from 'node:fs';
import { repeatedKeyPath } from '../json-keys.js';
import { formatExactDuration, parseDuration, parseRate } from './duration.js';
import { inputError } from './exit.js';
import { jsonSyntaxMessage } from './json-syntax.js';
import { maxOf } from './extremes.js';
import { checkMix, type Mix } from './mix.js';

export const PHASE_NAMES = ['ramp_up', 'plateau', 'ramp_down'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface ProfilePhase {
  readonly name: PhaseName;
  readonly durationMs: number;
  /** Users at the end of the phase; the phase moves linearly from the previous phase's end. */
  readonly users: number;
}

/** A Locust-style task: `requests` requests spread over `duration`, picked by `frequency`. */
export interface ProfileAction {
  readonly name: string;
  readonly durationMs: number;
  readonly requests: number;
  readonly perHour: number;
}

export interface Profile {
  /** Distinct users over the whole campaign; informational (the run recycles the users file). */
  readonly totalUsers: number | undefined;
  /** The concurrency ceiling; no phase may ask for more. */
  readonly simultaneous: number;
  readonly phases: readonly ProfilePhase[];
  readonly actions: readonly ProfileAction[];
  readonly distribution: Mix | undefined;
}

/** Upper bound on users in any phase: this is a load generator on the same host, not a botnet. */
export const MAX_PROFILE_USERS = 10_000;

/**
 * Upper bound on a phase's or an action's duration: 30 days, a campaign modelled in real time and
 * run compressed by --time-scale. Unbounded, "99999999999999999999999h" went through as a float far
 * past any exact millisecond and came back as "the run would last 1e+23h11m43.744s".
 */
export const MAX_PROFILE_DURATION_MS = 720 * 3_600_000;

type Json = Record<string, unknown>;

function fail(path: string, problem: string): never {
  throw inputError(`profile field ${path}: ${problem}`);
}

/** A JSON value as the file wrote it: a number too large for a double (1e400) reads as Infinity, which JSON.stringify says "null". */
function shown(value: unknown): string {
  return typeof value === 'number' && !Number.isFinite(value) ? 'a number too large to read' : JSON.stringify(value);
}

function object(value: unknown, path: string, allowed: readonly string[], required: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, `must be an object, got ${shown(value)}`);
  const obj = value as Json;
  for (const key of Object.keys(obj)) {
    if (allowed.length > 0 && !allowed.includes(key)) {
      const where = path === '' ? key : `${path}.${key}`;
      throw inputError(`unknown profile field ${where} (allowed here: ${allowed.join(', ')})`);
    }
  }
  for (const key of required) {
    if (!(key in obj)) fail(path === '' ? key : `${path}.${key}`, 'is required');
  }
  return obj;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `must be an integer from ${min} to ${max}, got ${shown(value)}`);
  }
  return value;
}

function durationField(value: unknown, path: string): number {
  if (typeof value !== 'string') fail(path, `must be a duration string like "10m", got ${shown(value)}`);
  const ms = parseDuration(value, `profile field ${path}`);
  if (ms > MAX_PROFILE_DURATION_MS) fail(path, `must be at most ${formatExactDuration(MAX_PROFILE_DURATION_MS)}, got ${shown(value)}`);
  return ms;
}

/**
 * Phases that say what their names say. Each phase's `users` is the count at its end (the seeds
 * write ramp_up 300, plateau 300, ramp_down 0), and the schedule moves linearly from the phase
 * before: a ramp_down to more users than its plateau ramped up (100 to 300), and a plateau other
 * than where its ramp_up ended jumped at once (300 to 100), both accepted as written.
 */
function checkPhaseShape(phases: readonly ProfilePhase[]): void {
  const rampUp = phases.find((p) => p.name === 'ramp_up');
  const plateau = phases.find((p) => p.name === 'plateau');
  const rampDown = phases.find((p) => p.name === 'ramp_down');
  const atEnd = '(users is the count at the end of each phase)';
  if (rampUp && plateau && plateau.users !== rampUp.users) {
    fail('users.distribution.plateau.users', `${plateau.users} is not the ${rampUp.users} users ramp_up ends with, so the load would ${plateau.users < rampUp.users ? 'drop' : 'jump'} at once when the plateau starts ${atEnd}: write the same count in both`);
  }
  if (rampDown) {
    const before = plateau ?? rampUp;
    if (!before) fail('users.distribution.ramp_down', 'has no ramp_up or plateau before it to ramp down from: give one, or make this phase a plateau');
    if (rampDown.users >= before.users) {
      fail('users.distribution.ramp_down.users', `${rampDown.users} is not below the ${before.users} users of ${before.name}, so this is no ramp down ${atEnd}: give fewer, 0 to end with no users`);
    }
  }
}

function parsePhases(value: unknown): ProfilePhase[] {
  const dist = object(value, 'users.distribution', PHASE_NAMES, []);
  const phases: ProfilePhase[] = [];
  for (const name of PHASE_NAMES) {
    if (!(name in dist)) continue;
    const path = `users.distribution.${name}`;
    const phase = object(dist[name], path, ['duration', 'users'], ['duration', 'users']);
    phases.push({
      name,
      durationMs: durationField(phase.duration, `${path}.duration`),
      users: integer(phase.users, `${path}.users`, 0, MAX_PROFILE_USERS),
    });
  }
  if (phases.length === 0) fail('users.distribution', `needs at least one of ${PHASE_NAMES.join(', ')}`);
  if (phases.every((p) => p.durationMs === 0)) fail('users.distribution', 'every phase lasts 0s');
  return phases;
}

/**
 * The quickest pace (duration ÷ requests) a profile's user may keep. The run is a closed model of
 * people (pacing.ts): "supports N users" means N people doing what people do, and nobody clicks
 * more than about ten times a second, the order of a human reaction time. Faster, a "user" is a
 * flood generator: "1ms" over 1000000 requests made 2 users send 100 requests a second each, and
 * the user count in the verdict meant nothing. A flood test of the server wants --think-time 0
 * with --users, which says what it is.
 */
export const MIN_ACTION_PACE_MS = 100;

function checkPace(path: string, durationMs: number, requests: number): void {
  const pace = durationMs / requests;
  if (pace >= MIN_ACTION_PACE_MS) return;
  const most = Math.floor(durationMs / MIN_ACTION_PACE_MS);
  const fix = [`a duration of at least ${formatExactDuration(requests * MIN_ACTION_PACE_MS)} for ${requests} requests`, ...(most >= 1 ? [`at most ${most} requests over ${formatExactDuration(durationMs)}`] : [])].join(', or ');
  fail(path, `${requests} requests over ${formatExactDuration(durationMs)} leaves each user ${pace < 1 ? 'under 1ms' : formatExactDuration(pace)} between requests, less than the ${formatExactDuration(MIN_ACTION_PACE_MS)} a user of a profile may keep (duration ÷ requests; faster is a flood, not users): give it ${fix}`);
}

function parseActions(value: unknown): ProfileAction[] {
  const actions = object(value, 'actions', [], []);
  const out: ProfileAction[] = [];
  for (const [name, spec] of Object.entries(actions)) {
    const path = `actions.${name}`;
    const action = object(spec, path, ['duration', 'requests', 'frequency'], ['duration', 'requests', 'frequency']);
    const durationMs = durationField(action.duration, `${path}.duration`);
    // Zero would mean no pause between a user's requests at all: a flood, not a profile.
    if (durationMs <= 0) fail(`${path}.duration`, 'must be longer than 0s (the time its requests are spread over)');
    const requests = integer(action.requests, `${path}.requests`, 1, 1_000_000);
    checkPace(path, durationMs, requests);
    if (typeof action.frequency !== 'string') fail(`${path}.frequency`, `must be a rate string like "100/h", got ${shown(action.frequency)}`);
    const perHour = parseRate(action.frequency, `profile field ${path}.frequency`);
    if (perHour <= 0) fail(`${path}.frequency`, 'must be above 0');
    out.push({ name, durationMs, requests, perHour });
  }
  if (out.length === 0) fail('actions', 'is empty; remove it or list at least one action');
  return out;
}

/** Validates a parsed JSON value as a profile. */
export function parseProfile(value: unknown): Profile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw inputError(`the profile must be a JSON object with "users" (and optionally "actions" and "distribution"), got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  const root = object(value, '', ['users', 'actions', 'distribution'], ['users']);
  const users = object(root.users, 'users', ['total', 'simultaneous', 'distribution'], ['distribution']);
  const phases = parsePhases(users.distribution);
  const peak = maxOf(phases.map((p) => p.users));
  const simultaneous = users.simultaneous === undefined ? peak : integer(users.simultaneous, 'users.simultaneous', 1, MAX_PROFILE_USERS);
  const totalUsers = users.total === undefined ? undefined : integer(users.total, 'users.total', 1, Number.MAX_SAFE_INTEGER);
  if (totalUsers !== undefined && totalUsers < simultaneous) fail('users.total', `${totalUsers} is below users.simultaneous (${simultaneous})`);
  for (const phase of phases) {
    if (phase.users > simultaneous) fail(`users.distribution.${phase.name}.users`, `${phase.users} is above users.simultaneous (${simultaneous})`);
  }
  if (peak === 0) fail('users.distribution', 'no phase has any users');
  checkPhaseShape(phases);
  const actions = root.actions === undefined ? [] : parseActions(root.actions);
  let distribution: Mix | undefined;
  if (root.distribution !== undefined) {
    distribution = checkMix(object(root.distribution, 'distribution', [], []), 'profile');
  }
  return { totalUsers, simultaneous, phases, actions, distribution };
}

/**
 * The note said before the load of a profile with no plateau holding users: only a phase that
 * holds its users to its end can show capacity, so such a run can find where the target fails,
 * and without a failure ends "not shown" (exit 2). Accepted, as a ramp to find a breaking point
 * is a fair use; said before the load, so the operator does not learn it from the verdict.
 */
export function noPlateauNote(profile: Profile): string | undefined {
  if (profile.phases.some((p) => p.name === 'plateau' && p.users > 0 && p.durationMs > 0)) return undefined;
  return 'the profile has no plateau holding users (users.distribution.plateau): a ramp proves no capacity, so this run can show where the target fails but not how many users it carries; without a failure its verdict is "not shown" (exit 2)';
}

/** Reads and validates a profile file; JSON syntax errors and field problems name the file. */
export function loadProfile(file: string): Profile {
  let text: string;
  try {
    // A UTF-8 BOM (Windows editors save one) is no part of the JSON: JSON.parse refuses it as an
    // unexpected token it prints invisibly. The users CSV skips one too.
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw inputError(`--profile: cannot read ${file}: ${(err as Error).message}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw inputError(`--profile: ${file} is not valid JSON: ${jsonSyntaxMessage(text, err)}`, err);
  }
  // JSON.parse keeps the last of a key written twice: a phase or an action pasted twice would
  // silently replace the first.
  const repeated = repeatedKeyPath(text);
  if (repeated !== undefined) throw inputError(`--profile ${file}: profile field ${repeated} is given more than once: write it once`);
  try {
    return parseProfile(json);
  } catch (err) {
    if (err instanceof Error) err.message = `--profile ${file}: ${err.message}`;
    throw err;
  }
}
