/**
 * Circuit breaker with its state in a StateStore, so every n8n worker sees the same breaker.
 *
 *   closed ──(N consecutive failures, or failure rate ≥ R over a window with ≥ M calls)──▶ open
 *   open ──(cooldown over)──▶ half-open: exactly one probe call is let through (an atomic claim)
 *   half-open ──(probe succeeds)──▶ closed      half-open ──(probe fails)──▶ open again
 *
 * Keys in the store, under the namespace `breaker:<name>`: `open` ({openedAt, until}); `streak`
 * (when the current run of failures began: a success or an opening starts a new one) and the
 * counter `consecutive:<streak>`; counters `calls:<window>` and `fails:<window>` per aligned window;
 * the `probe` claim. Counters cannot be reset in a store, so a reset starts a new key instead.
 */
import type { StateStore } from './stores/types';

export interface BreakerOptions {
	/** Consecutive failures that open the breaker (0: off). */
	consecutiveFailures: number;
	/** Failure share (0–1) over the window that opens it (0: off). */
	failureRate: number;
	/** Calls the window must hold before the failure rate counts. */
	minCalls: number;
	windowMs: number;
	cooldownMs: number;
	now?: () => number;
}

export type BreakerVerdict =
	| { allowed: true; probe: boolean }
	| { allowed: false; retryAfterMs: number };

interface OpenState {
	openedAt: number;
	until: number;
}

/** Long enough to outlive any cooldown; the state is deleted when the breaker closes. */
const STATE_TTL_MS = 7 * 86_400_000;

export class CircuitBreaker {
	private readonly ns: string;
	private readonly now: () => number;

	constructor(
		private readonly store: StateStore,
		name: string,
		private readonly options: BreakerOptions,
	) {
		this.ns = `breaker:${name}`;
		this.now = options.now ?? Date.now;
	}

	async allow(): Promise<BreakerVerdict> {
		const open = await this.store.get<OpenState>(this.ns, 'open');
		if (!open) return { allowed: true, probe: false };
		const now = this.now();
		if (now < open.until) return { allowed: false, retryAfterMs: open.until - now };
		// Half-open: the lease frees the probe slot if the probing worker dies mid-call.
		const claim = await this.store.claim(this.ns, 'probe', {
			leaseMs: Math.max(this.options.cooldownMs, 30_000),
		});
		if (claim.outcome === 'claimed') return { allowed: true, probe: true };
		return { allowed: false, retryAfterMs: Math.max(1000, claim.record.expiresAt - now) };
	}

	/** Gives a half-open probe back unused (its attempt never reached the service). */
	async cancelProbe(): Promise<void> {
		await this.store.release(this.ns, 'probe');
	}

	async record(ok: boolean, probe: boolean): Promise<void> {
		const { store, ns, options } = this;
		const now = this.now();
		const window = Math.floor(now / options.windowMs);
		const calls = await store.increment(ns, `calls:${window}`, options.windowMs * 2);
		if (ok) {
			await this.newStreak(now);
			if (probe) {
				await store.delete(ns, 'open');
				await store.release(ns, 'probe');
			}
			return;
		}
		if (probe) return this.open(now, true);
		const streak = (await store.get<number>(ns, 'streak')) ?? 0;
		const consecutive = await store.increment(ns, `consecutive:${streak}`, STATE_TTL_MS);
		const fails = await store.increment(ns, `fails:${window}`, options.windowMs * 2);
		if (
			(options.consecutiveFailures > 0 && consecutive >= options.consecutiveFailures) ||
			(options.failureRate > 0 && calls >= options.minCalls && fails / calls >= options.failureRate)
		) {
			await this.open(now, false);
		}
	}

	async state(): Promise<'closed' | 'open' | 'half-open'> {
		const open = await this.store.get<OpenState>(this.ns, 'open');
		if (!open) return 'closed';
		return this.now() < open.until ? 'open' : 'half-open';
	}

	private async open(now: number, fromProbe: boolean): Promise<void> {
		// Workers that fail together would each reopen it: keep the first opening's cooldown.
		const current = await this.store.get<OpenState>(this.ns, 'open');
		if (!current || fromProbe || now >= current.until) {
			await this.store.set(
				this.ns,
				'open',
				{ openedAt: now, until: now + this.options.cooldownMs },
				STATE_TTL_MS,
			);
		}
		await this.newStreak(now);
		if (fromProbe) await this.store.release(this.ns, 'probe');
	}

	private async newStreak(now: number): Promise<void> {
		await this.store.set(this.ns, 'streak', now, STATE_TTL_MS);
	}
}
