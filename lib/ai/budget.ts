/**
 * Budgets with a scope and a period, shared by every worker through the state store.
 *
 * Before each attempt its worst case is reserved (a hold) in one versioned record per budget,
 * scope key and period, by compare-and-set (lib/stores/update.ts); after it the hold is replaced
 * by what the attempt really cost. A call is refused when what is spent, what others hold and its
 * own worst case would pass the limit, so workers at once can never overshoot by more than the
 * estimates' error. A hold expires after its time, so a crashed worker's reservation comes back.
 *
 * Periods are calendar hours, days, ISO weeks (from Monday) and months in the budget's time zone
 * (a DST day is 23 or 25 hours), or a rolling window summed from up to 60 sub-buckets.
 */
import { randomBytes } from 'node:crypto';
import { DateTime, IANAZone } from 'luxon';

import { sha256 } from '../hash';
import type { StateStore } from '../stores/types';
import { updateRecord } from '../stores/update';
import { announce, readStatus } from '../metrics/status';
import { AiCallError } from './failure';

export type BudgetScope = 'all' | 'workflow' | 'tag' | 'key';
export type BudgetPeriod = 'hour' | 'day' | 'week' | 'month' | 'rolling';

export interface BudgetSpec {
	name: string;
	period: BudgetPeriod;
	/** IANA name; ignored for rolling windows. */
	timeZone: string;
	/** The rolling window's length. */
	rollingMs?: number;
	/** 0: no USD limit. */
	limitUsd: number;
	/** 0: no token limit. */
	limitTokens: number;
	/** 0..100; 0: no warning. */
	warnPercent: number;
	/** A model without a price: refused where a USD limit is set, or counted by its tokens only. */
	unpriced: 'refuse' | 'countTokens';
}

export interface BudgetUse {
	spec: BudgetSpec;
	/** '' for scope all; else the workflow id, cost tag or key value (any text, any length). */
	scopeKey: string;
}

export interface Amount {
	usd: number;
	tokens: number;
	/** false: no price is known, usd is 0 but not free. */
	priced: boolean;
}

export interface BudgetState {
	name: string;
	scopeKey: string;
	period: BudgetPeriod;
	/** Epoch ms; null for a rolling window. */
	periodStart: number | null;
	/** When room comes back: the period's end, or when a rolling window's oldest spend leaves it. */
	resetAt: number | null;
	spentUsd: number;
	reservedUsd: number;
	spentTokens: number;
	reservedTokens: number;
	limitUsd: number;
	limitTokens: number;
	/** null where no such limit is set. */
	remainingUsd: number | null;
	remainingTokens: number | null;
	/** The largest over the limits set of (spent + reserved) / limit, in percent. */
	percent: number;
	status: 'within' | 'warn' | 'exceeded';
}

export interface BudgetHold {
	/** Replaces the hold by what the attempt cost (more than the estimate is recorded, never refused). */
	settle(actual: Amount): Promise<{ states: BudgetState[]; warnings: BudgetState[] }>;
	/** The attempt was not made: gives the hold back. */
	cancel(): Promise<void>;
}

export type Reservation =
	| { ok: true; hold: BudgetHold; states: BudgetState[]; warnings: BudgetState[] }
	| { ok: false; refusal: BudgetRefusal };

const PERIODS: readonly BudgetPeriod[] = ['hour', 'day', 'week', 'month', 'rolling'];
const DAY_MS = 86_400_000;
/** Records outlive their period this long, for Check Budget and late settles. */
const KEEP_AFTER_MS = 7 * DAY_MS;
/** A rolling window's sub-buckets: its length / 60, at least a second. */
const ROLLING_BUCKETS = 60;
const MIN_BUCKET_MS = 1000;
/**
 * More live holds than this on one record are refused: n8n's concurrency bounds the calls in
 * flight far below it, so only runaway hold times could get there, and the record stays small.
 */
