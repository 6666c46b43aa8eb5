/**
 * Alerts once per change of state: budgets passing their warn threshold or running out, circuit
 * breakers opening, queues going Warn or Critical, sources going stale — and each coming back.
 * The last state alerted on is one record in the store, changed by compare-and-set, so watchers
 * that overlap (two schedules, two workers) report each change exactly once between them.
 */
import { formatAge } from '../freshness';
import { updateRecord } from '../stores/update';
import type { StateStore } from '../stores/types';
import type { States } from './collect';

export type AlertKind = 'budget' | 'breaker' | 'queue' | 'freshness';
export const ALERT_KINDS: readonly AlertKind[] = ['budget', 'breaker', 'queue', 'freshness'];

export interface StateChange {
	kind: AlertKind;
	/** Stable id: kind and name (and scope key for budgets). */
	id: string;
	name: string;
	state: string;
	/** null: first seen (then only states that are not fine alert). */
	previousState: string | null;
	severity: 'critical' | 'warning' | 'resolved';
	message: string;
	/** What the state is judged on (spent and limit, depth, age …). */
	details: Record<string, unknown>;
	at: string;
}

const ALERTS_NS = 'metrics:alerts';
const ALERTS_KEY = 'last';
const KEEP_MS = 90 * 86_400_000;
/** The state each kind is fine in: a change to it resolves the alert. */
const FINE: Record<AlertKind, string> = {
	budget: 'within',
	breaker: 'closed',
	queue: 'normal',
	freshness: 'fresh',
};
const CRITICAL = new Set(['exceeded', 'open', 'critical', 'unknown', 'stale']);

interface Current {
	kind: AlertKind;
	id: string;
	name: string;
	state: string;
	describe: (previous: string | null) => string;
	details: Record<string, unknown>;
}

const pct = (n: number) => `${(Math.round(n * 10) / 10).toFixed(1)} %`;
const q = (s: string) => JSON.stringify(s.length > 120 ? `${s.slice(0, 117)}...` : s);

function currentStates(states: States, kinds: ReadonlySet<AlertKind>): Current[] {
	const out: Current[] = [];
	if (kinds.has('budget'))
		for (const b of states.budgets) {
			const name = b.scopeKey ? `${b.name} (${b.scopeKey})` : b.name;
			const limit = b.limitUsd ? `${b.limitUsd} USD` : `${b.limitTokens} tokens`;
			out.push({
				kind: 'budget',
				id: `budget:${JSON.stringify([b.name, b.scopeKey])}`,
				name,
				state: b.status,
				describe: () =>
					b.status === 'warn'
						? `Budget ${q(name)} passed its warn threshold: ${pct(b.percent)} of ${limit} this ${b.period}`
						: b.status === 'exceeded'
							? `Budget ${q(name)} is spent: ${pct(b.percent)} of ${limit} this ${b.period}; AI Calls under it are refused until ${b.resetAt ? new Date(b.resetAt).toISOString() : 'room comes back'}`
							: `Budget ${q(name)} is within its limit again: ${pct(b.percent)} of ${limit}`,
				details: {
					budget: b.name,
					scopeKey: b.scopeKey,
					period: b.period,
					percent: Math.round(b.percent * 10) / 10,
					spentUsd: b.spentUsd,
					limitUsd: b.limitUsd || null,
					spentTokens: b.spentTokens,
					limitTokens: b.limitTokens || null,
					resetAt: b.resetAt === null ? null : new Date(b.resetAt).toISOString(),
				},
			});
		}
	if (kinds.has('breaker'))
		for (const b of states.breakers) {
			// half-open is open still, trying one probe: alerting on it would only add noise
			const state = b.state === 'half-open' ? 'open' : b.state;
			out.push({
				kind: 'breaker',
				id: `breaker:${b.name}`,
				name: b.name,
				state,
				describe: () =>
					state === 'open'
						? `Circuit breaker ${q(b.name)} opened after repeated failures: AI Calls to it fail fast (circuit_open) until a probe succeeds`
						: `Circuit breaker ${q(b.name)} closed again: a probe call succeeded`,
				details: { breaker: b.name, breakerState: b.state },
			});
		}
	if (kinds.has('queue'))
		for (const { value: v } of states.queues) {
			const name = `${v.source} ${v.queue}`;
			out.push({
				kind: 'queue',
				id: `queue:${v.source}:${v.queue}`,
				name,
				state: v.status,
				describe: () =>
					v.status === 'normal'
						? `Queue ${q(name)} is back to normal (depth ${v.depth})`
						: v.status === 'unknown'
							? `Queue ${q(name)} could not be read (${v.reason})`
							: `Queue ${q(name)} is ${v.status}: ${v.reason} (depth ${v.depth ?? '?'}${v.oldestAgeMs !== null ? `, oldest ${formatAge(v.oldestAgeMs)}` : ''})`,
				details: {
					source: v.source,
					queue: v.queue,
					depth: v.depth,
					oldestAgeMs: v.oldestAgeMs,
					reason: v.reason,
					checkedAt: v.checkedAt,
				},
			});
		}
	if (kinds.has('freshness'))
		for (const { value: v } of states.freshness)
			out.push({
				kind: 'freshness',
				id: `freshness:${v.source}`,
				name: v.source,
				state: v.status,
				describe: () =>
					v.status === 'fresh'
						? `Source ${q(v.source)} is fresh again`
						: v.ageMs !== null
							? `Source ${q(v.source)} is ${v.status}: last updated ${formatAge(v.ageMs)} ago (${v.reason})`
							: `Source ${q(v.source)} is ${v.status}: ${v.reason}`,
				details: {
					source: v.source,
					ageMs: v.ageMs,
					reason: v.reason,
					items: v.items,
					checkedAt: v.checkedAt,
				},
			});
	return out;
}

/**
 * The changes since the last watch, recorded so that no other watch reports them again. A thing
 * seen for the first time alerts only when it is not fine.
 */
export async function stateChanges(
	store: StateStore,
	states: States,
	kinds: ReadonlySet<AlertKind>,
	now = Date.now(),
): Promise<StateChange[]> {
	const current = currentStates(states, kinds);
	let changes: StateChange[] = [];
	await updateRecord<Record<string, string>>(
		store,
		ALERTS_NS,
		ALERTS_KEY,
		(last) => {
			const previous = last ?? {};
			const next: Record<string, string> = {};
			// what this watch does not look at (other kinds, things not listed now) stays as it was
			for (const [id, state] of Object.entries(previous))
				if (!kinds.has(id.slice(0, id.indexOf(':')) as AlertKind)) next[id] = state;
			changes = [];
			for (const c of current) {
				next[c.id] = c.state;
				const before = previous[c.id] ?? null;
				if (before === c.state) continue;
				if (before === null && c.state === FINE[c.kind]) continue;
				changes.push({
					kind: c.kind,
					id: c.id,
					name: c.name,
					state: c.state,
					previousState: before,
					severity:
						c.state === FINE[c.kind] ? 'resolved' : CRITICAL.has(c.state) ? 'critical' : 'warning',
					message: c.describe(before),
					details: c.details,
					at: new Date(now).toISOString(),
				});
			}
			const unchanged =
				!changes.length && Object.keys(next).length === Object.keys(previous).length;
			return unchanged ? undefined : { value: next, ttlMs: KEEP_MS };
		},
		{ what: 'the alert states' },
	);
	return changes;
}
