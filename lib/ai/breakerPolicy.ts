/**
 * The circuit breaker as a policy: one breaker per target (its name, or Base URL, and model),
 * asked before each attempt and told its outcome after. Only transient failures count against
 * the service; an attempt that never reached it (refused by a later policy, blocked by n8n's
 * egress rules, cancelled) counts for nothing.
 */
import { CircuitBreaker, type BreakerOptions } from '../breaker';
import { announce, readStatus } from '../metrics/status';
import type { StateStore } from '../stores/types';
import type { Target } from './call';
import { AiCallError, TRANSIENT } from './failure';
import type { AiPolicy } from './policy';

export interface BreakerPolicyOptions {
	store: StateStore;
	/** The breaker's name (per model); default: the target's Base URL. */
	name?: string;
	options: BreakerOptions;
	/** A failed announcement for the metrics (the call goes on). */
	warn?: (message: string) => void;
}

/**
 * A breaker's name as the metrics show it: a Base URL without its user info or query (an API key
 * may sit there).
 */
export function breakerLabel(key: string): string {
	return key.replace(/\/\/[^/@]*@/, '//').replace(/\?[^:]*/, '');
}

/** The breakers announced lately with their state now (lib/metrics/status.ts). */
export async function announcedBreakers(
	store: StateStore,
	now = Date.now(),
): Promise<Array<{ name: string; state: 'closed' | 'open' | 'half-open'; seenAt: number }>> {
	const entries = await readStatus<{ key: string }>(store, 'breaker', now);
	const states = await Promise.allSettled(
		entries.map(async (e) => ({
			name: e.id,
			// state() reads the store only: the thresholds play no part
			state: await new CircuitBreaker(store, String(e.value?.key ?? e.id), {
				consecutiveFailures: 0,
				failureRate: 0,
				minCalls: 0,
				windowMs: 1,
				cooldownMs: 0,
				now: () => now,
			}).state(),
			seenAt: e.at,
		})),
	);
	return states.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
}

export function breakerPolicy({ store, name, options, warn }: BreakerPolicyOptions): AiPolicy {
	const breakers = new Map<string, CircuitBreaker>();
	const nameOf = (t: Target) => (name ? `${name}:${t.model}` : `${t.baseUrl}:${t.model}`);
	const breakerFor = (key: string) => {
		let breaker = breakers.get(key);
		if (!breaker) breakers.set(key, (breaker = new CircuitBreaker(store, key, options)));
		// listed for the metrics and the dashboard, which read its state from the store
		announce(store, 'breaker', breakerLabel(key), { key }, warn);
		return breaker;
	};
	return {
		name: 'circuit breaker',
		async enter(_call, { target }) {
			const key = nameOf(target);
			const breaker = breakerFor(key);
			const verdict = await breaker.allow();
			if (!verdict.allowed) {
				return new AiCallError(
					'circuit_open',
					`The circuit breaker for ${target.model} is open after repeated failures; no call was made`,
					undefined,
					verdict.retryAfterMs,
				);
			}
			return {
				release: async ({ error, refused, cancelled }) => {
					if (refused || cancelled || error?.failureClass === 'egress_blocked') {
						// Says nothing about the service; a half-open probe goes back at once, so the next
						// call can probe instead of waiting out the claim's lease.
						if (verdict.probe) await breaker.cancelProbe();
						return;
					}
					// a 400 is an answer: only transient failures say the service is unwell
					await breaker.record(!error || !TRANSIENT.has(error.failureClass), verdict.probe);
				},
			};
		},
	};
}