const MAX_HOLDS = 5000;
/** Sums are rounded to a nano-dollar (as costOf is), so 0.1 + 0.2 fits a limit of 0.3. */
const round = (n: number) => Math.round(n * 1e9) / 1e9;
const EPSILON = 1e-9;
/** Longest scope key shown in a message; the store key is a hash, so any length works. */
const SHOWN_KEY = 60;

/** luxon builds an Intl formatter per check (about 0.3 ms): the answers are kept, a bounded few. */
const zones = new Map<string, boolean>();
function knownZone(zone: string): boolean {
	let known = zones.get(zone);
	if (known === undefined) {
		known = IANAZone.isValidZone(zone);
		if (zones.size >= 1000) zones.clear();
		zones.set(zone, known);
	}
	return known;
}

/** The current period per period kind and zone: luxon takes about 50 µs to work one out. */
const periods = new Map<string, { start: number; end: number }>();

/** A configuration mistake, naming the node's parameter label; undefined when the spec is sound. */
export function validateBudgetSpec(spec: BudgetSpec): string | undefined {
	if (typeof spec.name !== 'string' || !spec.name.trim()) return '"Budget Name" is empty';
	if (!PERIODS.includes(spec.period))
		return `"Period" must be one of ${PERIODS.join(', ')}, not ${JSON.stringify(String(spec.period)).slice(0, 40)}`;
	const amount = (value: number, label: string) =>
		typeof value !== 'number' || !Number.isFinite(value) || value < 0
			? `"${label}" must be a number of 0 or more`
			: undefined;
	const bad = amount(spec.limitUsd, 'Limit (USD)') ?? amount(spec.limitTokens, 'Token Limit');
	if (bad) return bad;
	if (!(spec.limitUsd > 0) && !(spec.limitTokens > 0))
		return '"Limit (USD)" and "Token Limit" are both 0: set at least one, else the budget limits nothing';
	if (
		typeof spec.warnPercent !== 'number' ||
		!Number.isFinite(spec.warnPercent) ||
		spec.warnPercent < 0 ||
		spec.warnPercent > 100
	)
		return `"Warn At (%)" must be between 0 and 100 (0: no warning), not ${String(spec.warnPercent)}`;
	if (spec.period === 'rolling') {
		const ms = spec.rollingMs;
		if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
			return '"Window (Hours)" must be more than 0 for a rolling window';
	} else if (typeof spec.timeZone !== 'string' || !spec.timeZone || !knownZone(spec.timeZone)) {
		return `"Time Zone" ${JSON.stringify(String(spec.timeZone)).slice(0, 60)} is not a known IANA time zone (e.g. Europe/Berlin or UTC)`;
	}
	if (spec.unpriced !== 'refuse' && spec.unpriced !== 'countTokens')
		return '"Models Without a Price" must be "refuse" or "countTokens"';
	if (spec.unpriced === 'countTokens' && spec.limitUsd > 0 && !(spec.limitTokens > 0))
		return '"Models Without a Price" counts their tokens, but "Token Limit" is 0: calls to them would be free for this budget. Set a Token Limit, or refuse them';
	return undefined;
}

/** The calendar period that holds `now`, in the spec's time zone; undefined for a rolling window. */
export function periodOf(
	spec: BudgetSpec,
	now: number,
): { start: number; end: number } | undefined {
	if (spec.period === 'rolling') return undefined;
	const id = `${spec.period}\u0000${spec.timeZone}`;
	const cached = periods.get(id);
	if (cached && cached.start <= now && now < cached.end) return { ...cached };
	const at = DateTime.fromMillis(now, { zone: spec.timeZone });
	if (!at.isValid) throw new Error(`budget "${spec.name}": unknown time zone ${spec.timeZone}`);
	// luxon's week is the ISO week (Monday) unless locale weeks are asked for
	const start = at.startOf(spec.period);
	const end = start.plus({ [`${spec.period}s`]: 1 });
	const period = { start: start.toMillis(), end: end.toMillis() };
	if (periods.size >= 1000) periods.clear();
	periods.set(id, period);
	return { ...period };
}

