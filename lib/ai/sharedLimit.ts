/**
 * A named limit every AI Call that names it shares, across executions and workers, through the
 * state store: requests and tokens per minute, calls in flight, and the provider's Retry-After as
 * a cooldown for everyone.
 *
 * Rates are a GCRA (one "theoretical arrival time" per rate, changed by compare-and-set): each call
 * reserves its start time, first come first served, so calls are paced evenly and no more than the
 * limit start in any 60 s (tokens: at most the limit plus one call's estimate). A caller never
 * queues further ahead than its maximum wait, which bounds how long a busy workflow can keep
 * others waiting. Calls in flight are slots claimed with a lease: a crashed worker's slot comes
 * back when its lease ends.
 */
import { sleep } from '../backoff';
import type { StateStore } from '../stores/types';
import { RecordContention, updateRecord } from '../stores/update';
import { AiCallError } from './failure';

export interface SharedLimitSettings {
	name: string;
	/** 0: no limit. */
	requestsPerMinute: number;
	tokensPerMinute: number;
	maxInFlight: number;
	/** Longest a call waits for capacity before it fails as rate_limited. */
	maxWaitMs: number;
}

/** Our own limit said no: the call was not made, and retrying at once would only wait again. */
export class LimitRefusal extends AiCallError {
	constructor(
		/** The shared limit's name, on the failed item as error.sharedLimit. */
		readonly limit: string,
		message: string,
		retryAfterMs: number,
	) {
		super('rate_limited', message, undefined, Math.max(1, Math.round(retryAfterMs)));
	}
}

/** What a caller holds while its call runs. */
export interface Admission {
	/** Gives the slot back and settles the token estimate with what the call used. */
	release(outcome: { usedTokens?: number; error?: AiCallError }): Promise<void>;
	/** How long the call waited for capacity (ms). */
	waitedMs: number;
}

interface RateState {
	/** Theoretical arrival times (epoch ms) of the next request and of the next token. */
	requests: number;
	tokens: number;
}

/**
 * A minute's allowance is spread over 61 s: between our reservation and the request reaching the
 * provider lie a slot claim, the network and an event loop, and a second of such jitter must not
 * put more than the limit into any minute the provider counts (measured: 603 of 600 without it).
 */
const PACE_MS = 61_000;

const RATE_KEY = 'rate';
const COOLDOWN_KEY = 'cooldown';
/** Kept this long after the last call: long enough to pace, short enough to leave nothing behind. */
const STATE_TTL_MS = 3_600_000;

export class SharedLimit {
	private readonly namespace: string;

	constructor(
		private readonly store: StateStore,
		private readonly settings: SharedLimitSettings,
		private readonly now: () => number = Date.now,
		private readonly random: () => number = Math.random,
	) {
		this.namespace = `limit:${settings.name}`;
	}

	/**
	 * Waits for capacity for a call of about `estimatedTokens`, holding the slot for at most
	 * `leaseMs` (a crashed holder's slot comes back then). Throws LimitRefusal when there is none
	 * within the maximum wait, and the signal's reason when the execution is cancelled.
	 */
	async admit(estimatedTokens: number, leaseMs: number, signal?: AbortSignal): Promise<Admission> {
		const started = this.now();
		const deadline = started + this.settings.maxWaitMs;
		const refuse = (what: string, retryAt: number) =>
			new LimitRefusal(
				this.settings.name,
				`Shared limit "${this.settings.name}" (ours, not the provider's): ${what}; no capacity within ${Math.round(
					this.settings.maxWaitMs / 1000,
				)} s, so no call was made`,
				retryAt - this.now(),
			);

		const cooldown = await this.store.get<{ until: number }>(this.namespace, COOLDOWN_KEY);
		if (cooldown && cooldown.until > this.now()) {
			if (cooldown.until > deadline)
				throw refuse('paused until the provider’s Retry-After has passed', cooldown.until);
			await sleep(cooldown.until - this.now(), signal);
		}

		const tokens = Math.max(0, Math.ceil(estimatedTokens));
		const reserved = await this.reserve(tokens, deadline);
		if ('refusedUntil' in reserved)
			throw refuse(
				`${reserved.what} already taken for the next ${Math.round(this.settings.maxWaitMs / 1000)} s`,
				reserved.refusedUntil,
			);
		if (reserved.at > this.now()) await sleep(reserved.at - this.now(), signal);

		let slot: { key: string; token: string } | undefined;
		if (this.settings.maxInFlight > 0) {
			for (;;) {
				slot = await this.claimSlot(leaseMs);
				if (slot) break;
				if (this.now() >= deadline)
					throw refuse(
						`all ${this.settings.maxInFlight} calls in flight are taken`,
						this.now() + 1000,
					);
				// jittered polls: no order among waiters, but no one waits on a fixed beat either
				await sleep(Math.min(deadline - this.now(), 25 + this.random() * 100), signal);
			}
		}

		return {
			waitedMs: this.now() - started,
			release: async ({ usedTokens, error }) => {
				const work: Array<Promise<unknown>> = [];
				if (slot) work.push(this.store.release(this.namespace, slot.key, { token: slot.token }));
				if (this.settings.tokensPerMinute > 0 && usedTokens !== undefined && usedTokens !== tokens)
					work.push(this.settle(usedTokens - tokens));
				if (
					error?.failureClass === 'rate_limited' &&
					!(error instanceof LimitRefusal) &&
					error.retryAfterMs
				)
					work.push(this.pause(error.retryAfterMs));
				await Promise.all(work);
			},
		};
	}

