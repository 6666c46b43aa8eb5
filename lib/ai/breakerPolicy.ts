/**
 * The circuit breaker as a policy: one breaker per target (its name, or Base URL, and model),
 * asked before each attempt and told its outcome after. Only transient failures count against
 * the service; an attempt that never reached it (refused by a later policy, blocked by n8n's
 * egress rules, cancelled) counts for nothing.
 */
import { CircuitBreaker, type BreakerOptions } from '../breaker';
import type { StateStore } from '../stores/types';
import type { Target } from './call';
import { AiCallError, TRANSIENT } from './failure';
import type { AiPolicy } from './policy';

export interface BreakerPolicyOptions {
	store: StateStore;
	/** The breaker's name (per model); default: the target's Base URL. */
	name?: string;
	options: BreakerOptions;
}

export function breakerPolicy({ store, name, options }: BreakerPolicyOptions): AiPolicy {
	const breakers = new Map<string, CircuitBreaker>();
	const nameOf = (t: Target) => (name ? `${name}:${t.model}` : `${t.baseUrl}:${t.model}`);
	const breakerFor = (key: string) => {
		let breaker = breakers.get(key);
		if (!breaker) breakers.set(key, (breaker = new CircuitBreaker(store, key, options)));
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