/** Our own budget said no: the call was not made. */
export class BudgetRefusal extends AiCallError {
	constructor(
		message: string,
		/** The budget as it was when it refused (on the failed item). */
		readonly budget: BudgetState,
		retryAfterMs?: number,
	) {
		super(
			'budget_exceeded',
			message,
			undefined,
			retryAfterMs === undefined ? undefined : Math.max(1, Math.round(retryAfterMs)),
		);
	}
}

/** One hold: [usd, tokens, until (epoch ms)]. */
type HoldEntry = [number, number, number];
/** A rolling window's sub-bucket: [start (epoch ms), usd, tokens]. */
type Bucket = [number, number, number];

/** What one record holds (short, since every write rewrites it). */
interface BudgetRecord {
	/** The scope key as given, for Check Budget and the stored record's readers. */
	scopeKey: string;
	/** Calendar period start; null for rolling. */
	start: number | null;
	/** Calendar spend. */
	usd: number;
	tokens: number;
	/** Rolling spend, oldest first. */
	buckets: Bucket[];
	holds: Record<string, HoldEntry>;
	/** When the warning was reported (epoch ms): once per period, or per window length for rolling. */
	warnedAt: number | null;
	/** How far actual costs passed their estimates in total: the estimates' error. */
	overUsd: number;
	overTokens: number;
	/**
	 * The smallest call refused for lack of room this period: while less than it is left, the
	 * budget reads as exceeded (strict reservations keep spend under the limit, never at 100 %).
	 */
	refused?: [usd: number, tokens: number] | null;
}

function without(holds: Record<string, HoldEntry>, id: string): Record<string, HoldEntry> {
	const rest = { ...holds };
	delete rest[id];
	return rest;
}

const clean = (n: number) => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);

/** What counts against a budget: an unpriced amount has no USD. */
function counted(amount: Amount): { usd: number; tokens: number } {
	return { usd: amount.priced ? clean(amount.usd) : 0, tokens: clean(amount.tokens) };
}

const bucketMsOf = (spec: BudgetSpec) =>
	Math.max(MIN_BUCKET_MS, Math.ceil((spec.rollingMs ?? 0) / ROLLING_BUCKETS));

interface Located {
	namespace: string;
	key: string;
	periodStart: number | null;
	periodEnd: number | null;
	/** The record's time to live from now. */
	ttlMs: number;
}

/** Plain keys stay readable in the store; anything else (long, odd characters) is hashed. */
const SAFE_KEY = /^[A-Za-z0-9._-]{0,64}$/;

function locate(spec: BudgetSpec, scopeKey: string, now: number): Located {
	const scope = SAFE_KEY.test(scopeKey) ? `k:${scopeKey}` : `h:${sha256(scopeKey)}`;
	const namespace = `budget:${spec.name}`;
	const period = periodOf(spec, now);
	if (!period) {
		const windowMs = Math.ceil(spec.rollingMs ?? 0);
		// the window's length is part of the key: a changed window is a new budget
		return {
			namespace,
			key: `${scope}:rolling:${windowMs}`,
			periodStart: null,
			periodEnd: null,
			ttlMs: windowMs + bucketMsOf(spec) + KEEP_AFTER_MS,
		};
	}
	return {
		namespace,
		key: `${scope}:${spec.period}:${spec.timeZone}:${period.start}`,
		periodStart: period.start,
		periodEnd: period.end,
		ttlMs: period.end - now + KEEP_AFTER_MS,
	};
}

const emptyRecord = (scopeKey: string, start: number | null): BudgetRecord => ({
	scopeKey,
	start,
	usd: 0,
	tokens: 0,
	buckets: [],
	holds: {},
	warnedAt: null,
	overUsd: 0,
	overTokens: 0,
	refused: null,
});

/** Whether what is left is less than the smallest call this period refused. */
function tooLittleLeft(
	spec: BudgetSpec,
	refused: BudgetRecord['refused'],
	spentUsd: number,
	reservedUsd: number,
	usedTokens: number,
): boolean {
	if (!refused) return false;
	const usdShort =
		spec.limitUsd > 0 && round(spentUsd + reservedUsd + refused[0]) > spec.limitUsd + EPSILON;
	const tokensShort = spec.limitTokens > 0 && usedTokens + refused[1] > spec.limitTokens;
	return usdShort || tokensShort;
}