	/** The provider asked everyone to wait: the named limit pauses until then. */
	async pause(retryAfterMs: number): Promise<void> {
		const until = this.now() + retryAfterMs;
		const current = await this.store.get<{ until: number }>(this.namespace, COOLDOWN_KEY);
		if (current && current.until >= until) return;
		await this.store.set(this.namespace, COOLDOWN_KEY, { until }, retryAfterMs);
	}

	/**
	 * Reserves the earliest start both rates allow, if it is before the deadline. The callers of
	 * one process take turns on the record (updateRecord), so only other processes contend for it.
	 */
	private async reserve(
		tokens: number,
		deadline: number,
	): Promise<{ at: number } | { refusedUntil: number; what: string }> {
		const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.settings;
		if (!(rpm > 0) && !(tpm > 0)) return { at: this.now() };
		let refused: { refusedUntil: number; what: string } | undefined;
		let at = 0;
		const written = await this.updateRate(true, true, (state) => {
			const now = this.now();
			const byRequests = rpm > 0 ? Math.max(state.requests, now) : now;
			const byTokens = tpm > 0 ? Math.max(state.tokens, now) : now;
			at = Math.max(byRequests, byTokens);
			if (at > deadline) {
				refused = {
					refusedUntil: at,
					what:
						byRequests >= byTokens
							? `its ${rpm} requests per minute are`
							: `its ${tpm} tokens per minute are`,
				};
				return undefined;
			}
			return {
				requests: rpm > 0 ? at + PACE_MS / rpm : 0,
				tokens: tpm > 0 ? at + (tokens * PACE_MS) / tpm : 0,
			};
		});
		if (refused) return refused;
		if (!written)
			throw new Error(`shared limit "${this.settings.name}": too many writers at once, try again`);
		return { at };
	}

	/** Moves the token rate by what the estimate missed (negative: gives back what was not used). */
	private async settle(deltaTokens: number): Promise<void> {
		const { tokensPerMinute: tpm } = this.settings;
		await this.updateRate(false, false, (state) => ({
			...state,
			tokens: state.tokens + (deltaTokens * PACE_MS) / tpm,
		}));
	}

	/**
	 * Read, decide, compare-and-set the rate record (updateRecord). `decide` returning undefined
	 * ends it without a write. Without `create`, an absent record is left absent. True when
	 * written; false too when every try lost to other writers. Reservations take turns within the
	 * process; settling does not wait for them.
	 */
	private async updateRate(
		create: boolean,
		takeTurns: boolean,
		decide: (state: RateState) => RateState | undefined,
	): Promise<boolean> {
		try {
			const written = await updateRecord<RateState>(
				this.store,
				this.namespace,
				RATE_KEY,
				(value) => {
					if (!value && !create) return undefined;
					const next = decide(value ?? { requests: 0, tokens: 0 });
					return next && { value: next, tag: 'rate', ttlMs: STATE_TTL_MS };
				},
				{ takeTurns, random: this.random, what: `shared limit "${this.settings.name}"` },
			);
			return written !== undefined;
		} catch (error) {
			if (error instanceof RecordContention) return false;
			throw error;
		}
	}

	/** One free slot of the in-flight limit, tried from a random start so waiters spread. */
	private async claimSlot(leaseMs: number): Promise<{ key: string; token: string } | undefined> {
		const n = this.settings.maxInFlight;
		const first = Math.floor(this.random() * n);
		for (let k = 0; k < n; k++) {
			const key = `slot:${(first + k) % n}`;
			const { outcome, record } = await this.store.claim(this.namespace, key, { leaseMs });
			if (outcome === 'claimed') return { key, token: record.token };
		}
		return undefined;
	}
}

/** A call's worst case in tokens: the prompt (about 4 characters a token) plus the output cap. */
export function estimateTokens(
	messages: Array<{ content: string; toolCalls?: Array<{ name: string; arguments: string }> }>,
	maxTokens: number,
	tools?: unknown[],
): number {
	let chars = tools?.length ? JSON.stringify(tools).length : 0;
	for (const m of messages) {
		chars += m.content.length;
		for (const c of m.toolCalls ?? []) chars += c.name.length + c.arguments.length;
	}
	return Math.ceil(chars / 4) + maxTokens;
}