/** The record without expired holds and buckets that left the window. */
function live(record: BudgetRecord, spec: BudgetSpec, now: number): BudgetRecord {
	const holds: Record<string, HoldEntry> = {};
	for (const [id, hold] of Object.entries(record.holds ?? {})) if (hold[2] > now) holds[id] = hold;
	let buckets = record.buckets ?? [];
	if (spec.period === 'rolling') {
		const from = now - (spec.rollingMs ?? 0);
		const width = bucketMsOf(spec);
		// a bucket counts while any of it is in the window: never less than was spent
		buckets = buckets.filter((b) => b[0] + width > from);
	}
	return { ...emptyRecord(record.scopeKey, record.start), ...record, holds, buckets };
}

function stateOf(spec: BudgetSpec, record: BudgetRecord, where: Located): BudgetState {
	let spentUsd = record.usd;
	let spentTokens = record.tokens;
	let resetAt = where.periodEnd;
	if (spec.period === 'rolling') {
		spentUsd = 0;
		spentTokens = 0;
		for (const b of record.buckets) {
			spentUsd += b[1];
			spentTokens += b[2];
		}
		const width = bucketMsOf(spec);
		const window = spec.rollingMs ?? 0;
		const oldest = record.buckets.find((b) => b[1] > 0 || b[2] > 0);
		const holds = Object.values(record.holds);
		resetAt = oldest
			? oldest[0] + width + window
			: holds.length
				? Math.min(...holds.map((h) => h[2]))
				: null;
	}
	let reservedUsd = 0;
	let reservedTokens = 0;
	for (const h of Object.values(record.holds)) {
		reservedUsd += h[0];
		reservedTokens += h[1];
	}
	spentUsd = round(spentUsd);
	reservedUsd = round(reservedUsd);
	const usedUsd = round(spentUsd + reservedUsd);
	const usedTokens = spentTokens + reservedTokens;
	let percent = 0;
	if (spec.limitUsd > 0) percent = Math.max(percent, (usedUsd / spec.limitUsd) * 100);
	if (spec.limitTokens > 0) percent = Math.max(percent, (usedTokens / spec.limitTokens) * 100);
	return {
		name: spec.name,
		scopeKey: record.scopeKey,
		period: spec.period,
		periodStart: where.periodStart,
		resetAt,
		spentUsd,
		reservedUsd,
		spentTokens,
		reservedTokens,
		limitUsd: spec.limitUsd,
		limitTokens: spec.limitTokens,
		remainingUsd: spec.limitUsd > 0 ? Math.max(0, round(spec.limitUsd - usedUsd)) : null,
		remainingTokens: spec.limitTokens > 0 ? Math.max(0, spec.limitTokens - usedTokens) : null,
		percent,
		status:
			percent >= 100 - EPSILON ||
			tooLittleLeft(spec, record.refused, spentUsd, reservedUsd, usedTokens)
				? 'exceeded'
				: spec.warnPercent > 0 && percent >= spec.warnPercent
					? 'warn'
					: 'within',
	};
}

/** True when this state's percent passed the warn threshold and no one reported it yet. */
function dueWarning(spec: BudgetSpec, record: BudgetRecord, state: BudgetState, now: number) {
	if (!(spec.warnPercent > 0) || state.percent < spec.warnPercent) return false;
	if (record.warnedAt === null) return true;
	// a calendar period has a record of its own; a rolling window warns again a window later
	return spec.period === 'rolling' && now - record.warnedAt >= (spec.rollingMs ?? 0);
}

const usd = (n: number) =>
	`$${n < 0.01 && n > 0 ? n.toPrecision(2) : round(n).toFixed(n < 1 ? 4 : 2)}`;
const tokensText = (n: number) => `${Math.round(n).toLocaleString('en-US')} tokens`;

function describeBudget(spec: BudgetSpec, scopeKey: string): string {
	if (!scopeKey) return `Budget "${spec.name}"`;
	const shown = scopeKey.length > SHOWN_KEY ? `${scopeKey.slice(0, SHOWN_KEY - 1)}…` : scopeKey;
	return `Budget "${spec.name}" for ${JSON.stringify(shown)}`;
}

function periodText(spec: BudgetSpec): string {
	if (spec.period !== 'rolling') return `this ${spec.period}`;
	const hours = (spec.rollingMs ?? 0) / 3_600_000;
	return `in the last ${hours >= 1 ? `${round(hours)} h` : `${Math.round((spec.rollingMs ?? 0) / 60_000)} min`}`;
}

/** A budget's id in the status registry: its name and scope key. */
export const budgetStatusId = (use: BudgetUse): string =>
	JSON.stringify([use.spec.name, use.scopeKey]);

export class BudgetBook {
	private readonly now: () => number;
	private readonly random: () => number;

	constructor(
		private readonly store: StateStore,
		options: { now?: () => number; random?: () => number } = {},
	) {
		this.now = options.now ?? Date.now;
		this.random = options.random ?? Math.random;
	}

	/** Lists the budgets in use for the metrics and the dashboard (lib/metrics/status.ts). */
	announce(uses: BudgetUse[], warn?: (message: string) => void): void {
		for (const use of uses)
			announce(this.store, 'budget', budgetStatusId(use), use, warn, this.now());
	}

	/** The budgets announced lately, each with its state now. */
	async announced(): Promise<BudgetState[]> {
		const entries = await readStatus<BudgetUse>(this.store, 'budget', this.now());
		const states = await Promise.allSettled(entries.map(async (e) => await this.check(e.value)));
		return states.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
	}

	/**
	 * Holds the estimate in every budget of `uses`, or in none: a refusal by one gives back what
	 * the others held. Holds expire after holdMs.
	 */
	async reserve(uses: BudgetUse[], estimate: Amount, holdMs: number): Promise<Reservation> {
		const distinct = new Map<string, BudgetUse>();
		for (const use of uses) {
			const problem = validateBudgetSpec(use.spec);
			if (problem) throw new Error(`Budget "${String(use.spec.name)}": ${problem}`);
			distinct.set(JSON.stringify([use.spec.name, use.scopeKey]), use);
		}
		const holdFor = Math.max(1, Math.ceil(clean(holdMs)));
		const id = randomBytes(9).toString('base64url');
		const results = await Promise.allSettled(
			[...distinct.values()].map((use) => this.reserveOne(use, estimate, holdFor, id)),
		);
		const held = results.flatMap((r) => (r.status === 'fulfilled' && r.value.ok ? [r.value] : []));
		const failed = results.find((r) => r.status === 'rejected');
		const refused = results.find(
			(r): r is PromiseFulfilledResult<{ ok: false; refusal: BudgetRefusal }> =>
				r.status === 'fulfilled' && !r.value.ok,
		);
		if (failed || refused) {
			await Promise.all(held.map((h) => this.release(h.use, h.where, id)));
			if (failed) throw (failed as PromiseRejectedResult).reason;
			return refused!.value;
		}
		let ended = false;
		// a second settle would count the spend twice
		const end = (what: string) => {
			if (ended) throw new Error(`budget hold: ${what} after it was settled or cancelled`);
			ended = true;
		};
		const hold: BudgetHold = {
			settle: async (actual) => {
				end('settle');
				const settled = await Promise.all(
					held.map((h) => this.settleOne(h.use, h.where, id, h.estimate, actual)),
				);
				return {
					states: settled.map((s) => s.state),
					warnings: settled.flatMap((s) => (s.warned ? [s.state] : [])),
				};
			},
			cancel: async () => {
				end('cancel');
				await Promise.all(held.map((h) => this.release(h.use, h.where, id)));
			},
		};
		return {
			ok: true,
			hold,
			states: held.map((h) => h.state),
			warnings: held.flatMap((h) => (h.warned ? [h.state] : [])),
		};
	}

	/** The budget's state now, without changing it. */
	async check(use: BudgetUse): Promise<BudgetState> {
		const problem = validateBudgetSpec(use.spec);
		if (problem) throw new Error(`Budget "${String(use.spec.name)}": ${problem}`);
		const now = this.now();
		const where = locate(use.spec, use.scopeKey, now);
		const stored = await this.store.getRecord<BudgetRecord>(where.namespace, where.key);
		const record = live(
			stored?.value ?? emptyRecord(use.scopeKey, where.periodStart),
			use.spec,
			now,
		);
		return stateOf(use.spec, { ...record, scopeKey: use.scopeKey }, where);
	}

	private async reserveOne(
		use: BudgetUse,
		estimate: Amount,
		holdMs: number,
		id: string,
	): Promise<
		| {
				ok: true;
				use: BudgetUse;
				where: Located;
				estimate: { usd: number; tokens: number };
				state: BudgetState;
				warned: boolean;
		  }
		| { ok: false; refusal: BudgetRefusal }
	> {
		const { spec, scopeKey } = use;
		const now0 = this.now();
		const where = locate(spec, scopeKey, now0);
		const amount = counted(estimate);
		const who = describeBudget(spec, scopeKey);
		let refusal: BudgetRefusal | undefined;
		let state: BudgetState | undefined;
		let warned = false;
		await updateRecord<BudgetRecord>(
			this.store,
			where.namespace,
			where.key,
			(value) => {
				const now = this.now();
				const record = live(value ?? emptyRecord(scopeKey, where.periodStart), spec, now);
				const before = stateOf(spec, record, where);
				refusal = this.refusalFor(spec, who, before, estimate, amount, now);
				if (!refusal && Object.keys(record.holds).length >= MAX_HOLDS)
					refusal = new BudgetRefusal(
						`${who}: ${MAX_HOLDS} calls already hold a reservation on it; no call was made`,
						before,
						1000,
					);
				if (refusal) {
					// a call that could fit another time (not an unpriced model, not one larger than the
					// whole limit): remembered, so that Check Budget says Exceeded until there is room
					const roomy = refusal.retryAfterMs !== undefined;
					const smaller =
						!record.refused || amount.usd < record.refused[0] || amount.tokens < record.refused[1];
					if (!roomy || !smaller) return undefined;
					const next: BudgetRecord = {
						...record,
						refused: record.refused
							? [
									Math.min(record.refused[0], amount.usd),
									Math.min(record.refused[1], amount.tokens),
								]
							: [amount.usd, amount.tokens],
					};
					refusal = new BudgetRefusal(
						refusal.message,
						stateOf(spec, next, where),
						refusal.retryAfterMs,
					);
					return { value: next, ttlMs: where.ttlMs, tag: 'budget' };
				}
				const next: BudgetRecord = {
					...record,
					holds: { ...record.holds, [id]: [amount.usd, amount.tokens, now + holdMs] },
				};
				state = stateOf(spec, next, where);
				warned = dueWarning(spec, next, state, now);
				if (warned) next.warnedAt = now;
				return { value: next, ttlMs: Math.max(where.ttlMs, holdMs + DAY_MS), tag: 'budget' };
			},
			{ random: this.random, what: who },
		);
		if (refusal) return { ok: false, refusal };
		return { ok: true, use, where, estimate: amount, state: state!, warned };
	}

	/** Why this estimate does not fit, or undefined when it does. */
	private refusalFor(
		spec: BudgetSpec,
		who: string,
		state: BudgetState,
		estimate: Amount,
		amount: { usd: number; tokens: number },
		now: number,
	): BudgetRefusal | undefined {
		if (!estimate.priced && spec.limitUsd > 0 && spec.unpriced === 'refuse')
			return new BudgetRefusal(
				`${who} refuses models without a known price (it could not count their cost): add the model's price in Options → Price Overrides, or let the budget count their tokens; no call was made`,
				state,
			);
		const retry = (alone: boolean) =>
			alone || state.resetAt === null ? undefined : Math.max(1, state.resetAt - now);
		const when =
			state.resetAt === null ? '' : `; room comes back at ${new Date(state.resetAt).toISOString()}`;
		if (
			spec.limitUsd > 0 &&
			round(state.spentUsd + state.reservedUsd + amount.usd) > spec.limitUsd + EPSILON
		) {
			const alone = amount.usd > spec.limitUsd + EPSILON;
			return new BudgetRefusal(
				`${who}: ${usd(state.remainingUsd ?? 0)} of ${usd(spec.limitUsd)} left ${periodText(spec)}` +
					`${state.reservedUsd > 0 ? ` (${usd(state.reservedUsd)} of it held by calls in flight)` : ''}, ` +
					`and this call may cost up to ${usd(amount.usd)}` +
					`${alone ? ', more than the whole limit' : when}; no call was made`,
				state,
				retry(alone),
			);
		}
		if (
			spec.limitTokens > 0 &&
			state.spentTokens + state.reservedTokens + amount.tokens > spec.limitTokens
		) {
			const alone = amount.tokens > spec.limitTokens;
			return new BudgetRefusal(
				`${who}: ${tokensText(state.remainingTokens ?? 0)} of ${tokensText(spec.limitTokens)} left ${periodText(spec)}` +
					`${state.reservedTokens > 0 ? ` (${tokensText(state.reservedTokens)} of it held by calls in flight)` : ''}, ` +
					`and this call may use up to ${tokensText(amount.tokens)}` +
					`${alone ? ', more than the whole limit' : when}; no call was made`,
				state,
				retry(alone),
			);
		}
		return undefined;
	}

	private async settleOne(
		use: BudgetUse,
		where: Located,
		id: string,
		estimate: { usd: number; tokens: number },
		actual: Amount,
	): Promise<{ state: BudgetState; warned: boolean }> {
		const { spec, scopeKey } = use;
		const amount = counted(actual);
		let state: BudgetState | undefined;
		let warned = false;
		await updateRecord<BudgetRecord>(
			this.store,
			where.namespace,
			where.key,
			(value) => {
				const now = this.now();
				// the spend belongs to the period that held it, even when it settles in the next
				const record = live(value ?? emptyRecord(scopeKey, where.periodStart), spec, now);
				const next: BudgetRecord = {
					...record,
					holds: without(record.holds, id),
					overUsd: round(record.overUsd + Math.max(0, amount.usd - estimate.usd)),
					overTokens: record.overTokens + Math.max(0, amount.tokens - estimate.tokens),
				};
				if (spec.period === 'rolling') {
					const start = Math.floor(now / bucketMsOf(spec)) * bucketMsOf(spec);
					const same = next.buckets.find((b) => b[0] === start);
					next.buckets = same
						? next.buckets.map(
								(b): Bucket =>
									b === same ? [start, round(b[1] + amount.usd), b[2] + amount.tokens] : b,
							)
						: // hosts' clocks differ a little: keep the buckets in order all the same
							[...next.buckets, [start, amount.usd, amount.tokens] as Bucket].sort(
								(a, b) => a[0] - b[0],
							);
				} else {
					next.usd = round(record.usd + amount.usd);
					next.tokens = record.tokens + amount.tokens;
				}
				state = stateOf(spec, next, where);
				warned = dueWarning(spec, next, state, now);
				if (warned) next.warnedAt = now;
				return { value: next, ttlMs: where.ttlMs, tag: 'budget' };
			},
			{ random: this.random, what: describeBudget(spec, scopeKey) },
		);
		return { state: state!, warned };
	}

	/** Drops a hold (a refused sibling, or an attempt not made). */
	private async release(use: BudgetUse, where: Located, id: string): Promise<void> {
		await updateRecord<BudgetRecord>(
			this.store,
			where.namespace,
			where.key,
			(value) => {
				if (!value?.holds?.[id]) return undefined;
				const record = live(value, use.spec, this.now());
				return {
					value: { ...record, holds: without(record.holds, id) },
					ttlMs: where.ttlMs,
					tag: 'budget',
				};
			},
			{ random: this.random, what: describeBudget(use.spec, use.scopeKey) },
		);
	}
}
